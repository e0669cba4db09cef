"""Runs an OpenVINO IR artifact with OpenVINO GenAI on each requested device, as a user's app would.

The loop (targets, warm-up, repetitions, sweep, peak memory) is common/scripts/runner.py; this file
is what is OpenVINO's own:

- Devices come from OpenVINO itself (Core().available_devices).
- The pipeline is built as benchmark_genai builds it: on every device but the NPU with a
  SchedulerConfig whose prefix caching is off (LLMPipeline turns it on by default on CPU, and a
  repeated prompt would then measure a cache hit, not a prefill) and no limit on batched tokens.
- Prompts go in as token ids (chat template applied as text, tokenized without extra special
  tokens, as the reference answers are made); TTFT, TPOT and throughput come from GenAI's
  perf_metrics, and its raw per-token durations are kept so phiforge can pool them as GenAI does.
- An NPU imports the compiled blob shipped in the artifact; without an NPU, "emulate" runs the same
  import through NPUW on the CPU and compares the answers with the plain CPU pipeline. The blob is
  imported only when what it was compiled for (npu.json's "compiled_for") is what this runner has
  (common/scripts/npu_blob.py); otherwise the IR is compiled here and the target's "npu_blob" says
  the shipped blob was not used, and why. With "require_blob" such a target is not run at all: it
  is reported skipped with the mismatch, which phiforge fails.
- With "perplexity_text", each target (not an NPU: its compiled model keeps only the last logits)
  also scores that text with the IR's full logits, through OpenVINO itself.
"""

import json
import os
import sys

import numpy as np
import openvino as ov
import openvino_genai as ov_genai
from npu_blob import compile_properties, mismatches, record
from perplexity import perplexity
from phiforge_io import run
from runner import FIELDS, log, run_request

BLOB = "openvino_model.blob"


def token_inputs(ids: list):
    input_ids = ov.Tensor(np.array([ids], dtype=np.int64))
    return ov_genai.TokenizedInputs(input_ids, ov.Tensor(np.ones((1, len(ids)), dtype=np.int64)))


def ids_of(encoded) -> list:
    return [int(token) for token in encoded.input_ids.data[0]]


def npu_load(model_dir: str, target: dict, emulate: bool) -> tuple:
    """The properties to open an NPU target with, and what becomes of the shipped blob: imported when
    its record matches this runner's, else the IR is compiled here with this runner's properties."""
    npu = target["npu"]
    compiled = compile_properties(npu["max_prompt_len"], npu["min_response_len"], emulate, target.get("properties", {}))
    here = record(ov.Core(), compiled, bool(npu.get("weightless")), emulate)
    blob = os.path.join(model_dir, BLOB)
    shipped = os.path.exists(blob)
    compiled_for = None
    if os.path.exists(os.path.join(model_dir, "npu.json")):
        with open(os.path.join(model_dir, "npu.json"), encoding="utf-8") as handle:
            compiled_for = json.load(handle).get("compiled_for")
    found = mismatches(compiled_for, here) if shipped else []
    report = {"shipped": shipped, "used": shipped and not found, "runner": here, "mismatches": found}
    if compiled_for is not None:
        report["compiled_for"] = compiled_for
    properties = dict(compiled)
    if report["used"]:
        properties["BLOB_PATH"] = blob
        if npu.get("weightless"):
            properties["WEIGHTS_PATH"] = os.path.join(model_dir, "openvino_model.bin")
    elif shipped:
        differences = "; ".join(f"{entry['key']}: {entry['blob']} in the blob, {entry['runner']} here" for entry in found)
        log(f"NPU: the shipped blob does not fit this runner ({differences}): compiling the IR instead")
    return properties, report


def full_prefill_scheduler():
    """What benchmark_genai passes: every generation prefills its whole prompt."""
    config = ov_genai.SchedulerConfig()
    config.enable_prefix_caching = False
    config.max_num_batched_tokens = sys.maxsize
    return config


