#!/usr/bin/env python3
"""Generate a random-weights Phi-3 checkpoint in Hugging Face format, in the layout a request gives.

phiforge's tests and demos need checkpoints that the real exporters (optimum-cli for OpenVINO,
onnxruntime-genai's model builder) accept as Phi-3 and that need no model hub: tiny ones that build
in seconds, and one with Phi-3-mini's full dimensions for measuring at real size. This script writes
one deterministically: the same request always yields byte-identical files. The layouts themselves
are declared in phiforge (src/recipe/model-files.ts), which checks recipes against them before any
model exists.

Contract (like every phiforge script):

    python make_synthetic.py --request REQ.json --result RES.json

REQ: {"preset": str, "output_dir": "/abs/existing/empty/dir", "seed": 1234,
      "layout": {"hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                 "num_key_value_heads", "vocab_size", "rope": "default" | "longrope",
                 "max_position_embeddings", "original_max_position_embeddings",
                 "partial_rotary_factor"?, "tie_word_embeddings"?,
                 "tokenizer"?: "phi3" | "phi4", "query_key_scale"?}}
RES: {"preset", "model_type", "hidden_size", "intermediate_size",
      "num_hidden_layers", "vocab_size", "num_parameters", "files"}

Logs go to stderr only; bad input exits with status 2 and a one-line message.
"""

import json
import logging
from pathlib import Path

import torch
from tokenizers import AddedToken, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
from transformers import GenerationConfig, Phi3Config, Phi3ForCausalLM
from transformers import __version__ as TRANSFORMERS_VERSION

from phiforge_io import RequestError, empty_output_dir, run, write_stable_json

log = logging.getLogger("make_synthetic")

INIT_STD = 0.02  # Phi-3's initializer_range
ROPE_THETA = 10000.0
WEIGHTS_DTYPE = torch.bfloat16  # what the real Phi-3 checkpoints ship
LAYOUT_INTS = ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads",
               "vocab_size", "max_position_embeddings", "original_max_position_embeddings")

# --- Tokenizer ------------------------------------------------------------
# Phi-3 reuses Llama-2's SentencePiece layout: <unk>, <s>, </s>, then the 256
# byte-fallback tokens, then the learned pieces.
BASE_SPECIAL_TOKENS = ["<unk>", "<s>", "</s>"]
BYTE_TOKENS = [f"<0x{b:02X}>" for b in range(256)]
BASE_VOCAB_SIZE = 1024  # plays the role of Phi-3's 32000

# Phi-3-mini-4k-instruct's added tokens, in id order from the end of the base
# vocabulary. The chat markers strip whitespace on their right, like Phi-3's.
PHI3_ADDED_TOKENS = [
    ("<|endoftext|>", False),
    ("<|assistant|>", True),
    ("<|placeholder1|>", True),
    ("<|placeholder2|>", True),
    ("<|placeholder3|>", True),
    ("<|placeholder4|>", True),
    ("<|system|>", True),
    ("<|end|>", True),
    ("<|placeholder5|>", True),
    ("<|placeholder6|>", True),
    ("<|user|>", True),
]
EOS_TOKEN = "<|endoftext|>"
# Phi-3's generation_config stops on any of these.
STOP_TOKENS = ["<|endoftext|>", "<|assistant|>", "<|end|>"]

# The tokenizer's size; a layout's vocab_size (embedding rows) may be larger, as Phi-3 pads
# 32011 tokens to 32064 rows.
TOKENIZER_SIZE = BASE_VOCAB_SIZE + len(PHI3_ADDED_TOKENS)

# Phi-3-mini-4k-instruct's chat template.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'system' %}{{'<|system|>\n' + message['content'] + '<|end|>\n'}}"
    "{% elif message['role'] == 'user' %}{{'<|user|>\n' + message['content'] + '<|end|>\n'}}"
    "{% elif message['role'] == 'assistant' %}{{'<|assistant|>\n' + message['content'] + '<|end|>\n'}}"
    "{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% else %}{{ eos_token }}{% endif %}"
)

