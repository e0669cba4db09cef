"""Runs an ONNX Runtime GenAI artifact on each requested execution provider, as a user's app would.

The loop (targets, warm-up, repetitions, sweep, peak memory) is common/scripts/runner.py; this file
is what is onnxruntime-genai's own:

- Targets are execution providers: "cpu", "cuda", "dml", discovered through ONNX Runtime
  (onnxruntime.get_available_providers(); for CUDA, the NVIDIA driver must also report a GPU).
  A "dml" target with "structural_fallback": true runs on the CPU provider when DirectML is absent:
  that proves the DML build loads and generates, and is marked structural so its figures are never
  taken for DML figures.
- GenAI has no per-request perf metrics, so every generation gets a fresh Generator (nothing carried
  over between runs: a full prefill each time, as onnxruntime-genai's benchmark_e2e.py does) and is
  driven token by token, timed with time.perf_counter:
    ttft_ms      append_tokens (the prefill) up to the first generated token
    tpot_ms      mean time of each later token (one decode step each)
    tokens_per_s 1000 / tpot_ms (the decode rate, as OpenVINO GenAI reports throughput);
                 new_tokens / generate time when only one token was generated
    new_tokens   every token generated, a final end-of-sequence token included
    generate_ms  append_tokens up to the last token
    decode_ms    the duration of each later token, for pooling across runs as OpenVINO GenAI does
- With "perplexity_text", each target also scores that text from the logits of one prefill.
"""

import contextlib
import ctypes
import json
import os
import sys
import time

import numpy as np
import onnxruntime as ort
import onnxruntime_genai as og
from perplexity import perplexity
from phiforge_io import RequestError, run
from runner import FIELDS, log, run_request

# ONNX Runtime's provider names for the targets phiforge knows.
PROVIDERS = {"CPUExecutionProvider": "cpu", "CUDAExecutionProvider": "cuda", "DmlExecutionProvider": "dml"}
# The name each target's provider has in genai_config.json and in og.Config.append_provider.
GENAI_PROVIDER = {"cpu": "cpu", "cuda": "cuda", "dml": "dml"}
STRUCTURAL_REASON = "DirectML not present: ran on the CPU provider as a structural check, not DML figures"


def cuda_devices() -> list:
    """Names of the CUDA devices the NVIDIA driver reports; empty without a driver or a GPU.

    onnxruntime-gpu lists CUDAExecutionProvider wherever it is installed, GPU or not, so the driver
    is asked directly (libcuda is the driver itself, not a toolkit library).
    """
    try:
        driver = ctypes.CDLL("nvcuda.dll" if sys.platform == "win32" else "libcuda.so.1")
    except OSError:
        return []
    count = ctypes.c_int(0)
    if driver.cuInit(0) != 0 or driver.cuDeviceGetCount(ctypes.byref(count)) != 0:
        return []
    names = []
    for ordinal in range(count.value):
        device, name = ctypes.c_int(0), ctypes.create_string_buffer(256)
        if driver.cuDeviceGet(ctypes.byref(device), ordinal) == 0 and driver.cuDeviceGetName(name, 256, device) == 0:
            names.append(name.value.decode(errors="replace"))
        else:
            names.append(f"CUDA device {ordinal}")
    return names


def discover() -> tuple:
    """The targets ONNX Runtime can run here, and why a provider it has is unusable.

    Providers phiforge has no target for (TensorRT, Azure, ...) are left out.
    """
    hardware = {}
    # get_ep_devices (ONNX Runtime 1.22+) names the hardware behind a provider; older ones lack it.
    for ep_device in getattr(ort, "get_ep_devices", lambda: [])():
        device = ep_device.device
        hardware.setdefault(ep_device.ep_name, f"{device.vendor} {str(device.type).rsplit('.', 1)[-1]}")
    available, unusable = [], {}
    for provider in ort.get_available_providers():
        if provider not in PROVIDERS:
            continue
        device = PROVIDERS[provider]
        name = f"{provider} ({hardware[provider]})" if provider in hardware else provider
        if device == "cuda":
            gpus = cuda_devices()
            if not gpus:
                unusable[device] = f"onnxruntime has {provider} but the NVIDIA driver reports no CUDA device"
                continue
            name = f"{provider} ({', '.join(gpus)})"
        available.append({"device": device, "name": name})
    return available, unusable


