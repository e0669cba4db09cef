#!/usr/bin/env python3
"""Collect the activation statistics of NNCF's data-aware weight compression once per model.

optimum-cli's --quantization-statistics-path makes NNCF dump, on first use, every statistic any of
its data-aware algorithms (AWQ, scale estimation, LoRA correction, data-aware mixed precision) may
need, and load them on later runs instead of running the model over the dataset again. This script
makes that folder as its own cached step: the model (the shared, uncompressed base IR) and the
calibration texts decide it, not the variant, so every data-aware variant of the model loads it.

    python calibration_statistics.py --request REQ.json --result RES.json

REQ: {"base_dir": "<folder written by export_base.py>", "output_dir": "<existing empty folder>",
      "texts": ["...", ...]}
RES: {"samples": int, "files": [<file names in output_dir>]}
"""

import logging
import time
from pathlib import Path

from calibration import load_for_calibration, calibration_dataset, weight_config
from phiforge_io import RequestError, empty_output_dir, run

log = logging.getLogger("calibration_statistics")


def collect(request: dict) -> dict:
    unknown = set(request) - {"base_dir", "output_dir", "texts"}
    if unknown:
        raise RequestError(f"unknown request keys: {', '.join(sorted(unknown))}")
    base_dir = Path(request.get("base_dir") or "")
    if not (base_dir / "openvino_model.xml").is_file():
        raise RequestError(f"base_dir {base_dir} has no openvino_model.xml: it is not an OpenVINO export")
    texts = request.get("texts")
    if not isinstance(texts, list) or not texts or not all(isinstance(text, str) and text.strip() for text in texts):
        raise RequestError("texts must be a non-empty list of non-empty strings")
    output_dir = empty_output_dir(request)

    from nncf.common.factory import build_graph
    from nncf.quantization.statistics_caching import cache_weight_compression_statistics

    started = time.perf_counter()
    model = load_for_calibration(base_dir)
    # Group size and ratio do not enter the statistics; any valid 4-bit config builds the same dataset.
    config = weight_config({"sym": True, "group_size": -1, "ratio": 1.0}, {"texts": texts, "statistics_dir": None, "awq": True, "scale_estimation": True, "gptq": False, "lora_correction": False}, str(base_dir))
    dataset = calibration_dataset(model, config)
    # NNCF writes the folder itself and refuses one that exists: hand it a fresh child.
    statistics = output_dir / "statistics"
    cache_weight_compression_statistics(model.model, build_graph(model.model), dataset, len(texts), statistics)
    log.info("statistics of %d samples collected in %.1f s", len(texts), time.perf_counter() - started)
    files = sorted(str(path.relative_to(output_dir)) for path in output_dir.rglob("*") if path.is_file())
    return {"samples": len(texts), "files": files}


if __name__ == "__main__":
    run(collect, name="calibration_statistics", stdout_to_stderr=True)
