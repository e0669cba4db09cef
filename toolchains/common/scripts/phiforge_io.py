"""The contract every phiforge script speaks: a JSON request file in, a JSON result file out, logs on
stderr. Scripts in toolchains/<name>/scripts import this module from toolchains/common/scripts.
"""

import argparse
import json


def read_request(description: str | None = None) -> tuple[dict, str]:
    """Parses --request/--result and returns the request and where the result goes."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--request", required=True)
    parser.add_argument("--result", required=True)
    args = parser.parse_args()
    with open(args.request, encoding="utf-8") as handle:
        return json.load(handle), args.result


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
