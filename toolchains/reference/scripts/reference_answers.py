"""Answers the validation prompts with the source model in plain transformers (FP32, greedy).

These answers are what every artifact is compared against, so they must come from the unconverted
checkpoint, decoded exactly like the runners decode: chat template as text, then tokenized without
extra special tokens, greedy, stopping at the model's end-of-sequence tokens.

With "perplexity_text", the model also scores that text (tokenized without special tokens), for the
perplexity ratio of each artifact.

For a LongRoPE model (rope type longrope, original_max_position_embeddings below
max_position_embeddings) the model also answers a prompt longer than its original context: a fixed
text with one fact in its middle and a question about that fact, about 1,000 tokens past the
original context, where the long factors take over from the short ones. Its answer and its
next-token logits go into reference.json ("long_context") for the runners to compare with.

The result is reference.json, which ships inside the artifact (src/validate/contract.ts defines it):
the answers, the settings they were asked with, and the source model's perplexity.

Memory: the weights stay in the checkpoint's own dtype (bf16 for Phi-3: 7.6 GB at full size, where a
float32 copy of the model would add 15.3 GB), and each module computes in float32 with a float32
copy of its own weights made for its forward (see compute_in_float32). Upcasting bf16 or fp16 to
float32 is exact, so every matmul sees the very weights a float32 model holds and runs the same
float32 kernels on the same float32 activations: reference.json is byte for byte what a model
converted to float32 at load writes. "float32_copy": true in the request loads it that way instead,
for comparing the two (test/e2e/reference-memory.test.ts).

Request: {"model_dir": str, "prompts": [{"id": str, "messages": [...]}], "max_new_tokens": int,
          "perplexity_text": str?, "float32_copy": bool?}
"""

import json
import sys
from pathlib import Path

import torch
import transformers
from perplexity import perplexity
from phiforge_io import RequestError, run
from transformers import AutoModelForCausalLM, AutoTokenizer


LONG_CONTEXT_ID = "long-context"
# How far past the original context the long prompt reaches.
LONG_CONTEXT_MARGIN = 1000
# Decimals kept of each reference logit: enough for a correlation, a tenth of the JSON.
LOGIT_DECIMALS = 4

LONG_CONTEXT_FILLER = (
    "The harbour town wakes early. Fishing boats leave before sunrise, the baker opens his shutters, "
    "and the ferry to the island sounds its horn twice at half past six. Along the quay, nets are mended, "
    "crates of ice are stacked, and the market stalls are set out in the same order every morning: "
    "bread first, then fish, then vegetables, flowers and tools. Visitors walk to the lighthouse at the "
    "end of the pier, where a plaque lists the storms the town has survived since the old wall was built."
)
LONG_CONTEXT_FACT = "Note for the reader: the lighthouse keeper's dog is called Juniper, and it sleeps by the red door."
LONG_CONTEXT_QUESTION = "According to the text above, what is the lighthouse keeper's dog called?"


# safetensors dtypes that upcast to float32 exactly.
EXACT_IN_FLOAT32 = {"BF16": torch.bfloat16, "F16": torch.float16, "F32": torch.float32}


def checkpoint_dtype(model_dir: str) -> torch.dtype:
    """The one floating dtype of every tensor in the folder's safetensors files (read from their
    headers), or float32 when there is none or more than one: loading in a dtype the checkpoint does
    not hold everywhere would round some weight, and the answers would no longer be float32's."""
    found = set()
    for file in sorted(Path(model_dir).glob("*.safetensors")):
        with open(file, "rb") as handle:
            length = int.from_bytes(handle.read(8), "little")
            header = json.loads(handle.read(length))
        found.update(entry["dtype"] for name, entry in header.items() if name != "__metadata__")
    if len(found) == 1 and next(iter(found)) in EXACT_IN_FLOAT32:
        return EXACT_IN_FLOAT32[next(iter(found))]
    return torch.float32


