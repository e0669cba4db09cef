"""Reads what an OpenVINO IR says about itself, with OpenVINO's own reader (independent of phiforge's).

Usage: python ir_facts.py <openvino_model.xml>
Prints one JSON line: {"weight_compression": {...} or null, "f16_constants": N, "int4_constants": N, "int8_constants": N}.
"""

import json
import sys

import openvino as ov

model = ov.Core().read_model(sys.argv[1])
compression = None
if model.has_rt_info(["nncf", "weight_compression"]):
    section = model.get_rt_info(["nncf", "weight_compression"])
    compression = {key: str(section[key]) for key in ("mode", "group_size", "ratio")}
types = [op.get_output_element_type(0).get_type_name() for op in model.get_ops() if op.get_type_name() == "Constant"]
print(json.dumps({
    "weight_compression": compression,
    "f16_constants": types.count("f16"),
    "int4_constants": types.count("i4") + types.count("u4"),
    "int8_constants": types.count("i8") + types.count("u8"),
}))