def preload_cuda_libraries() -> None:
    """Loads the CUDA/cuDNN libraries of the nvidia-* wheels before the CUDA provider needs them.

    onnxruntime-gpu and onnxruntime-genai-cuda link against libcublas/libcudart/... by soname but do
    not find them inside site-packages on their own ("Cuda interface not available: Failed to load
    library: libcublasLt.so.13"); preload_dlls (onnxruntime-gpu 1.21+) loads them from there, and
    GenAI's CUDA library, loaded only when a model asks for CUDA, then finds them already loaded.
    It prints progress with print(), which must not reach stdout.
    """
    if hasattr(ort, "preload_dlls"):
        with contextlib.redirect_stdout(sys.stderr):
            ort.preload_dlls()


def make_config(model_dir: str, provider: str, properties: dict):
    """A GenAI config that runs on exactly `provider`.

    clear_providers() drops whatever provider genai_config.json names (a model built with -e dml
    or -e cuda asks for that provider), then the wanted one is appended with the options the builder
    wrote for it (e.g. DML graph capture, which the builder shaped the graph for) and the target's own.
    """
    config = og.Config(model_dir)
    config.clear_providers()
    if provider == "cpu":
        if properties:
            raise ValueError(f"the CPU provider takes no provider options, got {sorted(properties)}")
        return config
    config.append_provider(provider)
    with open(os.path.join(model_dir, "genai_config.json"), encoding="utf-8") as handle:
        session_options = json.load(handle)["model"]["decoder"].get("session_options", {})
    built_options = {}
    for entry in session_options.get("provider_options", []):
        built_options.update(entry.get(provider, {}))
    for key, value in {**built_options, **properties}.items():
        config.set_provider_option(provider, str(key), str(value))
    return config


def render_template_with_jinja(model_dir: str, messages: list) -> str:
    """Renders the model's chat template the way transformers does, for templates GenAI cannot render.

    transformers 5 writes the template to chat_template.jinja; older checkpoints keep it in
    tokenizer_config.json. Same Jinja settings as transformers (sandboxed, trim_blocks, lstrip_blocks)
    and the same special-token variables, so the text matches the reference answers' prompts.
    """
    from jinja2.exceptions import TemplateError
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    with open(os.path.join(model_dir, "tokenizer_config.json"), encoding="utf-8") as handle:
        tokenizer_config = json.load(handle)
    template = tokenizer_config.get("chat_template")
    template_file = os.path.join(model_dir, "chat_template.jinja")
    if os.path.exists(template_file):
        with open(template_file, encoding="utf-8") as handle:
            template = handle.read()
    if not isinstance(template, str):
        raise ValueError(f"{model_dir} has no single chat template (chat_template.jinja or tokenizer_config.json)")

    def raise_exception(message):
        raise TemplateError(message)

    def token_text(value):
        # Special tokens are either plain strings or {"content": ...} objects in tokenizer_config.json.
        return value.get("content") if isinstance(value, dict) else value

    environment = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    environment.globals["raise_exception"] = raise_exception
    environment.globals["strftime_now"] = lambda fmt: time.strftime(fmt)
    specials = {key: token_text(value) for key, value in tokenizer_config.items() if key.endswith("_token")}
    return environment.from_string(template).render(messages=messages, add_generation_prompt=True, **specials)


def prompt_text(tokenizer, model_dir: str, messages: list) -> tuple:
    """The chat prompt as text, rendered by GenAI's own template engine as an app would.

    GenAI's engine is not Jinja itself; a template it cannot render is rendered with jinja2 instead
    (and the result says so), rather than failing the whole run.
    """
    try:
        return tokenizer.apply_chat_template(json.dumps(messages), add_generation_prompt=True), "onnxruntime-genai"
    except Exception as error:  # GenAI raises a plain RuntimeError for template problems
        # Its message quotes the whole template, with a caret line per frame: the first line says it.
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        log(f"GenAI could not render the chat template ({first_line}); rendering it with jinja2")
        return render_template_with_jinja(model_dir, messages), "jinja2"


def generate(model, input_ids, max_new_tokens: int):
    """One greedy generation, timed token by token. Returns (new token ids, measurement)."""
    params = og.GeneratorParams(model)
    # max_length counts the prompt: this is max_new_tokens new ones at most.
    params.set_search_options(do_sample=False, max_length=len(input_ids) + max_new_tokens)
    generator = og.Generator(model, params)
    started = time.perf_counter()
    # append_tokens runs the prefill; the first generate_next_token then only picks from its logits,
    # and every later one runs one decode step first. So TTFT spans both, as a user would see it.
    generator.append_tokens(input_ids)
    token_times = []
    while not generator.is_done():
        generator.generate_next_token()
        token_times.append(time.perf_counter())
    new_tokens = [int(token) for token in generator.get_sequence(0)[len(input_ids):]]
    if not token_times:
        raise RuntimeError("the generator finished without generating a token")
    ttft_ms = (token_times[0] - started) * 1000
    generate_ms = (token_times[-1] - started) * 1000
    count = len(token_times)
    tpot_ms = (token_times[-1] - token_times[0]) * 1000 / (count - 1) if count > 1 else 0.0
    tokens_per_s = 1000 / tpot_ms if tpot_ms > 0 else count / (generate_ms / 1000)
    decode_ms = [(later - earlier) * 1000 for earlier, later in zip(token_times, token_times[1:])]
    measurement = {"ttft_ms": ttft_ms, "tpot_ms": tpot_ms, "tokens_per_s": tokens_per_s, "new_tokens": count, "generate_ms": generate_ms, "decode_ms": decode_ms}
    return new_tokens, measurement


