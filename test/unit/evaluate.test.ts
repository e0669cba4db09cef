import { describe, expect, it } from 'vitest';
import { RecipeSchema } from '../../src/backends/index.js';
import { validationTable } from '../../src/report/validation.js';
import type { ReferenceFile, TargetRun } from '../../src/validate/contract.js';
import { combineReports, evaluateTarget, runawayTail } from '../../src/validate/evaluate.js';

// The verdicts a user reads: the perplexity ratio (in the table, in the gate, refused when the
// tokenizers split the text differently), the emulated NPU's agreement with the CPU pipeline, and
// TTFT gates per prompt length of the latency sweep.

const recipe = RecipeSchema.parse({
  name: 'ppl',
  model: { synthetic: 'phi3-mini-tiny' },
  pipeline: 'openvino',
  quantization: { weight_format: 'fp16' },
  targets: [{ device: 'CPU', gates: { perplexity_ratio_max: 1.1 } }],
  validate: { perplexity: true, reference: { enabled: true } },
});

const measurement = (ttft: number) => ({ ttft_ms: ttft, tpot_ms: 2, tokens_per_s: 500, new_tokens: 3, generate_ms: 14, decode_ms: [2, 2] });
function ran(extra: Partial<Extract<TargetRun, { status: 'ran' }>> = {}): TargetRun {
  return { device: 'CPU', status: 'ran', load_ms: 5, peak_rss_mb: 100, prompts: [{ id: 'p1', token_ids: [1, 2, 3], text: 'hi', runs: [measurement(10)] }], ...extra };
}
const reference: ReferenceFile = {
  schema: 'phiforge.reference/1',
  settings: { prompts: [{ id: 'p1', messages: [{ role: 'user', content: 'hi' }] }], max_new_tokens: 8 },
  answers: [{ id: 'p1', token_ids: [1, 2, 3], text: 'hi' }],
  perplexity: { value: 20, tokens: 120 },
  made_with: {},
};
const evaluate = (run: TargetRun, gates = recipe.targets[0].gates ?? {}) => evaluateTarget({ run, gates, settings: recipe.validate, reference, requireDevice: false });

describe('int4_share_min', () => {
  it("gates the 4-bit share the manifest records, and says a manifest without weight counts cannot pass it", () => {
    const gates = { int4_share_min: 0.5 };
    const low = evaluateTarget({ run: ran(), gates, settings: recipe.validate, reference, requireDevice: false, int4Share: 0.424 });
    expect(combineReports('a', 'openvino', [low]).failures).toEqual(['CPU: gate int4_share_min: measured 0.424, limit >= 0.5']);
    expect(evaluateTarget({ run: ran(), gates, settings: recipe.validate, reference, requireDevice: false, int4Share: 0.61 }).status).toBe('passed');
    // The share is the files', not a measurement: a run on another provider (structural) still gates it.
    const structural = evaluateTarget({ run: ran({ structural: true } as Partial<Extract<TargetRun, { status: 'ran' }>>), gates, settings: recipe.validate, reference, requireDevice: false, int4Share: 0.424 });
    expect(structural.failures).toEqual(['CPU (structural check on cpu): gate int4_share_min: measured 0.424, limit >= 0.5']);
    const unknown = evaluateTarget({ run: ran(), gates, settings: recipe.validate, reference, requireDevice: false });
    expect(unknown.failures[0]).toMatch(/int4_share_min: not measured \(limit 0\.5\); the manifest records no weight counts/);
  });
});

describe('perplexity ratio', () => {
  it('divides the artifact perplexity by the source model one and gates it', () => {
    const target = evaluate(ran({ perplexity: { value: 25, tokens: 120 } }));
    expect(target.perplexity).toEqual({ artifact: 25, reference: 20, ratio: 1.25 });
    const report = combineReports('ppl', 'openvino', [target]);
    expect(report.passed).toBe(false);
    expect(report.failures).toEqual(['CPU: gate perplexity_ratio_max: measured 1.25, limit <= 1.1']);
    const table = validationTable(report);
    expect(table).toMatch(/ppl ratio\n.*1\.250/);
    expect(table).toContain("CPU: perplexity 25.000 against the source model's 20.000");
  });

  it('gives no ratio when the tokenizers split the text differently, and says why', () => {
    const target = evaluate(ran({ perplexity: { value: 21, tokens: 121 } }));
    expect(target.perplexity?.ratio).toBeNull();
    expect(target.failures).toEqual(["CPU: gate perplexity_ratio_max: not measured (limit 1.1); the artifact's tokenizer split the text into 121 tokens, the source model's into 120"]);
  });
});

