"""Answers the validation prompts with the source model in plain transformers (FP32, greedy).

These answers are what every artifact is compared against, so they must come from the unconverted
checkpoint, decoded exactly like the runners decode: chat template as text, then tokenized without
extra special tokens, greedy, stopping at the model's end-of-sequence tokens.

Request: {"model_dir": str, "prompts": [{"id": str, "messages": [...]}], "max_new_tokens": int}
Result:  {"answers": [{"id": str, "token_ids": [int], "text": str}], "transformers": str, "torch": str}
"""

import argparse
import json
import sys

import torch
import transformers
from transformers import AutoModelForCausalLM, AutoTokenizer


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--request", required=True)
    parser.add_argument("--result", required=True)
    args = parser.parse_args()
    with open(args.request, encoding="utf-8") as handle:
        request = json.load(handle)

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

    with open(args.result, "w", encoding="utf-8") as handle:
        json.dump({"answers": answers, "transformers": transformers.__version__, "torch": torch.__version__}, handle, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