# Phi-4-mini's tokenizer is of another kind: a GPT-2 style byte-level BPE (tiktoken's o200k) with
# 200k pieces, its special tokens after them and no whitespace after the chat markers.
PHI4_SPECIAL_TOKENS = ["<|endoftext|>", "<|system|>", "<|end|>", "<|user|>", "<|assistant|>", "<|tool|>", "<|/tool|>",
                       "<|tool_call|>", "<|/tool_call|>", "<|tool_response|>", "<|tag|>"]
PHI4_STOP_TOKENS = ["<|end|>", "<|endoftext|>"]

# Embedding rows the phi4 tokenizer leaves unused (Phi-4-mini: 200019 tokens in 200064 rows).
PHI4_PAD_ROWS = 64
PHI4_MIN_ROWS = 4096

# Phi-4-mini-instruct's chat template (tools section included, as it ships).
PHI4_CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'system' and 'tools' in message and message['tools'] is not none %}"
    "{{ '<|' + message['role'] + '|>' + message['content'] + '<|tool|>' + message['tools'] + '<|/tool|>' + '<|end|>' }}"
    "{% else %}{{ '<|' + message['role'] + '|>' + message['content'] + '<|end|>' }}{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>' }}{% else %}{{ eos_token }}{% endif %}"
)

# Built-in training text: plain English with digits and punctuation, enough
# distinct word pairs for BASE_VOCAB_SIZE pieces. Changing it changes the
# tokenizer, so treat it as frozen data.
TRAINING_TEXT = """\
The river runs past the old mill, under two stone bridges, and into the harbour where fishing boats
wait for the morning tide.
Every spring the town holds a market on the square. Farmers bring apples, cheese, honey, bread, and
baskets of fresh vegetables.
Children play near the fountain while their parents talk about the weather, the harvest, and the
price of wood for the winter.
A small library stands at the corner of Green Street and Hill Road. It opens at nine o'clock and
closes at six in the evening.
Inside there are maps of the coast, books about birds and flowers, old newspapers, and a quiet
reading room with large windows.
The librarian keeps a notebook of every question that visitors ask, and she answers most of them
before lunch.
Machines are built from simple parts: levers, wheels, gears, springs, and screws. Each part moves
another part in a careful order.
When an engineer designs a new machine, she first draws a plan, then builds a model, and finally
tests it many times.
Good tests measure speed, strength, temperature, and noise. If a number looks wrong, the engineer
checks the plan again.
Computers follow instructions written by people. A program reads input, changes it step by step, and
writes the result.
Some programs translate text, some draw pictures, some play music, and some help doctors understand
medical images.
A language model predicts the next word in a sentence. It learns patterns from large amounts of text
and uses them to write.
Smaller models run on laptops and phones. They use less memory and less power, which makes them
useful for offline tasks.
To make a model smaller, engineers can store its weights with fewer bits, for example eight bits or
four bits instead of sixteen.
This process is called quantization. It keeps most of the quality while reducing the size of the
files on the disk.
The weather changed quickly that afternoon. Dark clouds came over the mountains, the wind turned
cold, and rain began to fall.
Travellers opened their umbrellas and hurried toward the station, where the evening train was
already twenty minutes late.
A conductor explained that a tree had fallen across the line near the forest, and workers were
clearing the track.
In the kitchen, the cook chops onions, carrots, and garlic, then adds them to a hot pan with a
little olive oil.
After ten minutes she pours in tomatoes, salt, pepper, and a cup of water, and lets the sauce simmer
slowly for an hour.
The smell fills the whole house, and soon everyone gathers around the table, hungry and happy after
a long day of work.
Scientists study the stars with telescopes placed high on mountains, far away from the lights of
cities and roads.
They record the brightness of each star every night and compare the numbers to find planets that
pass in front of it.
One planet moves around its star in only three days, while another takes more than two hundred years
to complete its orbit.
History teaches us how people lived, traded, fought, and built their cities. Old letters and diaries
show their daily thoughts.
Museums protect paintings, tools, clothes, and coins so that students can learn from them for many
years to come.
The teacher asked the class to write a short story about a journey. Some wrote about the sea, others
about the desert.
One student described a walk through a forest at night, with owls calling and the moon shining
between the branches.
Another imagined a city under the ocean, where people travel in glass boats and grow gardens of
green and purple plants.
Numbers appear everywhere: 1, 2, 3, 10, 42, 100, 365, 1024, and 2048. We count, measure, compare,
and calculate with them.
A recipe needs 250 grams of flour, 3 eggs, 100 millilitres of milk, and 2 spoons of sugar. Mix well
and bake for 30 minutes.
The meeting starts at 10:30 on Monday. Please bring your notes, your questions, and a copy of the
report from last week.
Thank you for your help! Could you send me the file again? I think the first version was missing the
last two pages.
Yes, of course. I will check the document, fix the errors, and send a new version before the end of
the day.
Why do leaves change colour in autumn? Trees stop making green chlorophyll, and the yellow and red
colours become visible.
How far is the moon? It is about three hundred and eighty thousand kilometres away, and light
travels there in one second.
What makes a good friend? Someone who listens, tells the truth, shares the good moments, and stays
during the hard ones.
The company released a new version of its software with faster startup, better security, and a
cleaner user interface.
Users reported that the update fixed several bugs, although a few people found that their old
settings had been reset.
The support team wrote a guide that explains each change and shows how to restore the previous
configuration safely.
Music can be loud or soft, fast or slow, happy or sad. Musicians practise scales every day to keep
their fingers strong.
The orchestra played a symphony in four movements, and the audience stood up to applaud when the
final chord ended.
A garden needs sunlight, water, and patience. Seeds planted in March become flowers in June and
vegetables in August.
Bees visit the flowers, carry pollen from plant to plant, and return to the hive to make honey for
the colder months.
Sport keeps the body healthy. Running, swimming, cycling, and climbing all train the heart, the
lungs, and the muscles.
The team won the final match by two goals, and the players celebrated with their coach, their
families, and their fans.
"""