describe('an emulated device', () => {
  const npu = (identical: number) => ran({ device: 'NPU', emulated: true, cpu_agreement: { prompts: 1, identical } });

  it('fails, naming the gate, when its tokens differ from the plain CPU pipeline', () => {
    const target = evaluate(npu(0), {});
    expect(target.status).toBe('failed');
    expect(target.failures).toEqual(['NPU (emulated): gate emulated_agreement_min: the same tokens as the plain CPU pipeline on 0 prompt(s), limit >= 1 prompts']);
  });

  it('passes when they agree, and a recipe may relax the count', () => {
    expect(evaluate(npu(1), {}).status).toBe('passed');
    expect(evaluate(npu(0), { emulated_agreement_min: 0 }).status).toBe('passed');
  });
});

describe('TTFT gates on the latency sweep', () => {
  const sweep = [
    { prompt_tokens: 128, runs: [measurement(20), measurement(22), measurement(90)] },
    { prompt_tokens: 1024, runs: [measurement(200), measurement(210), measurement(205)] },
  ];

  it('gates each named prompt length on its median, and says when a length was not measured', () => {
    const target = evaluate(ran({ sweep }), { ttft_ms_max: { 128: 50, 1024: 150, 4096: 999 } });
    expect(target.figures?.sweep?.map((point) => [point.prompt_tokens, point.ttft_ms.median])).toEqual([
      [128, 22],
      [1024, 205],
    ]);
    expect(target.failures).toEqual([
      'CPU: gate ttft_ms_max at 1024 prompt tokens: measured 205 ms, limit <= 150 ms',
      'CPU: gate ttft_ms_max at 4096 prompt tokens: not measured (limit 999); add 4096 to validate.prompt_tokens',
    ]);
  });
});

