#!/usr/bin/env python3
"""Derive one OpenVINO variant (FP16, INT8, INT4) from a base export, as optimum-cli would make it.

`optimum-cli export openvino --weight-format F ...` traces the PyTorch model again for every F,
which is the slow part. phiforge converts each model once (export_base.py: the checkpoint traced
in its own dtype, no weight compression) and derives every variant from that IR here, with the
steps optimum-intel 2.2.0 runs after its own conversion:

- int4 / int8: optimum saves the traced IR uncompressed, reads it back and calls
  nncf.compress_weights on it (quantization.py, _weight_only_quantization) with the arguments its
  OVWeightQuantizationConfig.to_nncf_dict() builds from the CLI flags; it drops the
  KV_CACHE_PRECISION=f16 runtime option (left for unquantized models only), records the NNCF
  version under rt_info "optimum", saves without FP16 compression and writes openvino_config.json.
  This script does the same on the base IR, so the result is the direct export's, byte for byte,
  except the names NNCF gives the nodes it creates (Convert_<n>, Reshape_<n>, Constant_<n>), whose
  <n> is a process-wide node counter.
- fp16: optimum loads a bf16/fp16 checkpoint as fp16 before tracing, then saves with
  compress_to_fp16. From a bf16 base the weights are rounded bf16 -> fp16 here (what torch's cast
  does: round to nearest even), and the IR is saved with compress_to_fp16 as optimum does, after
  one fix-up (unmark_state_initializers). openvino_model.xml/.bin are the direct export's, byte
  for byte.
- fp32: only from a float32 base, which then is the fp32 export already.

Every other file of the export (tokenizer and detokenizer IRs, config.json, generation config,
tokenizer files, chat template) is copied from the base; config.json's "dtype" becomes "float16"
for fp16, as optimum records the dtype it loaded the model in. For int4/int8 these copies are the
direct export's files exactly; for fp16 the tokenizer/detokenizer XMLs differ from the direct
export's in counter-numbered node names only (the direct export converts the tokenizer after an
fp16 trace, which created a different number of nodes before it).

Contract (like every phiforge script):

    python derive_variant.py --request REQ.json --result RES.json

REQ: {"base_dir": "<folder written by export_base.py>",
      "output_dir": "<existing empty folder>",
      "quantization": {"weight_format": "fp16" | "int8" | "int4" | "fp32",
                       "group_size": int, "ratio": float, "sym": bool,        (int4: all required)
                       "backup_precision": "none" | "int8_sym" | "int8_asym"}, (int4 only, optional)
      "model": "<the --model argument of the equivalent optimum-cli export>",   (optional)
      "calibration": {"texts": ["...", ...], "statistics_dir": "<calibration_statistics.py output>",
                      "awq": bool, "scale_estimation": bool, "gptq": bool, "lora_correction": bool}}
                                                  (optional; int4 only: data-aware compression)
RES: {"files": [<file names in output_dir>],
      "applied": {"weight_format", "base_dtype", "config_dtype",
                  "nncf_arguments": {...} | null,        the nncf.compress_weights call, as JSON
                  "weight_compression": {...} | null,    what NNCF recorded in the IR's rt_info
                  "converted_bf16_constants": int}}      fp16 from a bf16 base only

optimum writes its --model argument verbatim into openvino_config.json (quantization_config
.tokenizer) of INT4/INT8 exports; "model" supplies it (null when absent): pass the same string the
direct export would get (phiforge's export step runs optimum-cli with --model model, a relative link). group_size and ratio are
ignored for int8, as optimum-cli ignores them (channel-wise, all layers).

With "calibration", the int4 compression is data-aware, as optimum-intel makes it from an
OVWeightQuantizationConfig whose dataset is that list of texts (calibration.py): the base IR is
loaded as optimum's OVModelForCausalLM, the texts become its calibration dataset, and
_weight_only_quantization (what OVQuantizer calls for every weight-only config) compresses it, with
NNCF's statistics loaded from statistics_dir rather than collected again.

Logs go to stderr only; bad input exits with status 2 and a one-line message.
"""

import json
import logging
import re
import shutil
import sys
import time
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path