def score_perplexity(model, tokenizer, text: str) -> dict:
    """The prefill of the whole text leaves the logits of every position in the generator."""
    token_ids = [int(token) for token in tokenizer.encode(text)]
    params = og.GeneratorParams(model)
    params.set_search_options(max_length=len(token_ids) + 1)
    generator = og.Generator(model, params)
    generator.append_tokens(token_ids)
    return perplexity(generator.get_output("logits")[0], token_ids)


class Session:
    def __init__(self, request: dict, target: dict, placement: str):
        self.request = request
        self.device = target["device"]
        model_dir = request["model_dir"]
        self.provider = "cpu" if placement == "structural" else GENAI_PROVIDER[self.device]
        properties = {} if placement == "structural" else (target.get("properties") or {})
        if placement == "structural":
            log(f"{STRUCTURAL_REASON}; DML provider options {sorted(target.get('properties') or {})} not applied")
        self.placement = placement
        self.model = og.Model(make_config(model_dir, self.provider, properties))
        self.tokenizer = og.Tokenizer(self.model)
        # Made explicit: ids must equal transformers' tokenizer(text, add_special_tokens=False), and the
        # text of an answer is decoded without special tokens, like the reference answers.
        self.tokenizer.update_options(add_special_tokens="false", skip_special_tokens="true")
        self.stop_tokens = {int(token) for token in self.tokenizer.eos_token_ids}
        self.template_engines = set()

    def chat_ids(self, messages: list) -> list:
        text, engine = prompt_text(self.tokenizer, self.request["model_dir"], messages)
        self.template_engines.add(engine)
        return self.text_ids(text)

    def text_ids(self, text: str) -> list:
        return [int(token) for token in self.tokenizer.encode(text)]

    def decode(self, ids: list) -> str:
        return self.tokenizer.decode(ids)

    def generate(self, ids: list, max_new_tokens: int):
        return generate(self.model, ids, max_new_tokens)

    def last_logits(self, ids: list):
        params = og.GeneratorParams(self.model)
        params.set_search_options(max_length=len(ids) + 1)
        generator = og.Generator(self.model, params)
        generator.append_tokens(ids)
        return np.array(generator.get_output("logits")[0][-1])

    def finish(self, _prompts: list) -> dict:
        extra = {"provider": self.provider, "chat_template": "+".join(sorted(self.template_engines))}
        if self.placement == "structural":
            extra |= {"structural": True, "reason": STRUCTURAL_REASON}
        if self.request.get("perplexity_text"):
            scored = score_perplexity(self.model, self.tokenizer, self.request["perplexity_text"])
            log(f"{self.device} perplexity: {scored['value']:.3f} over {scored['tokens']} tokens")
            # nan or inf logits make no perplexity; the finite-logits check reports them.
            if np.isfinite(scored["value"]):
                extra["perplexity"] = scored
        return extra


class OrtGenai:
    def __init__(self):
        self.preloaded = False

    def versions(self) -> dict:
        return {"onnxruntime": ort.__version__, "onnxruntime_genai": og.__version__}

    def discover(self) -> tuple:
        return discover()

    def placement(self, target: dict, present: list):
        device = target["device"]
        if device not in GENAI_PROVIDER:
            raise RequestError(f"unknown target {device!r}: expected one of {', '.join(GENAI_PROVIDER)}")
        if device in present:
            return "run"
        if device == "dml" and target.get("structural_fallback"):
            return "structural"
        return None

    def open(self, request: dict, target: dict, placement: str):
        if target["device"] == "cuda" and placement == "run" and not self.preloaded:
            preload_cuda_libraries()
            self.preloaded = True
        return Session(request, target, placement)


if __name__ == "__main__":
    run(lambda request: run_request(request, OrtGenai()), name="run_ortgenai", fields=FIELDS)