# --- Request handling -----------------------------------------------------


def require_transformers_5() -> None:
    # The config is built with transformers 5's field names (rope_parameters);
    # transformers 4.x would silently drop them and build a plain-RoPE model.
    if int(TRANSFORMERS_VERSION.split(".")[0]) < 5:
        raise RequestError(f"needs transformers >= 5, found {TRANSFORMERS_VERSION}")


def checked_request(request: dict) -> dict:
    """The request with its paths made Path objects; RequestError on any problem."""

    preset = request.get("preset")
    if not isinstance(preset, str) or not preset:
        raise RequestError(f"'preset' must name the preset, got {preset!r}")
    layout = request.get("layout")
    if not isinstance(layout, dict):
        raise RequestError("'layout' must be an object with the model's dimensions")
    for key in LAYOUT_INTS:
        if not isinstance(layout.get(key), int) or isinstance(layout.get(key), bool) or layout[key] <= 0:
            raise RequestError(f"layout.{key} must be a positive integer, got {layout.get(key)!r}")
    if layout.get("rope") not in ("default", "longrope"):
        raise RequestError(f"layout.rope must be default or longrope, got {layout.get('rope')!r}")
    if layout["hidden_size"] % layout["num_attention_heads"] or layout["num_attention_heads"] % layout["num_key_value_heads"]:
        raise RequestError("layout: hidden_size must divide into num_attention_heads, and those into num_key_value_heads")
    kind = layout.get("tokenizer", "phi3")
    if kind not in ("phi3", "phi4"):
        raise RequestError(f"layout.tokenizer must be phi3 or phi4, got {kind!r}")
    if kind == "phi3" and layout["vocab_size"] < TOKENIZER_SIZE:
        raise RequestError(f"layout.vocab_size must be at least the tokenizer's {TOKENIZER_SIZE}")
    if kind == "phi4" and layout["vocab_size"] < PHI4_MIN_ROWS:
        raise RequestError(f"layout.vocab_size must be at least {PHI4_MIN_ROWS} for the phi4 tokenizer")
    scale = layout.get("query_key_scale", 1.0)
    if not isinstance(scale, (int, float)) or isinstance(scale, bool) or scale <= 0:
        raise RequestError(f"layout.query_key_scale must be a positive number, got {scale!r}")

    seed = request.get("seed")
    # bool is a subclass of int in Python; reject it explicitly.
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**63:
        raise RequestError(f"'seed' must be an integer in [0, 2^63), got {seed!r}")

    output_dir = empty_output_dir(request)

    return {"preset": preset, "seed": seed, "output_dir": output_dir, "layout": layout}


