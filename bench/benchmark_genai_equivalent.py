"""What OpenVINO GenAI's benchmark_genai sample does, as the baseline of bench/validate-fidelity:
an LLMPipeline with prefix caching off and no limit on batched tokens (not on the NPU), the prompt
passed as a string with apply_chat_template off, one warm-up, then N generations whose PerfMetrics
are added up; it prints the mean TTFT and TPOT of that sum, as the sample does.

The prompt strings are the recipe's chat prompts with the model's chat template applied, so both
sides prefill the same text; the target's runtime properties are passed, as phiforge passes them.

Usage: python benchmark_genai_equivalent.py <artifact dir> <device> <properties JSON> <max_new_tokens> <iterations> <prompt> [<prompt> ...]
Prints one JSON line: {"ttft_ms": mean, "tpot_ms": mean, "tokens_per_s": mean}.
"""

import json
import sys

import openvino_genai as ov_genai

model_dir, device, properties = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
max_new_tokens, iterations, prompts = int(sys.argv[4]), int(sys.argv[5]), sys.argv[6:]

if device != "NPU":
    scheduler_config = ov_genai.SchedulerConfig()
    scheduler_config.enable_prefix_caching = False
    scheduler_config.max_num_batched_tokens = sys.maxsize
    properties["scheduler_config"] = scheduler_config
pipe = ov_genai.LLMPipeline(model_dir, device, **properties)
tokenizer = pipe.get_tokenizer()
config = ov_genai.GenerationConfig()
config.max_new_tokens = max_new_tokens
config.apply_chat_template = False

total = None
for prompt in prompts:
    text = tokenizer.apply_chat_template([{"role": "user", "content": prompt}], add_generation_prompt=True)
    pipe.generate([text], config)
    for _ in range(iterations):
        metrics = pipe.generate([text], config).perf_metrics
        total = metrics if total is None else total + metrics
print(json.dumps({"ttft_ms": total.get_ttft().mean, "tpot_ms": total.get_tpot().mean, "tokens_per_s": total.get_throughput().mean}))
