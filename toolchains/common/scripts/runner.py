"""The runner loop every backend shares: which targets run, warm-up and timed repetitions, the latency
sweep, stop tokens, peak memory. A backend's runner script (run_genai.py, run_ortgenai.py) supplies
only what differs: how devices are discovered, how a target's model is opened, and how one greedy
generation is timed. The request and runs.json are defined in src/validate/contract.ts
(schema/runner-request.schema.json, schema/runs.schema.json).

A backend object has:
    versions() -> {package: version}
    discover() -> (available [{"device", "name"}], unusable {device: why its runtime cannot use it})
    placement(target, present) -> "run" | "emulate" | "structural" | None (not present: skipped)
    open(request, target, placement) -> a session
A session has:
    chat_ids(messages) -> prompt token ids (chat template applied as text, no extra special tokens)
    text_ids(text) -> token ids of plain text
    generate(ids, max_new_tokens) -> (new token ids, measurement dict)  one greedy generation, timed
    stop_tokens: set of ids a generation may end on (left out of reported answers)
    decode(ids) -> text
    last_logits(ids) -> the next-token logits after ids (one prefill, a 1-D array), or None where the
        device cannot give them (a compiled NPU model); may free the generation pipeline, so it is
        called after every generation
    finish(prompts) -> dict of extra target fields (perplexity, cpu agreement ...); may free the model

Two checks of the logits themselves run on every target that can give them:
- finite logits: a prefill of the first prompt must give no nan or inf (an INT4 model whose weights
  overflow, nncf #2760, answers from nan logits);
- long context (when the request has "long_context", the prompt that reference.json made longer than
  the model's original context): the artifact answers it once, and its next-token logits are
  compared with the source model's (Pearson correlation over the whole vocabulary), as are those
  after the same prompt cut to stay inside the original context.
"""

import sys
import time

import numpy as np

MEASUREMENT_KEYS = ("ttft_ms", "tpot_ms", "tokens_per_s", "new_tokens", "generate_ms", "decode_ms")

FIELDS = {"model_dir": str, "max_new_tokens": int, "repetitions": int, "warmup": int, "prompts": list, "targets": list}


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
    import ctypes
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


def without_stop_tokens(tokens: list, stop: set) -> list:
    # A generation keeps the end-of-sequence token it stopped on; the reference answers do not count it.
    while tokens and tokens[-1] in stop:
        tokens = tokens[:-1]
    return tokens


def measure(session, ids: list, max_new_tokens: int, repetitions: int, warmup: int) -> tuple:
    """Warm-up generations, then timed ones; every one starts from the full prompt (nothing reused)."""
    for _ in range(warmup):
        session.generate(ids, max_new_tokens)
    runs, tokens = [], []
    for _ in range(repetitions):
        new_tokens, measurement = session.generate(ids, max_new_tokens)
        missing = [key for key in MEASUREMENT_KEYS if key not in measurement]
        if missing:
            raise RuntimeError(f"the backend's measurement lacks {missing}")
        runs.append(measurement)
        tokens = without_stop_tokens(new_tokens, session.stop_tokens)
    return tokens, runs


def sweep_prompt(session, text: str, length: int) -> list:
    """Exactly `length` tokens of `text`, repeated as often as it takes."""
    unit = session.text_ids(text)
    if not unit:
        raise RuntimeError("the sweep text tokenizes to nothing")
    ids = []
    while len(ids) < length:
        ids.extend(unit)
    return ids[:length]