# --- Tokenizer ------------------------------------------------------------


def train_tokenizer() -> Tokenizer:
    """Train a SentencePiece-style BPE with byte fallback on TRAINING_TEXT.

    The BPE trainer is deterministic for a fixed input, so no seed is needed.
    """
    trainee = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    # Split the training text the way SentencePiece does for Llama/Phi-3: a
    # piece never spans two words ("▁" only ever starts a piece) and digits
    # stay single characters (split_digits), so no learned merge contains them.
    trainee.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True),
            pre_tokenizers.Digits(individual_digits=True),
        ]
    )
    trainer = trainers.BpeTrainer(
        vocab_size=BASE_VOCAB_SIZE,
        # Listing the byte tokens here pins them to ids 3..258 as in Llama.
        special_tokens=BASE_SPECIAL_TOKENS + BYTE_TOKENS,
        show_progress=False,
    )
    trainee.train_from_iterator(TRAINING_TEXT.splitlines(), trainer=trainer)

    learned = json.loads(trainee.to_str())["model"]
    if len(learned["vocab"]) != BASE_VOCAB_SIZE:
        raise RuntimeError(f"training text too small: learned {len(learned['vocab'])} pieces, need {BASE_VOCAB_SIZE}")
    return build_phi3_tokenizer(learned["vocab"], learned["merges"])


def build_phi3_tokenizer(vocab: dict, merges: list) -> Tokenizer:
    """Assemble the final tokenizer in the layout of Phi-3's tokenizer.json.

    We rebuild instead of reusing the trainee so that the byte tokens become
    ordinary vocabulary entries (the trainer made them added tokens) and the
    pipeline is the converted-SentencePiece one Phi-3 ships: no pre-tokenizer,
    a normalizer that prefixes "▁" and turns spaces into "▁". transformers 5
    loads Phi-3 tokenizers through TokenizersBackend, i.e. uses this file as
    is, and this layout is the one on which HF, openvino_tokenizers and
    onnxruntime-genai's tokenizer agree (a Metaspace pre-tokenizer with
    prepend_scheme "first" makes onnxruntime-genai disagree after special
    tokens and on leading spaces).
    """
    merge_pairs = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in merges]
    tokenizer = Tokenizer(
        models.BPE(vocab=vocab, merges=merge_pairs, unk_token="<unk>", byte_fallback=True, fuse_unk=True)
    )
    tokenizer.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    tokenizer.decoder = decoders.Sequence(
        [decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(" ", 1, 0)]
    )
    tokenizer.add_special_tokens([AddedToken(t, normalized=False, special=True) for t in BASE_SPECIAL_TOKENS])
    tokenizer.add_special_tokens(
        [AddedToken(t, rstrip=rstrip, normalized=False, special=True) for t, rstrip in PHI3_ADDED_TOKENS]
    )
    return tokenizer


def train_phi4_tokenizer(rows: int) -> Tokenizer:
    """A byte-level BPE in the manner of Phi-4-mini's, as large as the embedding allows.

    The training text yields only a couple of thousand merges, far from a large vocabulary; the
    rest are merges of two learned pieces, taken in id order, so that the model's output rows map
    to real text pieces (a random model picks its tokens from all rows) and the converters handle a
    vocabulary and merge list of a large tokenizer's size.
    """
    pieces = rows - PHI4_PAD_ROWS - len(PHI4_SPECIAL_TOKENS)
    trainee = Tokenizer(models.BPE())
    trainee.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(vocab_size=pieces, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    trainee.train_from_iterator(TRAINING_TEXT.splitlines(), trainer=trainer)
    learned = json.loads(trainee.to_str())["model"]
    vocab = dict(learned["vocab"])
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in learned["merges"]]
    by_id = [token for token, _ in sorted(vocab.items(), key=lambda item: item[1])]
    for left in by_id:
        if len(vocab) >= pieces:
            break
        for right in by_id:
            if len(vocab) >= pieces:
                break
            if left + right not in vocab:
                vocab[left + right] = len(vocab)
                merges.append((left, right))
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=merges))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.add_special_tokens([AddedToken(t, normalized=False, special=True) for t in PHI4_SPECIAL_TOKENS])
    return tokenizer


