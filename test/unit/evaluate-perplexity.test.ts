import { describe, expect, it } from 'vitest';
import { RecipeSchema } from '../../src/recipe/schema.js';
import { validationTable } from '../../src/report/validation.js';
import { evaluate } from '../../src/validate/evaluate.js';
import type { RunnerResult } from '../../src/validate/types.js';

// The perplexity ratio as a user reads it: in the table, in the gate verdict, and refused when the
// artifact's tokenizer did not split the text as the source model's did.

const recipe = RecipeSchema.parse({
  name: 'ppl',
  model: { synthetic: 'phi3-mini-tiny' },
  pipeline: 'openvino',
  quantization: { weight_format: 'fp16' },
  targets: [{ device: 'CPU', gates: { perplexity_ratio_max: 1.1 } }],
  validate: { perplexity: true, reference: { enabled: true } },
});

const run = { ttft_ms: 10, tpot_ms: 2, tokens_per_s: 500, new_tokens: 3, generate_ms: 14, decode_ms: [2, 2] };
function runnerResult(perplexity: { value: number; tokens: number }): RunnerResult {
  return {
    available: [{ device: 'CPU', name: 'test CPU' }],
    targets: [{ device: 'CPU', status: 'ran', load_ms: 5, peak_rss_mb: 100, perplexity, prompts: [{ id: 'p1', token_ids: [1, 2, 3], text: 'hi', runs: [run] }] }],
  };
}
const reference = { answers: [{ id: 'p1', token_ids: [1, 2, 3], text: 'hi' }], perplexity: { value: 20, tokens: 120 } };

describe('perplexity ratio', () => {
  it('divides the artifact perplexity by the source model one and gates it', () => {
    const report = evaluate({ recipe, backend: 'openvino', runs: runnerResult({ value: 25, tokens: 120 }), reference, requireDevice: false });
    expect(report.targets[0].perplexity).toEqual({ artifact: 25, reference: 20, ratio: 1.25 });
    expect(report.passed).toBe(false);
    expect(report.failures).toEqual(['CPU: gate perplexity_ratio_max: measured 1.25, limit <= 1.1']);
    const table = validationTable(report);
    expect(table).toMatch(/ppl ratio\n.*1\.250/);
    expect(table).toContain("CPU: perplexity 25.000 against the source model's 20.000");
  });

  it('gives no ratio when the tokenizers split the text differently, and says why', () => {
    const report = evaluate({ recipe, backend: 'openvino', runs: runnerResult({ value: 21, tokens: 121 }), reference, requireDevice: false });
    expect(report.targets[0].perplexity?.ratio).toBeNull();
    expect(report.failures).toEqual([
      "CPU: gate perplexity_ratio_max: not measured (limit 1.1); the artifact's tokenizer split the text into 121 tokens, the source model's into 120",
    ]);
  });
});