def compute_in_float32(model) -> int:
    """Makes every module that owns weights in a narrower dtype compute with float32 copies of them,
    written just before its forward into a float32 buffer of their shape: at most one buffer per
    distinct weight shape exists beside the checkpoint-dtype model (0.8 GB for Phi-3-mini, the
    embedding's and each projection's), reused for every layer and every token, where a fresh copy per
    forward would cost the kernel's page faults on 15 GB a token. The embedding then returns float32,
    so every activation, the attention mask and the RoPE tables (built in the activations' dtype) are
    float32 as in a float32 model. Returns how many modules."""
    kept = {}
    buffers = {}
    busy = set()

    def upcast(module, _args):
        for name, param in module.named_parameters(recurse=False):
            if param.dtype == torch.float32:
                continue
            shape = tuple(param.shape)
            # A buffer still in use (a module running inside another of the same weight shape) is not shared.
            shared = shape not in busy
            if shared and shape not in buffers:
                buffers[shape] = torch.empty(shape, dtype=torch.float32)
            buffer = buffers[shape] if shared else torch.empty(shape, dtype=torch.float32)
            if shared:
                busy.add(shape)
            buffer.copy_(param.data)
            kept[(id(module), name)] = (param.data, shape if shared else None)
            param.data = buffer

    def restore(module, _args, _output):
        for name, param in module.named_parameters(recurse=False):
            original = kept.pop((id(module), name), None)
            if original is not None:
                param.data = original[0]
                busy.discard(original[1])

    count = 0
    for module in model.modules():
        if any(param.dtype != torch.float32 for param in module.parameters(recurse=False)):
            module.register_forward_pre_hook(upcast)
            module.register_forward_hook(restore)
            count += 1
    return count


def load_model(model_dir: str, float32_copy: bool):
    dtype = torch.float32 if float32_copy else checkpoint_dtype(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype)
    model.eval()
    if dtype == torch.float32:
        print("reference weights: float32 in memory", file=sys.stderr)
    else:
        count = compute_in_float32(model)
        print(f"reference weights: {str(dtype).removeprefix('torch.')} in memory (as in the checkpoint), computed in float32 one module at a time ({count} modules)", file=sys.stderr)
    return model


def long_rope(config) -> bool:
    rope = getattr(config, "rope_parameters", None) or getattr(config, "rope_scaling", None) or {}
    kind = rope.get("rope_type") or rope.get("type")
    original = getattr(config, "original_max_position_embeddings", None)
    return kind == "longrope" and bool(original) and original < config.max_position_embeddings