def phi4_tokenizer_config(tokenizer: Tokenizer, model_max_length: int) -> dict:
    """tokenizer_config.json in the shape Phi-4-mini-instruct ships."""
    added = {
        str(tokenizer.token_to_id(t)): {"content": t, "lstrip": False, "normalized": False, "rstrip": False, "single_word": False, "special": True}
        for t in PHI4_SPECIAL_TOKENS
    }
    return {
        "add_bos_token": False,
        "add_eos_token": False,
        "added_tokens_decoder": added,
        "bos_token": "<|endoftext|>",
        "chat_template": PHI4_CHAT_TEMPLATE,
        "clean_up_tokenization_spaces": False,
        "eos_token": "<|endoftext|>",
        "model_max_length": model_max_length,
        "pad_token": "<|endoftext|>",
        "tokenizer_class": "GPT2TokenizerFast",
        "unk_token": "<|endoftext|>",
    }


def tokenizer_config(tokenizer: Tokenizer, model_max_length: int) -> dict:
    """tokenizer_config.json in the shape Phi-3-mini-4k-instruct ships."""
    added = {}
    for content, rstrip in [(t, False) for t in BASE_SPECIAL_TOKENS] + PHI3_ADDED_TOKENS:
        added[str(tokenizer.token_to_id(content))] = {
            "content": content,
            "lstrip": False,
            "normalized": False,
            "rstrip": rstrip,
            "single_word": False,
            "special": True,
        }
    return {
        "add_bos_token": False,
        "add_eos_token": False,
        "added_tokens_decoder": added,
        "bos_token": "<s>",
        "chat_template": CHAT_TEMPLATE,
        "clean_up_tokenization_spaces": False,
        "eos_token": EOS_TOKEN,
        "legacy": False,
        "model_max_length": model_max_length,
        "pad_token": EOS_TOKEN,
        "padding_side": "left",
        # Phi-3 says "LlamaTokenizer"; we ship no SentencePiece model, so name
        # the class that loads tokenizer.json alone in transformers 4.x too.
        "tokenizer_class": "LlamaTokenizerFast",
        "unk_token": "<unk>",
        "use_default_system_prompt": False,
    }


def write_tokenizer(tokenizer: Tokenizer, output_dir: Path, model_max_length: int, kind: str) -> None:
    tokenizer.save(str(output_dir / "tokenizer.json"))
    if kind == "phi4":
        write_stable_json(output_dir / "tokenizer_config.json", phi4_tokenizer_config(tokenizer, model_max_length))
        special = {"bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>", "pad_token": "<|endoftext|>", "unk_token": "<|endoftext|>"}
    else:
        write_stable_json(output_dir / "tokenizer_config.json", tokenizer_config(tokenizer, model_max_length))
        special = {"bos_token": "<s>", "eos_token": EOS_TOKEN, "pad_token": EOS_TOKEN, "unk_token": "<unk>"}
    write_stable_json(output_dir / "special_tokens_map.json", special)


# --- Model ----------------------------------------------------------------


def rope_settings(layout: dict) -> dict:
    """Context length and RoPE parameters, spelled the transformers 5 way (`rope_parameters` with
    `rope_type`); `original_max_position_embeddings` stays a top-level field as in Phi-3.
    """
    rope = {"rope_type": "default", "rope_theta": ROPE_THETA}
    if layout["rope"] == "longrope":
        # Like Phi-3-mini-128k / Phi-3.5-mini: LongRoPE stretching the original context.
        rope = {"rope_type": "longrope", "rope_theta": ROPE_THETA, **longrope_factors(layout)}
    if "partial_rotary_factor" in layout:
        rope["partial_rotary_factor"] = layout["partial_rotary_factor"]
    return {"max_position_embeddings": layout["max_position_embeddings"], "rope_parameters": rope}