from phiforge_io import RequestError, empty_output_dir, run


log = logging.getLogger("derive_variant")

MODEL_XML = "openvino_model.xml"
MODEL_BIN = "openvino_model.bin"
OPTIMUM_CONFIG = "openvino_config.json"
WEIGHT_FORMATS = ("fp32", "fp16", "int8", "int4")
BACKUP_PRECISIONS = ("none", "int8_sym", "int8_asym")
QUANTIZATION_KEYS = {"weight_format", "group_size", "ratio", "sym", "backup_precision"}
# torch dtypes as config.json names them; optimum loads these checkpoints as fp16 for an fp16 export.
HALF_DTYPES = ("bfloat16", "float16")




# --- Request ------------------------------------------------------------------------------------


def checked_request(request: dict) -> dict:
    unknown = set(request) - {"base_dir", "output_dir", "quantization", "model", "calibration"}
    if unknown:
        raise RequestError(f"unknown request keys: {', '.join(sorted(unknown))}")

    base_dir = request.get("base_dir")
    if not isinstance(base_dir, str) or not Path(base_dir).is_dir():
        raise RequestError(f"base_dir must be an existing folder, got {base_dir!r}")
    for name in (MODEL_XML, MODEL_BIN, "config.json"):
        if not (Path(base_dir) / name).is_file():
            raise RequestError(f"base_dir {base_dir} has no {name}: it is not an OpenVINO export")
    output_dir = empty_output_dir(request)
    if output_dir.resolve() == Path(base_dir).resolve():
        raise RequestError("output_dir must differ from base_dir")
    if request.get("model") is not None and not isinstance(request["model"], str):
        raise RequestError("model must be a string (the --model argument of the direct export)")
    request["quantization"] = check_quantization(request.get("quantization"))
    if request.get("calibration") is not None:
        if request["quantization"]["weight_format"] != "int4":
            raise RequestError("calibration applies to int4 only: 8-bit weight compression is data-free in optimum")
        from calibration import check_calibration

        request["calibration"] = check_calibration(request["calibration"])
    return request


def check_quantization(quantization) -> dict:
    if not isinstance(quantization, dict):
        raise RequestError("quantization must be an object with at least weight_format")
    unknown = set(quantization) - QUANTIZATION_KEYS
    if unknown:
        raise RequestError(f"unknown quantization keys: {', '.join(sorted(unknown))}")
    weight_format = quantization.get("weight_format")
    if weight_format not in WEIGHT_FORMATS:
        raise RequestError(f"quantization.weight_format must be one of {', '.join(WEIGHT_FORMATS)}, got {weight_format!r}")
    sym = quantization.get("sym", False)
    if not isinstance(sym, bool):
        raise RequestError(f"quantization.sym must be true or false, got {sym!r}")
    backup = quantization.get("backup_precision")
    if backup is not None and backup not in BACKUP_PRECISIONS:
        raise RequestError(f"quantization.backup_precision must be one of {', '.join(BACKUP_PRECISIONS)}, got {backup!r}")
    checked = {"weight_format": weight_format, "sym": sym, "backup_precision": backup}

    if weight_format == "int4":
        group_size = quantization.get("group_size")
        ratio = quantization.get("ratio")
        # bool is an int in Python: reject true/false explicitly.
        if not isinstance(group_size, int) or isinstance(group_size, bool) or not (group_size == -1 or group_size > 0):
            raise RequestError(f"quantization.group_size must be -1 (channel-wise) or a positive integer for int4, got {group_size!r}")
        if not isinstance(ratio, (int, float)) or isinstance(ratio, bool) or not 0 < ratio <= 1:
            raise RequestError(f"quantization.ratio must be a number in (0, 1] for int4, got {ratio!r}")
        # optimum-cli parses --ratio as a float: 1 and 1.0 must record the same rt_info ("1.0").
        checked.update(group_size=group_size, ratio=float(ratio))
    elif backup is not None:
        # optimum's OVWeightQuantizationConfig refuses a backup precision for 8-bit compression.
        raise RequestError(f"quantization.backup_precision applies to int4 only, not {weight_format}")
    return checked


# --- What optimum-intel 2.2.0 passes to NNCF ----------------------------------------------------


