"""The contract every phiforge script speaks, and the one main() they share.

    python <script>.py --request REQUEST.json --result RESULT.json

A JSON object comes in, a JSON object goes out, logs go to stderr. phiforge runs every script with
PYTHONPATH naming this folder, so scripts import it (and the other shared modules) by name.

run(work, ...) is each script's main(): it reads and checks the request, calls work(request) and
writes what it returns. A bad request (RequestError) exits 2 with one line; a check that fails on
purpose (CheckFailed) exits 1 with one line; anything else exits 1 with Python's traceback, which
lands in the step's log.
"""

import argparse
import json
import logging
import os
import sys


class RequestError(Exception):
    """Bad input: the script reports it as one line and exits with status 2."""


class CheckFailed(Exception):
    """The work ran but its result fails a check the script makes: one line, exit 1, result still written."""

    def __init__(self, message: str, result: dict | None = None):
        super().__init__(message)
        self.result = result


def request_paths(description: str | None = None) -> tuple[str, str]:
    """Parses the command line every script takes: --request REQ.json --result RES.json."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--request", required=True, help="request JSON file")
    parser.add_argument("--result", required=True, help="where to write the result JSON")
    args = parser.parse_args()
    return args.request, args.result


def log_to_stderr(name: str, *, stdout_too: bool = False) -> None:
    """Logs as "<name>: message" on stderr. stdout_too sends file descriptor 1 there as well, for
    libraries that print to stdout (NNCF and optimum log through handlers bound to it, C++ code
    writes to fd 1 directly), so that nothing a converter prints can mix with a caller's output.
    """
    if stdout_too:
        os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format=f"{name}: %(message)s")


def write_stable_json(path, data: dict) -> None:
    """JSON files that become part of a model: sorted keys and a trailing newline keep them byte-stable."""
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def write_result(path: str, result: dict) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(result, handle, indent=1)


def load_request_object(path) -> dict:
    """The request file as a JSON object, or a RequestError that says what is wrong with it."""
    try:
        with open(path, encoding="utf-8") as handle:
            request = json.load(handle)
    except (OSError, ValueError) as err:
        raise RequestError(f"cannot read request {path}: {err}") from err
    if not isinstance(request, dict):
        raise RequestError("the request must be a JSON object")
    return request


def require(request: dict, fields: dict) -> None:
    """Checks that each named field is present with the given type (a type or a tuple of types)."""
    for key, kind in fields.items():
        if key not in request:
            raise RequestError(f"the request has no {key!r}")
        value = request[key]
        # bool is an int in Python; a flag where a count is wanted is still a mistake.
        if not isinstance(value, kind) or (isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,))):
            names = "/".join(each.__name__ for each in (kind if isinstance(kind, tuple) else (kind,)))
            raise RequestError(f"{key!r} must be {names}, got {type(value).__name__}")


def empty_output_dir(request: dict, key: str = "output_dir"):
    """The request's output folder as a Path: it must exist and be empty (every step writes into a fresh one)."""
    from pathlib import Path

    raw = request.get(key)
    if not isinstance(raw, str) or not raw:
        raise RequestError(f"{key!r} must be the path of a folder, got {raw!r}")
    folder = Path(raw)
    if not folder.is_dir():
        raise RequestError(f"{key!r} {folder} does not exist or is not a folder")
    if any(folder.iterdir()):
        raise RequestError(f"{key!r} {folder} is not empty")
    return folder


def run(work, *, name: str, fields: dict | None = None, stable: bool = False, stdout_to_stderr: bool = False) -> None:
    """The main() of every script: request -> work(request) -> result, with the exit codes above.

    fields: request keys that must be present, with their types. stable: write the result with sorted
    keys (it becomes part of a model). stdout_to_stderr: send fd 1 to stderr for chatty libraries.
    """
    request_path, result_path = request_paths(name)
    log_to_stderr(name, stdout_too=stdout_to_stderr)
    write = write_stable_json if stable else write_result
    try:
        request = load_request_object(request_path)
        require(request, fields or {})
        result = work(request)
    except RequestError as err:
        print(f"{name}: error: {err}", file=sys.stderr, flush=True)
        sys.exit(2)
    except CheckFailed as failure:
        if failure.result is not None:
            write(result_path, failure.result)
        print(f"{name}: error: {failure}", file=sys.stderr, flush=True)
        sys.exit(1)
    write(result_path, result)
    sys.exit(0)
