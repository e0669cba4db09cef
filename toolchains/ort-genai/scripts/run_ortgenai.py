"""Runs an ONNX Runtime GenAI artifact on each requested execution provider, as a user's app would.

Targets are execution providers: "cpu", "cuda", "dml". Providers are discovered through ONNX Runtime
(onnxruntime.get_available_providers()); a target whose provider is not there is reported as skipped
with the providers that are. A "dml" target with "structural_fallback": true runs on the CPU provider
instead when DirectML is absent: that proves the DML build loads and generates, and is marked
structural so its figures are never taken for DML figures.

For each target that runs: load (timed), then per prompt `warmup` generations and `repetitions`
measured ones, greedy, the chat template applied as text and tokenized without extra special tokens
(the same way the reference answers are made). GenAI has no per-request perf metrics, so the
generation loop is driven token by token here and timed with time.perf_counter:
  ttft_ms      append_tokens (the prefill) up to the first generated token
  tpot_ms      mean time of each later token (one decode step each)
  tokens_per_s 1000 / tpot_ms (the decode rate, as OpenVINO GenAI reports throughput);
               new_tokens / generate time when only one token was generated
  new_tokens   every token generated, a final end-of-sequence token included
  generate_ms  append_tokens up to the last token
  decode_ms    the duration of each later token, for pooling across runs as OpenVINO GenAI does
token_ids / text leave out a trailing end-of-sequence token, as the reference answers do.
With "perplexity_text", each target also scores that text from the logits of one prefill.

Request: {"model_dir": str, "max_new_tokens": int, "repetitions": int, "warmup": int,
          "prompts": [{"id": str, "messages": [...]}], "perplexity_text": str?,
          "targets": [{"device": "cpu" | "cuda" | "dml", "properties": {str: str}?,
                       "structural_fallback": bool?}]}
          properties are provider options for that target's provider (set_provider_option).
Result:  {"onnxruntime": str, "onnxruntime_genai": str, "available": [{"device": str, "name": str}],
          "targets": [{"device": str, "status": "ran" | "skipped", "reason": str?, "structural": bool?,
                       "provider": str, "chat_template": str, "load_ms": float, "peak_rss_mb": float,
                       "perplexity": {"value": float, "tokens": int}?,
                       "prompts": [{"id": str, "token_ids": [int], "text": str,
                                    "runs": [{"ttft_ms", "tpot_ms", "tokens_per_s", "new_tokens", "generate_ms",
                                              "decode_ms": [float]}]}]}]}
"""

import contextlib
import ctypes
import json
import os
import sys
import time

import onnxruntime as ort
import onnxruntime_genai as og

# The request/result contract lives in toolchains/common/scripts, shared by every toolchain's scripts.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "common", "scripts"))
from perplexity import perplexity  # noqa: E402
from phiforge_io import read_request, write_result  # noqa: E402

# ONNX Runtime's provider names for the targets phiforge knows.
PROVIDERS = {"CPUExecutionProvider": "cpu", "CUDAExecutionProvider": "cuda", "DmlExecutionProvider": "dml"}
# The name each target's provider has in genai_config.json and in og.Config.append_provider.
GENAI_PROVIDER = {"cpu": "cpu", "cuda": "cuda", "dml": "dml"}
STRUCTURAL_REASON = "DirectML not present: ran on the CPU provider as a structural check, not DML figures"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def peak_rss_mb() -> float:
    """The process's peak resident memory so far: targets run in order in this process.

    DirectML only exists on Windows, which has no `resource` module: there the peak working set
    comes from GetProcessMemoryInfo. On Linux ru_maxrss is in KiB.
    """
    if sys.platform != "win32":
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    from ctypes import wintypes

    class ProcessMemoryCounters(ctypes.Structure):
        _fields_ = [("cb", wintypes.DWORD), ("PageFaultCount", wintypes.DWORD)] + [
            (name, ctypes.c_size_t)
            for name in ("PeakWorkingSetSize", "WorkingSetSize", "QuotaPeakPagedPoolUsage", "QuotaPagedPoolUsage",
                         "QuotaPeakNonPagedPoolUsage", "QuotaNonPagedPoolUsage", "PagefileUsage", "PeakPagefileUsage")
        ]

    counters = ProcessMemoryCounters(cb=ctypes.sizeof(ProcessMemoryCounters))
    kernel32, psapi = ctypes.WinDLL("kernel32"), ctypes.WinDLL("psapi")
    kernel32.GetCurrentProcess.restype = wintypes.HANDLE
    psapi.GetProcessMemoryInfo.argtypes = [wintypes.HANDLE, ctypes.POINTER(ProcessMemoryCounters), wintypes.DWORD]
    psapi.GetProcessMemoryInfo(kernel32.GetCurrentProcess(), ctypes.byref(counters), counters.cb)
    return counters.PeakWorkingSetSize / (1024 * 1024)


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


