"""The contract every phiforge script speaks: a JSON request file in, a JSON result file out, logs on
stderr. Scripts in toolchains/<name>/scripts import this module from toolchains/common/scripts.
"""

import argparse
import json
import logging
import os
import sys


def request_paths(description: str | None = None) -> tuple[str, str]:
    """Parses the command line every script takes: --request REQ.json --result RES.json."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--request", required=True, help="request JSON file")
    parser.add_argument("--result", required=True, help="where to write the result JSON")
    args = parser.parse_args()
    return args.request, args.result


def read_request(description: str | None = None) -> tuple[dict, str]:
    """Parses --request/--result and returns the request and where the result goes."""
    request_path, result_path = request_paths(description)
    with open(request_path, encoding="utf-8") as handle:
        return json.load(handle), result_path


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


class RequestError(Exception):
    """Bad input: the script reports it as one line and exits with status 2."""


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