def nncf_arguments(quantization: dict) -> dict:
    """nncf.compress_weights keyword arguments, as optimum-intel 2.2.0 builds them for optimum-cli.

    optimum-cli turns the flags into a dict (commands/export/openvino.py, prepare_wc_config), then
    an OVWeightQuantizationConfig whose to_nncf_dict() gives these values; the dataset is None
    (no --dataset), so every algorithm that needs data stays off.
    """
    import nncf

    weight_format = quantization["weight_format"]
    sym = quantization["sym"]
    if weight_format == "int8":
        # prepare_wc_config forces ratio 1.0 and channel-wise groups for 8 bits, whatever the flags.
        mode = nncf.CompressWeightsMode.INT8_SYM if sym else nncf.CompressWeightsMode.INT8_ASYM
        ratio, group_size, backup_mode = 1.0, -1, None
    else:
        mode = nncf.CompressWeightsMode.INT4_SYM if sym else nncf.CompressWeightsMode.INT4_ASYM
        ratio, group_size = quantization["ratio"], quantization["group_size"]
        backup = quantization["backup_precision"]
        # None lets NNCF use its default backup (int8_asym), exactly like the CLI without the flag.
        backup_mode = nncf.BackupMode(backup) if backup else None
    return {
        "mode": mode,
        "ratio": ratio,
        "group_size": group_size,
        "ignored_scope": nncf.IgnoredScope(),
        "all_layers": None,
        "sensitivity_metric": None,
        "subset_size": 128,
        "awq": None,
        "scale_estimation": None,
        "gptq": None,
        "lora_correction": None,
        "backup_mode": backup_mode,
    }


def describe_arguments(arguments: dict) -> dict:
    """The NNCF arguments as plain JSON for the result (enums by value, the ignored scope as its non-empty fields)."""
    described = {}
    for key, value in arguments.items():
        if key == "ignored_scope":
            value = {name: getattr(value, name) for name in ("names", "patterns", "types", "subgraphs") if getattr(value, name)}
        elif hasattr(value, "value"):
            value = value.value
        described[key] = value
    return described


def optimum_config_text(model_argument) -> str:
    """openvino_config.json exactly as optimum-intel 2.2.0 saves it after an optimum-cli INT4/INT8 export.

    optimum wraps the weight config in an OVPipelineQuantizationConfig whose default_config holds
    it; OVConfig.save_pretrained writes only the values that differ from the class defaults, which
    leaves the pipeline's own fields, the tokenizer (optimum sets it to the --model argument,
    verbatim) and versions. transformers' JSON layout: sorted keys, two-space indent, final newline.
    """
    config = {
        "dtype": "",
        "input_info": None,
        "optimum_version": metadata.version("optimum"),
        "output_attentions": False,
        "quantization_config": {
            "_dataset_kwargs": {},
            "dataset": None,
            "default_config": {"quant_method": "default"},
            "ignored_scope": None,
            "num_samples": None,
            "processor": None,
            "quantization_configs": {},
            "tokenizer": model_argument,
        },
        "save_onnx_model": False,
        "transformers_version": metadata.version("transformers"),
    }
    return json.dumps(config, indent=2, sort_keys=True) + "\n"


# --- The model IR -------------------------------------------------------------------------------


def remove_f16_kv_cache_flag(model) -> None:
    # optimum leaves KV_CACHE_PRECISION=f16 in unquantized exports only (and removes it when it
    # quantizes one): a compressed model lets the runtime choose the KV cache precision.
    if model.has_rt_info(["runtime_options", "KV_CACHE_PRECISION"]):
        options = model.get_rt_info("runtime_options").value
        if options["KV_CACHE_PRECISION"] == "f16":
            options.pop("KV_CACHE_PRECISION")
            model.set_rt_info(options, "runtime_options")


