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
