"""Compiles an OpenVINO IR for the NPU with OpenVINO GenAI and exports the compiled blob, so that
deployment machines import it instead of compiling (which is slow on the device).

Without an NPU, "emulate" runs the same compile/export path through NPUW on the CPU
(NPUW_DEVICES=CPU, NPUW_ONLINE_PIPELINE=NONE), as OpenVINO GenAI's own tests do; the result says so.
Without an NPU and without emulation nothing is compiled and the result says why.

Request: {"model_dir": str, "output_dir": str, "max_prompt_len": int, "min_response_len": int,
          "weights_in_blob": bool, "emulate": bool, "properties": {str: str}}
          (properties: the NPU target's NPU_* / NPUW_* runtime properties, compiled in as well)
Result:  {"compiled": bool, "emulated": bool, "reason": str?, "blob": "openvino_model.blob"?,
          "weightless": bool, "openvino": str, "openvino_genai": str, "npu_driver": str | null,
          "max_prompt_len": int, "min_response_len": int, "compiled_for": {...}?, "compile_s": float?}
compiled_for is what the blob depends on (common/scripts/npu_blob.py): validation imports the blob
only where its own record agrees. The output folder holds the IR's files (hard links, so nothing is
copied) plus the blob; npu.json is the result without compile_s.
"""

import json
import os
import sys
import time

import openvino as ov
import openvino_genai as ov_genai
from npu_blob import compile_properties, record
from phiforge_io import run

BLOB = "openvino_model.blob"


def link_tree(source: str, target: str) -> None:
    for root, _dirs, files in os.walk(source):
        destination = os.path.join(target, os.path.relpath(root, source))
        os.makedirs(destination, exist_ok=True)
        for name in files:
            os.link(os.path.join(root, name), os.path.join(destination, name))


def npu_driver(core: ov.Core) -> str | None:
    if "NPU" not in core.available_devices:
        return None
    try:
        return str(core.get_property("NPU", "NPU_DRIVER_VERSION"))
    except RuntimeError:
        return "unknown"


def compile_blob(request: dict) -> dict:
    core = ov.Core()
    present = "NPU" in core.available_devices
    result = {
        "compiled": False,
        "emulated": False,
        "weightless": not request["weights_in_blob"],
        "openvino": ov.get_version(),
        "openvino_genai": ov_genai.__version__,
        "npu_driver": npu_driver(core),
        "max_prompt_len": request["max_prompt_len"],
        "min_response_len": request["min_response_len"],
    }
    link_tree(request["model_dir"], request["output_dir"])
    if not present and not request["emulate"]:
        result["reason"] = f"device NPU not present (available: {', '.join(core.available_devices)}); no blob compiled"
    else:
        compiled = compile_properties(request["max_prompt_len"], request["min_response_len"], not present, request["properties"])
        properties = compiled | {
            "EXPORT_BLOB": "YES",
            "BLOB_PATH": os.path.join(request["output_dir"], BLOB),
            # OPTIMIZE_SIZE leaves the weights out of the blob; they are then read from the .bin at import.
            "CACHE_MODE": "OPTIMIZE_SPEED" if request["weights_in_blob"] else "OPTIMIZE_SIZE",
        }
        started = time.perf_counter()
        ov_genai.LLMPipeline(request["model_dir"], "NPU", **properties)
        compile_s = time.perf_counter() - started
        result |= {
            "compiled": True,
            "emulated": not present,
            "blob": BLOB,
            "compiled_for": record(core, compiled, result["weightless"], emulated=not present),
            "compile_s": compile_s,
        }
        print(f"compiled {'(emulated) ' if not present else ''}in {result['compile_s']:.1f} s", file=sys.stderr)

    with open(os.path.join(request["output_dir"], "npu.json"), "w", encoding="utf-8") as handle:
        json.dump({key: value for key, value in result.items() if key != "compile_s"}, handle, indent=1)
    return result


FIELDS = {"model_dir": str, "output_dir": str, "max_prompt_len": int, "min_response_len": int, "weights_in_blob": bool, "emulate": bool, "properties": dict}

if __name__ == "__main__":
    run(compile_blob, name="compile_npu", fields=FIELDS)
