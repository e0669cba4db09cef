"""Answers the validation prompts with the source model in plain transformers (FP32, greedy).

These answers are what every artifact is compared against, so they must come from the unconverted
checkpoint, decoded exactly like the runners decode: chat template as text, then tokenized without
extra special tokens, greedy, stopping at the model's end-of-sequence tokens.

With "perplexity_text", the model also scores that text (tokenized without special tokens), for the
perplexity ratio of each artifact.

The result is reference.json, which ships inside the artifact (src/validate/contract.ts defines it):
the answers, the settings they were asked with, and the source model's perplexity.

Request: {"model_dir": str, "prompts": [{"id": str, "messages": [...]}], "max_new_tokens": int,
          "perplexity_text": str?}
"""

import sys

import torch
import transformers
from perplexity import perplexity
from phiforge_io import run
from transformers import AutoModelForCausalLM, AutoTokenizer


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
    model = AutoModelForCausalLM.from_pretrained(request["model_dir"], dtype=torch.float32)
    model.eval()

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
    if request.get("perplexity_text"):
        token_ids = tokenizer(request["perplexity_text"], add_special_tokens=False)["input_ids"]
        with torch.no_grad():
            logits = model(torch.tensor([token_ids])).logits[0]
        result["perplexity"] = perplexity(logits.float().numpy(), token_ids)
        print(f"reference perplexity: {result['perplexity']['value']:.3f} over {len(token_ids)} tokens", file=sys.stderr)
    return result


if __name__ == "__main__":
    run(answer, name="reference_answers", fields={"model_dir": str, "prompts": list, "max_new_tokens": int}, stable=True)
