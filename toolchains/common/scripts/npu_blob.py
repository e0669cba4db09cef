"""What a compiled NPU blob depends on, recorded where it is compiled and checked where it is loaded.

compile_npu.py writes this record into npu.json as "compiled_for" (and so into the manifest, whose
compile step keeps npu.json as its facts); run_genai.py makes the same record for itself before it
opens an NPU target and imports the shipped blob only when the two agree on every compared field.

A blob is the compiler's output for one device, not a portable model: OpenVINO's NPU plugin keys
its own compiled-model cache on DEVICE_ARCHITECTURE, NPU_DRIVER_VERSION and the compile options
(its "caching properties"), the compiler (NPU_COMPILER_VERSION, in the driver or in OpenVINO) decides
the blob's format, and OpenVINO GenAI bakes the static shapes (MAX_PROMPT_LEN, MIN_RESPONSE_LEN) and
NPUW's partitioning into it. A blob imported anywhere else may be refused, or worse, load and run
with shapes the caller did not ask for; compiling from the IR is always correct, only slower.

Through NPUW on the CPU (emulation) there is no NPU driver or compiler: those fields say "emulated",
and the rest (OpenVINO versions, properties, the CPU's architecture) are checked all the same.

Every value is a string (booleans aside), so the record compares field by field and reads the same
in JSON, in the manifest and in messages.
"""

import openvino as ov
import openvino_genai as ov_genai

EMULATED = "emulated"
# As OpenVINO GenAI's own tests run the NPU pipeline on a machine without one.
EMULATION = {"NPUW_DEVICES": "CPU", "NPUW_ONLINE_PIPELINE": "NONE"}
# Target properties that shape what is compiled: the NPU plugin's (NPU_*) and NPUW's (NPUW_*).
COMPILE_PREFIXES = ("NPU_", "NPUW_")
# Fields of the record that must be equal for a blob to be imported; device_name only informs.
COMPARED = ("openvino", "openvino_genai", "npu_compiler", "npu_driver", "device_architecture", "weightless", "properties")
UNREADABLE = "unreadable"


def compile_properties(max_prompt_len: int, min_response_len: int, emulated: bool, target_properties: dict) -> dict:
    """The properties an NPU pipeline is compiled with (export and import alike, BLOB_PATH and the like aside)."""
    properties = {"MAX_PROMPT_LEN": max_prompt_len, "MIN_RESPONSE_LEN": min_response_len}
    properties |= {key: value for key, value in target_properties.items() if key.startswith(COMPILE_PREFIXES)}
    if emulated:
        properties |= EMULATION
    return properties


def _read(core: ov.Core, device: str, name: str) -> str:
    try:
        return str(core.get_property(device, name))
    except RuntimeError:
        # Not every driver answers every property; such a field never matches (see mismatches()).
        return UNREADABLE


def _compiler_version(core: ov.Core) -> str:
    raw = _read(core, "NPU", "NPU_COMPILER_VERSION")
    # A composite of the major (16 most significant bits) and minor version (OpenVINO's NPU properties).
    return f"{int(raw) >> 16}.{int(raw) & 0xFFFF}" if raw.isdigit() else raw


def record(core: ov.Core, properties: dict, weightless: bool, emulated: bool) -> dict:
    """This process's record: its OpenVINO, the NPU (or the CPU that emulates one) and the compile properties."""
    if emulated:
        device = {
            "npu_compiler": EMULATED,
            "npu_driver": EMULATED,
            "device_architecture": f"{EMULATED} on CPU {_read(core, 'CPU', 'DEVICE_ARCHITECTURE')}",
            "device_name": f"{EMULATED} through NPUW on {_read(core, 'CPU', 'FULL_DEVICE_NAME')}",
        }
    else:
        device = {
            "npu_compiler": _compiler_version(core),
            "npu_driver": _read(core, "NPU", "NPU_DRIVER_VERSION"),
            "device_architecture": _read(core, "NPU", "DEVICE_ARCHITECTURE"),
            "device_name": _read(core, "NPU", "FULL_DEVICE_NAME"),
        }
    return {
        "openvino": ov.get_version(),
        "openvino_genai": ov_genai.__version__,
        **device,
        "weightless": weightless,
        "properties": {key: str(value) for key, value in sorted(properties.items())},
    }


def mismatches(shipped, here: dict) -> list:
    """Each compared field on which the blob's record and this runner's differ: {key, blob, runner}."""
    if not isinstance(shipped, dict):
        return [{"key": "compiled_for", "blob": None, "runner": "a record", "why": "npu.json records nothing the blob was compiled for (an artifact of an older phiforge)"}]
    found = []
    for key in COMPARED:
        if key == "properties":
            theirs, ours = shipped.get(key) or {}, here[key]
            for name in sorted(set(theirs) | set(ours)):
                if theirs.get(name) != ours.get(name):
                    found.append({"key": f"properties.{name}", "blob": theirs.get(name), "runner": ours.get(name)})
        elif shipped.get(key) != here[key] or here[key] == UNREADABLE:
            found.append({"key": key, "blob": shipped.get(key), "runner": here[key]})
    return found