class Session:
    def __init__(self, request: dict, target: dict, placement: str):
        self.model_dir = request["model_dir"]
        self.device = target["device"]
        self.placement = placement
        self.request = request
        self.properties = dict(target.get("properties", {}))
        self.blob = None
        if self.device == "NPU":
            npu, self.blob = npu_load(self.model_dir, target, placement == "emulate")
            self.properties |= npu
            self.pipe = ov_genai.LLMPipeline(self.model_dir, self.device, **self.properties)
        else:
            self.pipe = ov_genai.LLMPipeline(self.model_dir, self.device, scheduler_config=full_prefill_scheduler(), **self.properties)
        self.tokenizer = self.pipe.get_tokenizer()
        self.config = self.pipe.get_generation_config()
        self.config.do_sample = False
        self.stop_tokens = set(self.config.stop_token_ids) | {self.config.eos_token_id}
        self.measured = []
        self.compiled = None
        if self.device == "NPU":
            # Its compiled model has static shapes: a longer prompt is refused.
            self.max_prompt_tokens = target["npu"]["max_prompt_len"]

    def chat_ids(self, messages: list) -> list:
        text = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True)
        return self.text_ids(text)

    def text_ids(self, text: str) -> list:
        return ids_of(self.tokenizer.encode(text, add_special_tokens=False))

    def decode(self, ids: list) -> str:
        return self.tokenizer.decode(ids)

    def generate(self, ids: list, max_new_tokens: int):
        self.config.max_new_tokens = max_new_tokens
        result = self.pipe.generate(token_inputs(ids), self.config)
        metrics = result.perf_metrics
        self.measured.append(metrics)
        measurement = {
            "ttft_ms": float(metrics.get_ttft().mean),
            "tpot_ms": float(metrics.get_tpot().mean),
            "tokens_per_s": float(metrics.get_throughput().mean),
            "new_tokens": int(metrics.get_num_generated_tokens()),
            "generate_ms": float(metrics.get_generate_duration().mean),
            # Raw durations are in microseconds.
            "decode_ms": [float(duration) / 1000 for duration in metrics.raw_metrics.m_durations],
        }
        return [int(token) for token in result.tokens[0]], measurement

    def scorer(self):
        """The IR compiled for one forward pass at a time, with every position's logits."""
        if self.compiled is None:
            # The pipeline's compiled model goes first: two copies of a real model's weights may not fit.
            self.pipe = None
            self.compiled = ov.Core().compile_model(os.path.join(self.model_dir, "openvino_model.xml"), self.device, self.properties)
        return self.compiled

    def last_logits(self, ids: list):
        if self.device == "NPU":
            # The compiled NPU model keeps only what generation needs.
            return None
        return np.array(prefill(self.scorer(), ids)[-1])

    def finish(self, prompts: list) -> dict:
        extra = {"genai_aggregate": self.aggregate(len(self.request["prompts"]))}
        if self.blob is not None:
            extra["npu_blob"] = self.blob
        if self.request.get("perplexity_text") and self.device != "NPU":
            token_ids = self.text_ids(self.request["perplexity_text"])
            scored = perplexity(prefill(self.scorer(), token_ids), token_ids)
            log(f"{self.device} perplexity: {scored['value']:.3f} over {len(token_ids)} tokens")
            # nan or inf logits make no perplexity; the finite-logits check reports them.
            if np.isfinite(scored["value"]):
                extra["perplexity"] = scored
        self.compiled = None
        if self.placement == "emulate":
            # Emulation must not change answers: compare with the plain CPU pipeline at full precision.
            self.pipe = None
            plain = Session(self.request, {"device": "CPU", "properties": {"INFERENCE_PRECISION_HINT": "f32"}}, "run")
            same = [prompt["token_ids"] == plain.answer(entry["messages"]) for prompt, entry in zip(prompts, self.request["prompts"])]
            extra |= {"emulated": True, "cpu_agreement": {"prompts": len(same), "identical": sum(same)}}
        return extra

    def answer(self, messages: list) -> list:
        tokens, _ = self.generate(self.chat_ids(messages), self.request["max_new_tokens"])
        while tokens and tokens[-1] in self.stop_tokens:
            tokens.pop()
        return tokens

    def aggregate(self, prompt_count: int) -> dict:
        """GenAI's own sum of the chat prompts' measured runs (PerfMetrics add up), to check phiforge's pooling."""
        warmup, repetitions = self.request["warmup"], self.request["repetitions"]
        timed = [metrics for index, metrics in enumerate(self.measured[: prompt_count * (warmup + repetitions)]) if index % (warmup + repetitions) >= warmup]
        total = timed[0]
        for metrics in timed[1:]:
            total = total + metrics
        return {"ttft_ms": float(total.get_ttft().mean), "tpot_ms": float(total.get_tpot().mean), "tokens_per_s": float(total.get_throughput().mean)}


def prefill(compiled, token_ids: list):
    """The stateful IR's logits for every position of token_ids, in one pass as the LLM's prefill
    computes them. One pass, never in pieces: LongRoPE picks its factors by the length of the whole
    sequence, so a prompt fed in pieces would have its first positions rotated with the short ones."""
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
    return infer.get_tensor("logits").data[0]


def is_present(device: str, present: list) -> bool:
    if device.startswith("AUTO"):
        return bool(present)
    if device == "GPU":
        return any(name.startswith("GPU") for name in present)
    if device == "GPU.0" and "GPU" in present:
        return True
    return device in present


class OpenVino:
    def versions(self) -> dict:
        return {"openvino": ov.get_version(), "openvino_genai": ov_genai.__version__}

    def discover(self) -> tuple:
        core = ov.Core()
        return [{"device": device, "name": str(core.get_property(device, "FULL_DEVICE_NAME"))} for device in core.available_devices], {}

    def placement(self, target: dict, present: list):
        if is_present(target["device"], present):
            return "run"
        if target["device"] == "NPU" and target.get("npu", {}).get("emulate"):
            return "emulate"
        return None

    def open(self, request: dict, target: dict, placement: str):
        return Session(request, target, placement)


def run_genai(request: dict) -> dict:
    """run_request, except that with "require_blob" an NPU target whose shipped blob does not fit this
    runner is not run (compiling it from the IR is what the caller forbade): it comes back skipped, in
    its place, with the mismatch."""
    backend = OpenVino()
    refused = {}
    if request.get("require_blob"):
        present = ov.Core().available_devices
        for index, target in enumerate(request["targets"]):
            placement = backend.placement(target, present) if target["device"] == "NPU" else None
            if placement is None:
                continue
            _properties, blob = npu_load(request["model_dir"], target, placement == "emulate")
            if not blob["used"]:
                why = "the artifact ships no compiled blob" if not blob["shipped"] else "the shipped blob does not fit this runner"
                refused[index] = {"device": target["device"], "status": "skipped", "reason": f"{why}, and require_blob forbids compiling the IR", "emulated": placement == "emulate", "npu_blob": blob}
    kept = [target for index, target in enumerate(request["targets"]) if index not in refused]
    result = run_request(request | {"targets": kept}, backend)
    ran = iter(result["targets"])
    result["targets"] = [refused[index] if index in refused else next(ran) for index in range(len(request["targets"]))]
    return result


if __name__ == "__main__":
    run(run_genai, name="run_genai", fields=FIELDS)