def run_target(request: dict, target: dict, backend, placement: str) -> dict:
    started = time.perf_counter()
    session = backend.open(request, target, placement)
    load_ms = (time.perf_counter() - started) * 1000
    device = target["device"]
    prompts = []
    for prompt in request["prompts"]:
        tokens, runs = measure(session, session.chat_ids(prompt["messages"]), request["max_new_tokens"], request["repetitions"], request["warmup"])
        prompts.append({"id": prompt["id"], "token_ids": tokens, "text": session.decode(tokens), "runs": runs})
        log(f"{device} {prompt['id']}: {len(tokens)} tokens")
    sweep = []
    for length in request.get("prompt_tokens") or []:
        _tokens, runs = measure(session, sweep_prompt(session, request["sweep_text"], length), request["max_new_tokens"], request["repetitions"], request["warmup"])
        sweep.append({"prompt_tokens": length, "runs": runs})
        log(f"{device} {length}-token prompt: TTFT {sorted(run['ttft_ms'] for run in runs)[len(runs) // 2]:.1f} ms")
    long_context = request.get("long_context")
    long_ids = session.chat_ids(long_context["messages"]) if long_context else None
    long_answer = None
    if long_context:
        limit = getattr(session, "max_prompt_tokens", None)
        if limit is not None and len(long_ids) > limit:
            long_answer = {"id": long_context["id"], "prompt_tokens": len(long_ids), "skipped": f"the compiled model takes prompts of at most {limit} tokens"}
        else:
            new_tokens, _ = session.generate(long_ids, request["max_new_tokens"])
            tokens = without_stop_tokens(new_tokens, session.stop_tokens)
            long_answer = {"id": long_context["id"], "prompt_tokens": len(long_ids), "token_ids": tokens, "text": session.decode(tokens)}
            log(f"{device} {long_context['id']}: {len(long_ids)}-token prompt, {len(tokens)} tokens")
    # Read before the logits and finish(), which may load a second model (perplexity, an emulation cross-check).
    measured_rss_mb = peak_rss_mb()
    logit_check = None
    if request["prompts"]:
        logits = session.last_logits(session.chat_ids(request["prompts"][0]["messages"]))
        if logits is not None:
            logit_check = {"prompt": request["prompts"][0]["id"], "values": int(logits.size), "nonfinite": int((~np.isfinite(logits)).sum())}
    if long_answer and "skipped" not in long_answer:
        logits = session.last_logits(long_ids)
        long_answer["logit_correlation"] = None if logits is None else correlation(logits, long_context["reference_logits"])
        inside = None if logits is None else session.last_logits(session.chat_ids(long_context["inside_messages"]))
        long_answer["inside_correlation"] = None if inside is None else correlation(inside, long_context["inside_reference_logits"])
    extra = session.finish(prompts)
    result = {"device": device, "status": "ran", "load_ms": load_ms, "peak_rss_mb": measured_rss_mb, "prompts": prompts, **extra}
    if sweep:
        result["sweep"] = sweep
    if logit_check:
        result["logit_check"] = logit_check
    if long_answer:
        result["long_context"] = long_answer
    return result


def correlation(logits, reference: list):
    """Pearson correlation of two logit vectors; None when either is constant or not finite (nothing to compare)."""
    ours = np.asarray(logits, dtype=np.float64).ravel()
    theirs = np.asarray(reference, dtype=np.float64).ravel()
    if ours.size != theirs.size:
        raise RuntimeError(f"the artifact has {ours.size} logits, the reference {theirs.size}: not the same vocabulary")
    if not (np.isfinite(ours).all() and np.isfinite(theirs).all()):
        return None
    ours, theirs = ours - ours.mean(), theirs - theirs.mean()
    norm = np.linalg.norm(ours) * np.linalg.norm(theirs)
    return float(ours @ theirs / norm) if norm > 0 else None


def run_request(request: dict, backend) -> dict:
    """Every target of the request: run it, emulate it, run it structurally, or say why it is skipped."""
    if request.get("prompt_tokens") and not request.get("sweep_text"):
        from phiforge_io import RequestError

        raise RequestError("prompt_tokens needs sweep_text")
    available, unusable = backend.discover()
    present = [entry["device"] for entry in available]
    targets = []
    for target in request["targets"]:
        placement = backend.placement(target, present)
        if placement is None:
            device = target["device"]
            reason = f"device {device} not present (available: {', '.join(present) or 'none'})"
            if device in unusable:
                reason += f": {unusable[device]}"
            targets.append({"device": device, "status": "skipped", "reason": reason})
            continue
        targets.append(run_target(request, target, backend, placement))
    return {"runtime": backend.versions(), "available": available, "targets": targets}