describe('degenerate output', () => {
  it('fails a target whose logits hold nan or inf, with a hint towards a higher backup precision or a lower ratio', () => {
    const target = evaluate(ran({ logit_check: { prompt: 'p1', values: 1152, nonfinite: 1152 } }), {});
    expect(target.status).toBe('failed');
    expect(target.failures).toEqual([expect.stringMatching(/^CPU: finite_logits: 1152 of the 1152 next-token logits after prompt p1 are nan or inf: .*backup_precision.*lower quantization\.ratio/)]);
    expect(evaluate(ran({ logit_check: { prompt: 'p1', values: 1152, nonfinite: 0 } }), {}).status).toBe('passed');
  });

  it('fails an answer stuck in a loop when the source model answers without one, and not when the source model loops too', () => {
    const loop = [5, 6, 7, ...Array.from({ length: 20 }, (_, index) => [9, 4][index % 2])];
    const target = evaluate(ran({ prompts: [{ id: 'p1', token_ids: loop, text: 'x', runs: [measurement(10)] }] }), {});
    expect(target.failures).toEqual([expect.stringMatching(/^CPU: runaway_repetition: prompt p1 repeats a 2-token pattern over its last 20 of 23 tokens, the source model's answer does not: rebuild with a higher backup precision/)]);
    const loopingSource = { ...reference, answers: [{ id: 'p1', token_ids: Array(20).fill(3), text: 'x' }] };
    const random = evaluateTarget({ run: ran({ prompts: [{ id: 'p1', token_ids: loop, text: 'x', runs: [measurement(10)] }] }), gates: {}, settings: recipe.validate, reference: loopingSource, requireDevice: false });
    expect(random.failures).toEqual([]);
  });

  it('leaves a loop alone when there is no source answer to tell the conversion from the model', () => {
    const loop = [5, 6, 7, ...Array.from({ length: 20 }, (_, index) => [9, 4][index % 2])];
    const unreferenced = evaluateTarget({ run: ran({ prompts: [{ id: 'p1', token_ids: loop, text: 'x', runs: [measurement(10)] }] }), gates: {}, settings: recipe.validate, reference: { ...reference, answers: [] }, requireDevice: false });
    expect(unreferenced.failures).toEqual([]);
  });

  it('finds the repeating tail of an answer, and none in a varied one', () => {
    expect(runawayTail(Array(16).fill(1))).toEqual({ period: 1, length: 16 });
    expect(runawayTail([7, ...Array(6).fill([1, 2, 3]).flat()])).toEqual({ period: 3, length: 18 });
    expect(runawayTail(Array.from({ length: 32 }, (_, index) => index))).toBeUndefined();
    // Too short an answer to call its repetition runaway: a random model may repeat a token 8 times.
    expect(runawayTail(Array(8).fill(5))).toBeUndefined();
    // A loop drifted into late, as random and weak models do.
    expect(runawayTail([...Array.from({ length: 16 }, (_, index) => index), ...Array(16).fill(9)])).toBeUndefined();
  });
});

describe('long context', () => {
  const longReference: ReferenceFile = {
    ...reference,
    long_context: {
      id: 'long-context',
      messages: [{ role: 'user', content: 'long' }],
      prompt_tokens: 5100,
      original_max_position_embeddings: 4096,
      token_ids: [4, 5, 6],
      text: 'abc',
      logits: [],
      inside: { messages: [{ role: 'user', content: 'shorter' }], prompt_tokens: 4000, logits: [] },
    },
  };
  const longRun = (correlation: number | null, inside: number | null = 0.9, skipped?: string) =>
    ran({ long_context: skipped ? { id: 'long-context', prompt_tokens: 5100, skipped } : { id: 'long-context', prompt_tokens: 5100, token_ids: [4, 9], text: 'ax', logit_correlation: correlation, inside_correlation: inside } });
  const judge = (run: TargetRun) => evaluateTarget({ run, gates: {}, settings: recipe.validate, reference: longReference, requireDevice: false });

  it('passes when the next-token logits past the original context follow the source model about as well as inside it, and reports the comparison', () => {
    const target = judge(longRun(0.82));
    expect(target.status).toBe('passed');
    expect(target.long_context).toEqual({ prompt_tokens: 5100, original_max_position_embeddings: 4096, reference_tokens: 3, text: 'ax', match_tokens: 1, logit_correlation: 0.82, inside_correlation: 0.9 });
    // Quantization noise that lowers both alike is no LongRoPE mistake.
    expect(judge(longRun(0.45, 0.6)).status).toBe('passed');
  });

  it('fails when they fall off past the original context, naming the length, the original context and the LongRoPE trap', () => {
    const target = judge(longRun(0.5, 0.98));
    expect(target.failures).toEqual([expect.stringMatching(/^CPU: long_context: at 5100 prompt tokens \(the original context is 4096\): next-token logits correlate 0\.5 with the source model's, against 0\.98 inside the original context \(at most 0\.25 lower\).*long RoPE factors are wrong/)]);
  });

  it('fails when logits were read but give no correlation (nan, inf or constant past the original context); passes a device that gives no logits', () => {
    const withLogits = (run: TargetRun) => ({ ...run, logit_check: { prompt: 'p1', values: 1152, nonfinite: 0 } }) as TargetRun;
    const broken = judge(withLogits(longRun(null, 0.9)));
    expect(broken.failures).toEqual([expect.stringMatching(/^CPU: long_context: at 5100 prompt tokens .*nan, inf or constant/)]);
    expect(judge(longRun(null, null)).status).toBe('passed');
  });

  it('skips, with the reason, a target whose compiled model takes shorter prompts', () => {
    const target = judge(longRun(null, null, 'the compiled model takes prompts of at most 1024 tokens'));
    expect(target.status).toBe('passed');
    expect(target.long_context?.skipped).toContain('at most 1024 tokens');
  });
});
