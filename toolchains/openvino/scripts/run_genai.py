"""Runs an OpenVINO IR artifact with OpenVINO GenAI on each requested device, as a user's app would.

Devices are discovered through OpenVINO itself; a target that is not present is reported as skipped
with the devices that are. For each present target: load (timed), then per prompt one warm-up
generation and N measured ones, greedy, chat template applied as text and tokenized without extra
special tokens (the same way the reference answers are made). Figures come from GenAI's perf_metrics.

With "perplexity_text", each target (not an NPU: its compiled model has static shapes and keeps
only the last logits) also scores that text with the IR's full logits, through OpenVINO itself.

Request: {"model_dir": str, "max_new_tokens": int, "repetitions": int, "warmup": int,
          "prompts": [{"id": str, "messages": [...]}], "perplexity_text": str?,
          "targets": [{"device": str, "properties": {str: str}}]}
Result:  {"openvino": str, "openvino_genai": str, "available": [{"device": str, "name": str}],
          "targets": [{"device": str, "status": "ran" | "skipped", "reason": str?, "load_ms": float,
                       "peak_rss_mb": float, "perplexity": {"value": float, "tokens": int}?,
                       "prompts": [{"id": str, "token_ids": [int], "text": str,
                                    "runs": [{"ttft_ms", "tpot_ms", "tokens_per_s", "new_tokens", "generate_ms",
                                              "decode_ms": [float]}]}]}]}
decode_ms is GenAI's raw per-token durations after the first token, so that phiforge can pool them
across runs exactly as GenAI's own PerfMetrics addition does.
"""

import os
import resource
import sys
import time

import numpy as np
import openvino as ov
import openvino_genai as ov_genai

# The request/result contract lives in toolchains/common/scripts, shared by every toolchain's scripts.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "common", "scripts"))
from perplexity import perplexity  # noqa: E402
from phiforge_io import read_request, write_result  # noqa: E402


def discover(core: ov.Core) -> list:
    return [{"device": device, "name": str(core.get_property(device, "FULL_DEVICE_NAME"))} for device in core.available_devices]


def is_present(device: str, available: list) -> bool:
    names = [entry["device"] for entry in available]
    if device.startswith("AUTO"):
        return bool(names)
    if device == "GPU":
        return any(name.startswith("GPU") for name in names)
    if device == "GPU.0" and "GPU" in names:
        return True
    return device in names


def without_stop_tokens(tokens: list, config) -> list:
    # GenAI keeps the end-of-sequence token it stopped on; the reference answers do not count it.
    stop = set(config.stop_token_ids) | {config.eos_token_id}
    while tokens and tokens[-1] in stop:
        tokens = tokens[:-1]
    return tokens


def measure(pipe, config, inputs, repetitions: int, warmup: int, totals: list):
    for _ in range(warmup):
        pipe.generate(inputs, config)
    runs, tokens = [], []
    for _ in range(repetitions):
        result = pipe.generate(inputs, config)
        metrics = result.perf_metrics
        totals.append(metrics)
        tokens = without_stop_tokens([int(token) for token in result.tokens[0]], config)
        runs.append({
            "ttft_ms": float(metrics.get_ttft().mean),
            "tpot_ms": float(metrics.get_tpot().mean),
            "tokens_per_s": float(metrics.get_throughput().mean),
            "new_tokens": int(metrics.get_num_generated_tokens()),
            "generate_ms": float(metrics.get_generate_duration().mean),
            # Raw durations are in microseconds.
            "decode_ms": [float(duration) / 1000 for duration in metrics.raw_metrics.m_durations],
        })
    return runs, tokens


def npu_properties(request: dict, target: dict, emulate: bool) -> dict:
    """Import the compiled blob instead of compiling; through NPUW on the CPU when emulating."""
    npu = target["npu"]
    properties = {"MAX_PROMPT_LEN": npu["max_prompt_len"], "MIN_RESPONSE_LEN": npu["min_response_len"]}
    blob = os.path.join(request["model_dir"], "openvino_model.blob")
    if os.path.exists(blob):
        properties["BLOB_PATH"] = blob
        if npu.get("weightless"):
            properties["WEIGHTS_PATH"] = os.path.join(request["model_dir"], "openvino_model.bin")
    if emulate:
        properties |= {"NPUW_DEVICES": "CPU", "NPUW_ONLINE_PIPELINE": "NONE"}
    return properties


