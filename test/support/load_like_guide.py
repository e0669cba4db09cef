"""Loads an artifact exactly as the Phi-3 on AI PC guide does with optimum-intel (OVModelForCausalLM with
its ov_config) and generates a few tokens greedily.

Usage: python load_like_guide.py <artifact dir> <device>
Prints one JSON line: {"new_tokens": N, "text": "..."}.
"""

import json
import sys

from optimum.intel import OVModelForCausalLM
from transformers import AutoConfig, AutoTokenizer

model_dir, device = sys.argv[1], sys.argv[2]
ov_config = {"PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": "1", "CACHE_DIR": ""}
ov_model = OVModelForCausalLM.from_pretrained(
    model_dir,
    device=device,
    ov_config=ov_config,
    config=AutoConfig.from_pretrained(model_dir, trust_remote_code=True),
    trust_remote_code=True,
)
tokenizer = AutoTokenizer.from_pretrained(model_dir)
prompt = tokenizer.apply_chat_template([{"role": "user", "content": "Can you introduce yourself?"}], tokenize=False, add_generation_prompt=True)
inputs = tokenizer(prompt, return_tensors="pt")
output = ov_model.generate(**inputs, max_new_tokens=8, min_new_tokens=8, do_sample=False)
new_tokens = output[0][inputs["input_ids"].shape[1]:]
print(json.dumps({"new_tokens": int(new_tokens.shape[0]), "text": tokenizer.decode(new_tokens)}))