def longrope_factors(layout: dict) -> dict:
    """LongRoPE rescale factors, one per rotary frequency pair (rotary dims / 2).

    The curves only need Phi-3's shape: short factors stay near 1, long
    factors grow smoothly towards the low frequencies. They are multiples of
    1/32, which float16 holds exactly: OpenVINO stores the factors as float16
    constants, and a factor off by 1e-4 turns a rotation by a few radians at
    position 5,000, which a random model with sharp attention answers
    differently; the long-context check must see only real mistakes.
    """
    head_dim = layout["hidden_size"] // layout["num_attention_heads"]
    pairs = int(head_dim * layout.get("partial_rotary_factor", 1.0)) // 2
    ramp = [i / (pairs - 1) for i in range(pairs)]
    exact = lambda value: round(value * 32) / 32
    return {
        "short_factor": [exact(1.0 + 0.1 * r**2) for r in ramp],
        "long_factor": [exact(1.0 + 40.0 * r**3) for r in ramp],
    }


def build_config(layout: dict, tokenizer: Tokenizer) -> Phi3Config:
    """A Phi3Config; constructing it runs transformers' own RoPE validation."""
    phi4 = layout.get("tokenizer") == "phi4"
    eos_id = tokenizer.token_to_id(EOS_TOKEN)
    return Phi3Config(
        vocab_size=layout["vocab_size"],
        hidden_size=layout["hidden_size"],
        intermediate_size=layout["intermediate_size"],
        num_hidden_layers=layout["num_hidden_layers"],
        num_attention_heads=layout["num_attention_heads"],
        num_key_value_heads=layout["num_key_value_heads"],
        original_max_position_embeddings=layout["original_max_position_embeddings"],
        initializer_range=INIT_STD,
        bos_token_id=eos_id if phi4 else tokenizer.token_to_id("<s>"),
        eos_token_id=eos_id,
        pad_token_id=eos_id,
        tie_word_embeddings=bool(layout.get("tie_word_embeddings", False)),
        architectures=["Phi3ForCausalLM"],
        **rope_settings(layout),
    )


def build_model(config: Phi3Config, seed: int, query_key_scale: float = 1.0) -> Phi3ForCausalLM:
    """Phi3ForCausalLM with weights drawn from our own seeded generator.

    Filling the parameters ourselves (in sorted name order) keeps the weights a
    function of the seed alone, independent of how a transformers release
    happens to initialise modules.

    query_key_scale widens the query and key projections. At Phi-3's 0.02 everywhere a random
    model's attention is nearly uniform, so where a token sits (and with it RoPE) barely changes
    what it answers; sharper attention makes a random model depend on positions as a trained one
    does, which the long-context check needs to tell right rotary factors from wrong ones.
    """
    # Made on the meta device and then given bf16 storage: a full-size model never exists in fp32,
    # which would need 15 GB for Phi-3-mini's 3.8B parameters.
    with torch.device("meta"):
        model = Phi3ForCausalLM(config)
    model = model.to_empty(device="cpu").to(WEIGHTS_DTYPE)
    # to_empty gives every parameter its own storage, tied ones too: tie them again, or a "tied"
    # checkpoint would carry a separate random output projection.
    model.tie_weights()
    if config.tie_word_embeddings and model.lm_head.weight is not model.model.embed_tokens.weight:
        raise RuntimeError("the output projection is not tied to the embedding")
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in sorted(model.named_parameters()):
            if param.dim() == 1:
                # The only 1-D parameters in Phi-3 are RMSNorm gains.
                param.fill_(1.0)
            else:
                param.copy_(torch.normal(0.0, INIT_STD, size=param.shape, generator=generator))
            if query_key_scale != 1.0 and name.endswith("self_attn.qkv_proj.weight"):
                head_dim = config.hidden_size // config.num_attention_heads
                param[: config.hidden_size + config.num_key_value_heads * head_dim] *= query_key_scale
    # The rotary inverse frequencies are left unset on the meta device: they are not saved, and this
    # script only saves the model; whoever loads it computes them from config.json.
    return model.eval()