def check_uncompressed(model) -> None:
    """Refuse a base whose weights were already reduced: compressing them again would not give the
    direct export (NNCF would start from rounded weights)."""
    if "nncf" in model.get_rt_info():
        raise RequestError("the base IR is already compressed by NNCF (rt_info has an nncf section): derive from an uncompressed base")
    # save_model's FP16 pass leaves this mark on the constants it must keep out of f16; an IR
    # never saved with compress_to_fp16 (what export_base.py writes) has none.
    for op in model.get_ops():
        if any(key.startswith("DisablePrecisionConversion") for key in op.get_rt_info().keys()):
            raise RequestError("the base IR was saved with FP16 compression (an fp16 export): derive from an uncompressed base")


@contextmanager
def compression_buffers_kept():
    """NNCF runs a small compiled OpenVINO model per weight and releases its buffers after every call
    (OVModelParameters.release_memory), so each call faults in and zeroes fresh pages. At Phi-3-mini
    size, in an INT4 g128 ratio 0.6 derivation, that was 27-32 s of kernel time against 34 s of user
    time, mostly in the mixed-precision ranking; kept, the kernel time is 18 s and the derivation
    takes 33.7 s instead of 40.6 s. The cost is 1.7 GiB more at the peak (four float32 copies of a
    decoder layer's weights), until NNCF drops its compiled models at the end of compress_weights;
    channel-wise INT4 and INT8 keep their peaks and times. The arithmetic, and so the bytes, are
    unchanged."""
    import openvino as ov

    release = ov.CompiledModel.release_memory
    ov.CompiledModel.release_memory = lambda self: None
    try:
        yield
    finally:
        ov.CompiledModel.release_memory = release


def compress_weights(model, quantization: dict):
    import nncf

    arguments = nncf_arguments(quantization)
    try:
        with compression_buffers_kept():
            compressed = nncf.compress_weights(model, dataset=None, **arguments)
    except nncf.InvalidGroupSizeError as err:
        # A group size that does not divide a layer's width is a recipe error, not a crash. NNCF
        # lists every failing layer; one line names the first and counts them.
        failed = re.findall(r'"([^"]+)" \(channel size: (\d+)\)', str(err))
        where = f"{len(failed)} layer(s), first {failed[0][0]} with {failed[0][1]} input channels" if failed else " ".join(str(err).split())
        raise RequestError(f"group_size {quantization['group_size']} does not divide the input channels of {where}") from err
    remove_f16_kv_cache_flag(compressed)
    compressed.set_rt_info(metadata.version("nncf"), ["optimum", "nncf_version"])
    return compressed, describe_arguments(arguments)


def compress_weights_data_aware(calibrated, base_dir: Path, quantization: dict, calibration: dict):
    from optimum.intel.openvino.quantization import _weight_only_quantization

    from calibration import calibration_dataset, weight_config

    config = weight_config(quantization, calibration, str(base_dir))
    dataset = calibration_dataset(calibrated, config)
    compressed = _weight_only_quantization(calibrated.model, config, dataset)
    remove_f16_kv_cache_flag(compressed)
    compressed.set_rt_info(metadata.version("nncf"), ["optimum", "nncf_version"])
    described = {key: value for key, value in config.to_dict().items() if key not in ("dataset", "tokenizer", "statistics_path")}
    described["samples"] = len(calibration["texts"])
    return compressed, json.loads(json.dumps(described, default=str))


def bf16_to_f16(model) -> int:
    """Replace every bf16 weight constant by its fp16 rounding; returns how many were replaced.

    A direct fp16 export of a bf16 checkpoint loads the weights as fp16 (torch rounds to nearest
    even, overflow to inf) and traces that, so its graph is the bf16 base's with f16 constants in
    place of bf16 ones. Only constants may be bf16 for that to hold: a graph that computes in bf16
    would have been traced differently in fp16, so it is refused.
    """
    import openvino as ov
    from openvino import opset13

    constants = []
    for op in model.get_ordered_ops():
        is_constant = op.get_type_name() == "Constant"
        if any(output.get_element_type() == ov.Type.bf16 for output in op.outputs()) and not is_constant:
            raise RuntimeError(f"the base computes in bf16 ({op.get_type_name()} {op.get_friendly_name()}): fp16 cannot be derived from it, export fp16 directly")
        if is_constant and op.get_element_type() == ov.Type.bf16:
            constants.append(op)
    halves = rounded_to_f16([op.get_tensor_view().data for op in constants])
    for op, half in zip(constants, halves):
        # Shared: the f16 data is already in its final layout, and a copy of 7.6 GB (Phi-3-mini)
        # would cost as much as the rounding. The constant keeps a reference to the array.
        replacement = opset13.constant(half.reshape(list(op.get_output_shape(0))), dtype=ov.Type.f16, shared_memory=True)
        replacement.set_friendly_name(op.get_friendly_name())
        replacement.output(0).get_tensor().set_names(op.output(0).get_names())
        op.output(0).replace(replacement.output(0))
    return len(constants)


