#!/usr/bin/env python3
"""Convert a Hugging Face checkpoint to an uncompressed OpenVINO IR: the base of every variant.

Tracing the PyTorch model is the slow part of `optimum-cli export openvino`, and every
`--weight-format` used to repeat it. This script runs that conversion once; derive_variant.py then
makes each variant (FP16, INT8, INT4 ...) from the base without touching PyTorch again.

The base is what optimum-cli itself converts to before it compresses an INT4/INT8 export: the
model traced in the checkpoint's own dtype (bf16 weights stay bf16 constants), every file of the
export folder (tokenizer and detokenizer IRs, config.json, generation_config.json, tokenizer files,
chat template), and no weight compression. None of optimum-cli's `--weight-format` values produces
exactly that folder:

- `fp32` / `fp16` load the model in that dtype first, so the traced graph differs from the one the
  INT4/INT8 export compresses (other constants, other node names);
- no `--weight-format` traces in the checkpoint's dtype, but then compresses any model over 1e9
  parameters to INT8 on its own (optimum's model-size rule), which a base must never be.

So this calls optimum's own `main_export`, as the CLI does, with an `OVConfig` that names neither a
float dtype nor a quantization config: the checkpoint's dtype is kept and the size rule is skipped.

Contract (like every phiforge script):

    python export_base.py --request REQ.json --result RES.json

REQ: {"model": "<Hugging Face model folder (or hub id)>", "output_dir": "<existing empty folder>",
      "trust_remote_code": false}
RES: {"files": [<file names in output_dir>], "dtype": "<torch dtype recorded in config.json>",
      "weights": {"<element type>": <number of weight constants>}}

Logs go to stderr only; bad input exits with status 2 and a one-line message. The environment
(HF_HUB_OFFLINE ...) is the caller's.
"""

import json
import logging
import time
from pathlib import Path

from phiforge_io import RequestError, empty_output_dir, run

log = logging.getLogger("export_base")

TASK = "text-generation-with-past"




def check_request(request: dict) -> None:
    unknown = set(request) - {"model", "output_dir", "trust_remote_code"}
    if unknown:
        raise RequestError(f"unknown request keys: {', '.join(sorted(unknown))}")
    if not isinstance(request.get("model"), str) or not request["model"]:
        raise RequestError("model must be a non-empty string (a model folder or a hub id)")
    empty_output_dir(request)
    if not isinstance(request.get("trust_remote_code", False), bool):
        raise RequestError("trust_remote_code must be true or false")


def export(request: dict) -> dict:
    check_request(request)
    # Imported here, after the request is checked: these imports take seconds (torch, transformers).
    import openvino as ov
    from huggingface_hub.constants import HUGGINGFACE_HUB_CACHE
    from optimum.exporters.openvino import main_export
    from optimum.intel.openvino.configuration import OVConfig

    output_dir = Path(request["output_dir"])
    started = time.perf_counter()
    # The same arguments optimum-cli passes (commands/export/openvino.py), except ov_config: an empty
    # OVConfig keeps the checkpoint's dtype (no fp16/fp32 cast before tracing) and, being not None,
    # switches off the automatic INT8 compression of models over 1e9 parameters. library_name=None
    # lets main_export infer it exactly as the CLI does.
    main_export(
        model_name_or_path=request["model"],
        output=output_dir,
        task=TASK,
        framework="pt",
        cache_dir=HUGGINGFACE_HUB_CACHE,
        trust_remote_code=request.get("trust_remote_code", False),
        pad_token_id=None,
        ov_config=OVConfig(),
        stateful=True,
        convert_tokenizer=True,
        library_name=None,
        variant=None,
        model_kwargs=None,
    )
    log.info("converted in %.1f s", time.perf_counter() - started)

    model_xml = output_dir / "openvino_model.xml"
    if not model_xml.is_file():
        raise RuntimeError(f"optimum wrote no {model_xml.name} into {output_dir}")
    model = ov.Core().read_model(model_xml)
    # A base must hold the original weights: anything NNCF touched could not be compressed again.
    if "nncf" in model.get_rt_info():
        raise RuntimeError("the exported IR is already weight-compressed (rt_info has an nncf section)")
    weights: dict = {}
    for op in model.get_ops():
        if op.get_type_name() == "Constant" and op.get_element_type().is_real():
            name = op.get_element_type().get_type_name()
            weights[name] = weights.get(name, 0) + 1
    config = json.loads((output_dir / "config.json").read_text(encoding="utf-8"))
    return {
        "files": sorted(path.name for path in output_dir.iterdir()),
        "dtype": config.get("dtype", config.get("torch_dtype")),
        "weights": dict(sorted(weights.items())),
    }


if __name__ == "__main__":
    run(export, name="export_base", stdout_to_stderr=True)