def hub_style_config(saved: dict) -> dict:
    """Rewrite transformers 5's config.json in the layout of the Phi-3 Hub repos.

    transformers 5 saves RoPE settings as `rope_parameters`, which
    transformers 4.x and tools built on it silently ignore (a LongRoPE model
    would then load as plain RoPE). The published Phi-3 checkpoints use
    `rope_theta` + `rope_scaling` + `torch_dtype`, which both generations read.
    """
    config = dict(saved)
    rope = config.pop("rope_parameters")
    config["rope_theta"] = rope["rope_theta"]
    if "partial_rotary_factor" in rope:
        # Where Phi-4-mini's config.json has it.
        config["partial_rotary_factor"] = rope["partial_rotary_factor"]
    if rope["rope_type"] == "longrope":
        config["rope_scaling"] = {
            "type": "longrope",
            "long_factor": rope["long_factor"],
            "short_factor": rope["short_factor"],
        }
    else:
        config["rope_scaling"] = None
    config["torch_dtype"] = config.pop("dtype")
    return config


def write_model(model: Phi3ForCausalLM, tokenizer: Tokenizer, output_dir: Path, stop_tokens: list) -> None:
    model.generation_config = GenerationConfig(
        bos_token_id=model.config.bos_token_id,
        eos_token_id=[tokenizer.token_to_id(t) for t in stop_tokens],
        pad_token_id=model.config.pad_token_id,
    )
    model.save_pretrained(output_dir)

    config_path = output_dir / "config.json"
    write_stable_json(config_path, hub_style_config(json.loads(config_path.read_text(encoding="utf-8"))))
    check_config_round_trip(model.config, output_dir)


def check_config_round_trip(expected: Phi3Config, output_dir: Path) -> None:
    """Fail loudly if the rewritten config.json no longer means the same model."""
    want = comparable(expected)
    got = comparable(Phi3Config.from_pretrained(output_dir))
    changed = sorted(k for k in want.keys() | got.keys() if want.get(k) != got.get(k))
    if changed:
        raise RuntimeError(f"config.json does not round-trip through Phi3Config; fields changed: {changed}")


def comparable(config: Phi3Config) -> dict:
    data = config.to_dict()
    # Where a config was loaded from is not part of what it says.
    data.pop("_name_or_path", None)
    # Loading rope_scaling keeps its legacy "type" key beside "rope_type".
    data["rope_parameters"] = {k: v for k, v in data["rope_parameters"].items() if k != "type"}
    # Loading copies a top-level partial_rotary_factor into rope_parameters, which is compared.
    data.pop("partial_rotary_factor", None)
    return data


# --- Output ---------------------------------------------------------------


def generate(request: dict) -> dict:
    output_dir = request["output_dir"]
    layout = request["layout"]
    kind = layout.get("tokenizer", "phi3")
    if kind == "phi4":
        log.info("making a byte-level BPE tokenizer for %d rows", layout["vocab_size"])
        tokenizer = train_phi4_tokenizer(layout["vocab_size"])
    else:
        log.info("training tokenizer (%d base pieces)", BASE_VOCAB_SIZE)
        tokenizer = train_tokenizer()
    write_tokenizer(tokenizer, output_dir, layout["max_position_embeddings"], kind)

    config = build_config(layout, tokenizer)
    log.info(
        "building %s: hidden %d, intermediate %d, %d layers, %d/%d heads, vocab %d, %s",
        request["preset"],
        layout["hidden_size"],
        layout["intermediate_size"],
        layout["num_hidden_layers"],
        layout["num_attention_heads"],
        layout["num_key_value_heads"],
        layout["vocab_size"],
        WEIGHTS_DTYPE,
    )
    model = build_model(config, request["seed"], layout.get("query_key_scale", 1.0))
    write_model(model, tokenizer, output_dir, PHI4_STOP_TOKENS if kind == "phi4" else STOP_TOKENS)

    return {
        "preset": request["preset"],
        "model_type": config.model_type,
        "hidden_size": config.hidden_size,
        "intermediate_size": config.intermediate_size,
        "num_hidden_layers": config.num_hidden_layers,
        "vocab_size": config.vocab_size,
        "num_parameters": sum(p.numel() for p in model.parameters()),
        "files": sorted(p.name for p in output_dir.iterdir()),
    }


def make(request: dict) -> dict:
    require_transformers_5()
    checked = checked_request(request)
    result = generate(checked)
    log.info("wrote %d files to %s", len(result["files"]), checked["output_dir"])
    return result


if __name__ == "__main__":
    run(make, name="make_synthetic", stable=True)