# Elements per slice: a slice's 32-bit scratch (4 MiB) stays in a core's cache. Whole-tensor
# temporaries (15 GB of float32 for Phi-3-mini) made its rounding take 24 s, mostly first touches of
# fresh memory.
ROUNDING_SLICE = 1 << 20


def rounded_to_f16(tensors: list) -> list:
    """Each bf16 tensor (OpenVINO hands bf16 out as 16-bit data) rounded to float16, flattened.

    bf16 is the high half of a float32, so shifting the bits up gives the exact float32 value, and
    numpy's float32 -> float16 cast rounds it to nearest even with overflow to inf, as torch does.
    Slices are rounded on every core this process may use (numpy releases the GIL inside the cast).
    """
    import os
    import threading
    from concurrent.futures import ThreadPoolExecutor

    import numpy as np

    scratch = threading.local()

    def round_slice(source, target) -> None:
        if getattr(scratch, "bits", None) is None:
            scratch.bits = np.empty(ROUNDING_SLICE, np.uint32)
        exact = scratch.bits[: source.size]
        np.left_shift(source, 16, out=exact, dtype=np.uint32)
        # Overflow to inf is the contract (torch's cast does the same), not something to warn about.
        with np.errstate(over="ignore"):
            np.copyto(target, exact.view(np.float32), casting="same_kind")

    halves, slices = [], []
    for tensor in tensors:
        bits = np.ascontiguousarray(tensor).view(np.uint16).reshape(-1)
        half = np.empty(bits.size, np.float16)
        halves.append(half)
        slices += [(bits[start : start + ROUNDING_SLICE], half[start : start + ROUNDING_SLICE]) for start in range(0, bits.size, ROUNDING_SLICE)]
    # The cores this process may run on (a container or taskset can allow fewer than the machine has);
    # Windows and macOS have no affinity call.
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    with ThreadPoolExecutor(max_workers=cores) as pool:
        list(pool.map(lambda pair: round_slice(*pair), slices))
    return halves


def unmark_state_initializers(model) -> None:
    """Make the KV-cache state initializers look as they do in optimum's memory when it saves fp16.

    optimum builds each ReadValue's initializer (ShapeOf -> Concat -> Broadcast) with Python opset
    calls after conversion, so in memory the Broadcast's shape input carries no precision_sensitive
    mark; reading the IR back adds that mark. save_model's fp16 pass then tags the initializer's i64
    shape constants DisablePrecisionConversion, which optimum's fp16 IR lacks. The tag only ever
    concerns those integer constants (no computation changes either way); dropping the read-time
    mark reproduces optimum's IR exactly.
    """
    for op in model.get_ops():
        if op.get_type_name() != "ReadValue" or op.get_input_size() == 0:
            continue
        initializer = op.input_value(0).get_node()
        if initializer.get_type_name() != "Broadcast":
            continue
        for port in initializer.inputs():
            marks = port.get_rt_info()
            for key in [key for key in marks.keys() if key.startswith("precision_sensitive")]:
                del marks[key]


def weight_compression_info(model):
    """The nncf/weight_compression section NNCF wrote into rt_info, as {key: string}, or None."""
    if not model.has_rt_info(["nncf", "weight_compression"]):
        return None
    section = model.get_rt_info(["nncf", "weight_compression"]).astype(dict)
    return {key: value.astype(str) for key, value in sorted(section.items())}


# --- The folder ---------------------------------------------------------------------------------


