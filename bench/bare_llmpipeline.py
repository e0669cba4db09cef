"""The baseline for bench/validate-fidelity: what a user would write by hand to time an artifact with
OpenVINO GenAI: load, one warm-up and N measured greedy generations per prompt, perf_metrics printed.

Usage: python bare_llmpipeline.py <artifact dir> <device> <properties JSON> <max_new_tokens> <repetitions> <prompt> [<prompt> ...]
(the recipe target's runtime properties, so both sides run the same configuration)
"""

import json
import sys

import openvino_genai as ov_genai

model_dir, device, properties = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
max_new_tokens, repetitions, prompts = int(sys.argv[4]), int(sys.argv[5]), sys.argv[6:]
pipe = ov_genai.LLMPipeline(model_dir, device, **properties)
tokenizer = pipe.get_tokenizer()
config = pipe.get_generation_config()
config.max_new_tokens = max_new_tokens
config.do_sample = False
total = None
for prompt in prompts:
    inputs = tokenizer.encode(tokenizer.apply_chat_template([{"role": "user", "content": prompt}], add_generation_prompt=True), add_special_tokens=False)
    pipe.generate(inputs, config)
    for _ in range(repetitions):
        metrics = pipe.generate(inputs, config).perf_metrics
        total = metrics if total is None else total + metrics
print(json.dumps({"ttft_ms": total.get_ttft().mean, "tpot_ms": total.get_tpot().mean}))