def without_stop_tokens(tokens: list, stop: set) -> list:
    # The generator keeps the end-of-sequence token it stopped on; the reference answers do not count it.
    while tokens and tokens[-1] in stop:
        tokens = tokens[:-1]
    return tokens


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


def run_target(request: dict, device: str, provider: str, properties: dict) -> dict:
    model_dir = request["model_dir"]
    started = time.perf_counter()
    model = og.Model(make_config(model_dir, provider, properties))
    tokenizer = og.Tokenizer(model)
    load_ms = (time.perf_counter() - started) * 1000
    # Made explicit: ids must equal transformers' tokenizer(text, add_special_tokens=False), and the
    # text of an answer is decoded without special tokens, like the reference answers.
    tokenizer.update_options(add_special_tokens="false", skip_special_tokens="true")
    stop = {int(token) for token in tokenizer.eos_token_ids}
    prompts, template_engines = [], set()
    for prompt in request["prompts"]:
        text, engine = prompt_text(tokenizer, model_dir, prompt["messages"])
        template_engines.add(engine)
        input_ids = [int(token) for token in tokenizer.encode(text)]
        for _ in range(request["warmup"]):
            generate(model, input_ids, request["max_new_tokens"])
        runs, tokens = [], []
        for _ in range(request["repetitions"]):
            new_tokens, measurement = generate(model, input_ids, request["max_new_tokens"])
            tokens = without_stop_tokens(new_tokens, stop)
            runs.append(measurement)
        prompts.append({"id": prompt["id"], "token_ids": tokens, "text": tokenizer.decode(tokens), "runs": runs})
        log(f"{device} ({provider} provider) {prompt['id']}: {len(tokens)} tokens")
    measured_rss_mb = peak_rss_mb()
    extra = {}
    if request.get("perplexity_text"):
        extra["perplexity"] = score_perplexity(model, tokenizer, request["perplexity_text"])
        log(f"{device} perplexity: {extra['perplexity']['value']:.3f} over {extra['perplexity']['tokens']} tokens")
    return {
        **extra,
        "device": device,
        "status": "ran",
        "provider": provider,
        "chat_template": "+".join(sorted(template_engines)),
        "load_ms": load_ms,
        "peak_rss_mb": measured_rss_mb,
        "prompts": prompts,
    }


def main() -> int:
    request, result_path = read_request()

    available, unusable = discover()
    present = [entry["device"] for entry in available]
    if "cuda" in present and any(target["device"] == "cuda" for target in request["targets"]):
        preload_cuda_libraries()

    targets = []
    for target in request["targets"]:
        device = target["device"]
        if device not in GENAI_PROVIDER:
            raise ValueError(f"unknown target {device!r}: expected one of {', '.join(GENAI_PROVIDER)}")
        properties = target.get("properties") or {}
        if device in present:
            targets.append(run_target(request, device, GENAI_PROVIDER[device], properties))
        elif device == "dml" and target.get("structural_fallback"):
            log(f"{STRUCTURAL_REASON}; DML provider options {sorted(properties)} not applied")
            result = run_target(request, device, "cpu", {})
            targets.append({**result, "structural": True, "reason": STRUCTURAL_REASON})
        else:
            reason = f"provider {device} not present (available: {', '.join(present) or 'none'})"
            if device in unusable:
                reason += f": {unusable[device]}"
            targets.append({"device": device, "status": "skipped", "reason": reason})

    write_result(result_path, {"onnxruntime": ort.__version__, "onnxruntime_genai": og.__version__, "available": available, "targets": targets})
    return 0


if __name__ == "__main__":
    sys.exit(main())