def generate_all(pipe, request: dict, label: str, repetitions: int, warmup: int, measured: list) -> list:
    tokenizer = pipe.get_tokenizer()
    config = pipe.get_generation_config()
    config.max_new_tokens = request["max_new_tokens"]
    config.do_sample = False
    prompts = []
    for prompt in request["prompts"]:
        text = tokenizer.apply_chat_template(prompt["messages"], add_generation_prompt=True)
        inputs = tokenizer.encode(text, add_special_tokens=False)
        runs, tokens = measure(pipe, config, inputs, repetitions, warmup, measured)
        prompts.append({"id": prompt["id"], "token_ids": tokens, "text": tokenizer.decode(tokens), "runs": runs})
        print(f"{label} {prompt['id']}: {len(tokens)} tokens", file=sys.stderr)
    return prompts


def score_perplexity(model_dir: str, device: str, properties: dict, token_ids: list) -> dict:
    """One forward pass of the stateful IR over the whole text, as the LLM's prefill would run it."""
    compiled = ov.Core().compile_model(os.path.join(model_dir, "openvino_model.xml"), device, properties)
    count = len(token_ids)
    feeds = {
        "input_ids": np.array([token_ids], dtype=np.int64),
        "attention_mask": np.ones((1, count), dtype=np.int64),
        "position_ids": np.arange(count, dtype=np.int64)[None, :],
        "beam_idx": np.zeros(1, dtype=np.int32),
    }
    names = {name for port in compiled.inputs for name in port.get_names()}
    infer = compiled.create_infer_request()
    infer.reset_state()
    infer.infer({name: value for name, value in feeds.items() if name in names})
    return perplexity(infer.get_tensor("logits").data[0], token_ids)


def run_target(request: dict, target: dict, emulate: bool = False) -> dict:
    properties = dict(target.get("properties", {}))
    if target["device"] == "NPU":
        properties |= npu_properties(request, target, emulate)
    started = time.perf_counter()
    pipe = ov_genai.LLMPipeline(request["model_dir"], target["device"], **properties)
    load_ms = (time.perf_counter() - started) * 1000
    measured = []
    prompts = generate_all(pipe, request, target["device"], request["repetitions"], request["warmup"], measured)
    # ru_maxrss is the process's high-water mark in KiB on Linux: targets run in order in this process.
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    extra = {}
    if request.get("perplexity_text") and target["device"] != "NPU":
        token_ids = [int(token) for token in pipe.get_tokenizer().encode(request["perplexity_text"], add_special_tokens=False).input_ids.data[0]]
        # The pipeline's compiled model goes first: two copies of a real model's weights may not fit.
        pipe = None
        extra["perplexity"] = score_perplexity(request["model_dir"], target["device"], properties, token_ids)
        print(f"{target['device']} perplexity: {extra['perplexity']['value']:.3f} over {len(token_ids)} tokens", file=sys.stderr)
    if emulate:
        # Emulation must not change answers: compare with the plain CPU pipeline at full precision.
        pipe = None
        cpu = ov_genai.LLMPipeline(request["model_dir"], "CPU", INFERENCE_PRECISION_HINT="f32")
        plain = generate_all(cpu, request, "CPU (plain, for comparison)", 1, 0, [])
        same = [a["token_ids"] == b["token_ids"] for a, b in zip(prompts, plain)]
        extra = {"emulated": True, "cpu_agreement": {"prompts": len(same), "identical": sum(same)}}
    return {
        **extra,
        "device": target["device"],
        "status": "ran",
        "load_ms": load_ms,
        "peak_rss_mb": peak_rss_mb,
        "prompts": prompts,
        # GenAI's own aggregate over the same measured runs (PerfMetrics add up), for bench/validate-fidelity.
        "genai_aggregate": aggregate(measured),
    }


def aggregate(measured: list) -> dict:
    total = measured[0]
    for metrics in measured[1:]:
        total = total + metrics
    return {"ttft_ms": float(total.get_ttft().mean), "tpot_ms": float(total.get_tpot().mean), "tokens_per_s": float(total.get_throughput().mean)}


def main() -> int:
    request, result_path = read_request()

    available = discover(ov.Core())
    targets = []
    for target in request["targets"]:
        if is_present(target["device"], available):
            targets.append(run_target(request, target))
        elif target["device"] == "NPU" and target.get("npu", {}).get("emulate"):
            targets.append(run_target(request, target, emulate=True))
        else:
            present = ", ".join(entry["device"] for entry in available) or "none"
            targets.append({"device": target["device"], "status": "skipped", "reason": f"device {target['device']} not present (available: {present})"})

    write_result(result_path, {"openvino": ov.get_version(), "openvino_genai": ov_genai.__version__, "available": available, "targets": targets})
    return 0


if __name__ == "__main__":
    sys.exit(main())