def config_with_dtype(text: str, dtype: str) -> str:
    """config.json with another "dtype", in transformers' exact layout (checked on the input)."""
    config = json.loads(text)
    if json.dumps(config, indent=2, sort_keys=True) + "\n" != text:
        raise RuntimeError("the base config.json is not in transformers' layout; refusing to rewrite it")
    config["dtype"] = dtype
    return json.dumps(config, indent=2, sort_keys=True) + "\n"


def copy_other_files(base_dir: Path, output_dir: Path, skip: set) -> None:
    for source in sorted(base_dir.rglob("*")):
        relative = source.relative_to(base_dir)
        if source.is_dir() or str(relative) in skip:
            continue
        target = output_dir / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        # Contents only: the artifact's files must not depend on the base's timestamps or modes.
        shutil.copyfile(source, target)


def derive(request: dict) -> dict:
    import openvino as ov

    base_dir, output_dir = Path(request["base_dir"]), Path(request["output_dir"])
    quantization = request["quantization"]
    weight_format = quantization["weight_format"]
    config_text = (base_dir / "config.json").read_text(encoding="utf-8")
    base_config = json.loads(config_text)
    base_dtype = base_config.get("dtype", base_config.get("torch_dtype"))
    if (base_dir / OPTIMUM_CONFIG).exists():
        raise RequestError(f"base_dir has an {OPTIMUM_CONFIG}: it is a quantized export, not a base")
    if weight_format == "fp32" and base_dtype != "float32":
        raise RequestError(f"fp32 cannot be derived from a {base_dtype} base (optimum traces fp32 in float32): export fp32 directly")

    started = time.perf_counter()
    calibration = request.get("calibration")
    if calibration:
        from calibration import load_for_calibration

        calibrated = load_for_calibration(base_dir)
        model = calibrated.model
    else:
        model = ov.Core().read_model(base_dir / MODEL_XML)
    check_uncompressed(model)
    applied = {"weight_format": weight_format, "base_dtype": base_dtype, "config_dtype": base_dtype,
               "nncf_arguments": None, "weight_compression": None, "converted_bf16_constants": 0}
    compress_to_fp16 = False
    if calibration:
        model, applied["nncf_arguments"] = compress_weights_data_aware(calibrated, base_dir, quantization, calibration)
        del calibrated
    elif weight_format in ("int4", "int8"):
        model, applied["nncf_arguments"] = compress_weights(model, quantization)
    elif weight_format == "fp16":
        applied["converted_bf16_constants"] = bf16_to_f16(model)
        unmark_state_initializers(model)
        compress_to_fp16 = True
        if base_dtype in HALF_DTYPES:
            applied["config_dtype"] = "float16"
    log.info("%s model ready in %.1f s", weight_format, time.perf_counter() - started)

    started = time.perf_counter()
    ov.save_model(model, output_dir / MODEL_XML, compress_to_fp16=compress_to_fp16)
    applied["weight_compression"] = weight_compression_info(model)
    del model
    skip = {MODEL_XML, MODEL_BIN}
    if applied["config_dtype"] != base_dtype:
        (output_dir / "config.json").write_text(config_with_dtype(config_text, applied["config_dtype"]), encoding="utf-8")
        skip.add("config.json")
    copy_other_files(base_dir, output_dir, skip)
    if weight_format in ("int4", "int8"):
        (output_dir / OPTIMUM_CONFIG).write_text(optimum_config_text(request.get("model")), encoding="utf-8")
    log.info("saved in %.1f s", time.perf_counter() - started)
    files = sorted(str(path.relative_to(output_dir)) for path in output_dir.rglob("*") if path.is_file())
    return {"files": files, "applied": applied}


def derive_checked(request: dict) -> dict:
    if not request.get("calibration"):
        # NNCF imports torch when it can, which costs seconds and is useless here: data-free derivation
        # works on the OpenVINO IR alone. Hiding torch halves an INT4 derivation with byte-identical
        # output. Data-aware compression runs the model through optimum-intel, which needs torch.
        sys.modules.setdefault("torch", None)
    result = derive(checked_request(request))
    log.info("%s: wrote %d files to %s", request["quantization"]["weight_format"], len(result["files"]), request["output_dir"])
    return result


if __name__ == "__main__":
    run(derive_checked, name="derive_variant", stdout_to_stderr=True)