def long_context_prompt(tokenizer, count: int) -> tuple:
    """Messages of `count` filler paragraphs with the fact in their middle and the question last, and their prompt's ids."""
    paragraphs = [LONG_CONTEXT_FILLER] * count
    paragraphs.insert(count // 2, LONG_CONTEXT_FACT)
    messages = [{"role": "user", "content": "\n\n".join(paragraphs) + "\n\n" + LONG_CONTEXT_QUESTION}]
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return messages, tokenizer(text, add_special_tokens=False)["input_ids"]


def long_context_prompts(tokenizer, original: int) -> tuple:
    """The long prompt, about LONG_CONTEXT_MARGIN tokens past the original context, and the same
    prompt with fewer paragraphs that stays inside it: with the short factors, where an exporter's
    LongRoPE mistakes do not show, it measures how closely the artifact follows the source model
    anyway (quantization noise, a random model's sensitivity), which the long one is held to."""
    per_paragraph = len(tokenizer(LONG_CONTEXT_FILLER + "\n\n", add_special_tokens=False)["input_ids"])
    count = max(2, (original + LONG_CONTEXT_MARGIN) // per_paragraph)
    messages, ids = long_context_prompt(tokenizer, count)
    while len(ids) <= original:
        count += 1 + (original - len(ids)) // per_paragraph
        messages, ids = long_context_prompt(tokenizer, count)
    inside = count - (len(ids) - original) // per_paragraph - 2
    inside_messages, inside_ids = long_context_prompt(tokenizer, inside)
    while len(inside_ids) >= original:
        inside -= 1
        inside_messages, inside_ids = long_context_prompt(tokenizer, inside)
    return (messages, ids), (inside_messages, inside_ids)


def last_logits(model, ids: list) -> list:
    with torch.no_grad():
        logits = model(torch.tensor([ids]), logits_to_keep=1).logits[0, -1].float()
    return [round(float(value), LOGIT_DECIMALS) for value in logits]


def greedy(model, input_ids: list, max_new_tokens: int) -> list:
    with torch.no_grad():
        output = model.generate(torch.tensor([input_ids]), attention_mask=torch.ones(1, len(input_ids), dtype=torch.long), max_new_tokens=max_new_tokens, do_sample=False)
    new_tokens = output[0][len(input_ids):].tolist()
    eos = model.generation_config.eos_token_id
    eos_ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
    # generate() keeps the end-of-sequence token; runners do not report it.
    while new_tokens and new_tokens[-1] in eos_ids:
        new_tokens.pop()
    return new_tokens


def answer(request: dict) -> dict:
    settings = {"prompts": request["prompts"], "max_new_tokens": request["max_new_tokens"]}
    if request.get("perplexity_text"):
        settings["perplexity_text"] = request["perplexity_text"]
    result = {"schema": "phiforge.reference/1", "settings": settings, "answers": [], "made_with": {"transformers": transformers.__version__, "torch": torch.__version__}}
    if not request["prompts"] and not request.get("perplexity_text"):
        # The recipe compares with no reference: nothing to load the model for.
        return result

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(request["model_dir"])
    if not isinstance(request.get("float32_copy", False), bool):
        raise RequestError("'float32_copy' must be bool")
    model = load_model(request["model_dir"], request.get("float32_copy", False))

    answers = []
    for prompt in request["prompts"]:
        text = tokenizer.apply_chat_template(prompt["messages"], tokenize=False, add_generation_prompt=True)
        inputs = tokenizer(text, return_tensors="pt", add_special_tokens=False)
        with torch.no_grad():
            output = model.generate(**inputs, max_new_tokens=request["max_new_tokens"], do_sample=False)
        new_tokens = output[0][inputs["input_ids"].shape[1]:].tolist()
        eos = model.generation_config.eos_token_id
        eos_ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
        # generate() keeps the end-of-sequence token; runners do not report it.
        while new_tokens and new_tokens[-1] in eos_ids:
            new_tokens.pop()
        answers.append({"id": prompt["id"], "token_ids": new_tokens, "text": tokenizer.decode(new_tokens, skip_special_tokens=True)})
        print(f"reference answer {prompt['id']}: {len(new_tokens)} tokens", file=sys.stderr)

    result["answers"] = answers
    if long_rope(model.config):
        (messages, ids), (inside_messages, inside_ids) = long_context_prompts(tokenizer, model.config.original_max_position_embeddings)
        new_tokens = greedy(model, ids, request["max_new_tokens"])
        result["long_context"] = {
            "id": LONG_CONTEXT_ID,
            "messages": messages,
            "prompt_tokens": len(ids),
            "original_max_position_embeddings": model.config.original_max_position_embeddings,
            "token_ids": new_tokens,
            "text": tokenizer.decode(new_tokens, skip_special_tokens=True),
            "logits": last_logits(model, ids),
            "inside": {"messages": inside_messages, "prompt_tokens": len(inside_ids), "logits": last_logits(model, inside_ids)},
        }
        print(f"reference answer {LONG_CONTEXT_ID}: {len(ids)}-token prompt, {len(new_tokens)} tokens", file=sys.stderr)
    if request.get("perplexity_text"):
        token_ids = tokenizer(request["perplexity_text"], add_special_tokens=False)["input_ids"]
        with torch.no_grad():
            logits = model(torch.tensor([token_ids])).logits[0]
        result["perplexity"] = perplexity(logits.float().numpy(), token_ids)
        print(f"reference perplexity: {result['perplexity']['value']:.3f} over {len(token_ids)} tokens", file=sys.stderr)
    return result


if __name__ == "__main__":
    run(answer, name="reference_answers", fields={"model_dir": str, "prompts": list, "max_new_tokens": int}, stable=True)
