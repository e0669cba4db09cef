import type { Gates, ValidateSettings } from '../recipe/schema.js';
import { promptsWithIds } from '../recipe/schema.js';
import type { CheckResult, GateResult, Measurement, NpuBlobUse, PromptReport, ReferenceFile, Spread, TargetReport, TargetRun } from './contract.js';

// The one evaluator of answer checks, reference agreement and gates, whatever backend ran the model.

/** Several devices' verdicts on one artifact: what tables, JUnit and exit codes are made from. */
export interface ValidationReport {
  /** The artifact's name. */
  recipe: string;
  backend: string;
  passed: boolean;
  targets: TargetReport[];
  /** One line per failed check or gate across targets, each naming its target. */
  failures: string[];
  /** Where the figures of each target were measured, when they were not measured just now. */
  measured?: Array<{ device: string; at: string; host: string; reused: boolean }>;
}

export interface TargetEvaluation {
  run: TargetRun;
  gates: Gates;
  settings: ValidateSettings;
  reference?: ReferenceFile;
  /** Similarity of the target's answer to the reference answer, by prompt id. */
  similarity?: Record<string, number>;
  requireDevice: boolean;
  /** The artifact's 4-bit share as its manifest records it (int4_share_min); undefined when it records none. */
  int4Share?: number;
}

const GATE_UNITS: Record<GateResult['gate'], string> = {
  ttft_ms_max: 'ms',
  tpot_ms_max: 'ms',
  tokens_per_s_min: 'tokens/s',
  similarity_min: '',
  match_tokens_min: 'tokens',
  peak_rss_mb_max: 'MiB',
  perplexity_ratio_max: '',
  int4_share_min: '',
  emulated_agreement_min: 'prompts',
};

/** `perRun` has one value per run; `samples` are what the mean pools (per-token durations for TPOT). */
export function spread(perRun: number[], samples: number[] = perRun): Spread {
  const sorted = [...perRun].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
  const pooled = samples.length ? samples : perRun;
  return { median, min: sorted[0], max: sorted[sorted.length - 1], mean: mean(pooled), std: populationStd(pooled) };
}

function mean(values: number[]): number {
  return values.reduce((sum, value) => sum + value, 0) / values.length;
}

function populationStd(values: number[]): number {
  const average = mean(values);
  return Math.sqrt(mean(values.map((value) => (value - average) ** 2)));
}

function matchingPrefix(a: number[], b: number[]): number {
  let index = 0;
  while (index < a.length && index < b.length && a[index] === b[index]) index++;
  return index;
}

/** How a target is named in every report: emulated and structural runs never pass for the real device. */
export function targetLabel(target: { device: string; emulated?: boolean; structural?: boolean }): string {
  if (target.emulated) return `${target.device} (emulated)`;
  if (target.structural) return `${target.device} (structural check on cpu)`;
  return target.device;
}

/** The one line that says what became of a shipped NPU blob, for reports and messages. */
export function describeBlobUse(use: NpuBlobUse): string {
  if (!use.shipped) return 'the artifact ships no compiled blob: the IR was compiled on this runner';
  const runner = use.runner;
  if (use.used) return `imported the shipped blob (compiled for OpenVINO ${runner.openvino}, NPU compiler ${runner.npu_compiler}, driver ${runner.npu_driver}, ${runner.device_architecture})`;
  const show = (value: string | boolean | null) => (value === null ? 'nothing' : String(value));
  const differences = use.mismatches.map((mismatch) => mismatch.why ?? `${mismatch.key} ${show(mismatch.blob)} in the blob, ${show(mismatch.runner)} on this runner`);
  return `the shipped blob was not used: ${differences.join('; ')}`;
}

/** A result whose NPU ran something other than the blob the artifact ships: it says nothing of that blob. */
export function blobNotUsed(report: Pick<TargetReport, 'npu_blob'>): boolean {
  return Boolean(report.npu_blob?.shipped && !report.npu_blob.used);
}

export function evaluateTarget(input: TargetEvaluation): TargetReport {
  const { run } = input;
  const label = targetLabel(run);
  if (run.status === 'skipped' && run.npu_blob) {
    // The runner declined to compile the IR in place of the shipped blob (--require-blob): a failure, never a skip.
    const npuBlob = { shipped: run.npu_blob.shipped, used: false, detail: run.npu_blob.shipped ? describeBlobUse(run.npu_blob) : 'the artifact ships no compiled blob' };
    const failures = [`${label}: ${npuBlob.detail}; --require-blob is set, so the IR was not compiled instead`];
    return { device: run.device, status: 'failed', reason: run.reason, emulated: Boolean(run.emulated), structural: false, npu_blob: npuBlob, prompts: [], gates: [], failures };
  }
  if (run.status === 'skipped') {
    const failures = input.requireDevice ? [`${label}: ${run.reason} and --require-device is set`] : [];
    return { device: run.device, status: input.requireDevice ? 'failed' : 'skipped', reason: run.reason, emulated: false, structural: false, prompts: [], gates: [], failures };
  }
  const expectations = new Map(promptsWithIds(input.settings).map((prompt) => [prompt.id, prompt.expect ?? {}]));
  const referenceById = new Map((input.reference?.answers ?? []).map((answer) => [answer.id, answer]));
  const failures: string[] = [];
  const prompts = run.prompts.map((prompt) => evaluatePrompt(prompt, expectations.get(prompt.id) ?? {}, referenceById.get(prompt.id), input.similarity?.[prompt.id]));
  for (const prompt of prompts) for (const check of prompt.checks) if (!check.passed) failures.push(`${label}: prompt ${prompt.id}: ${check.name}: ${check.detail}`);
  const figures = targetFigures(run);
  const compared = prompts.filter((prompt) => prompt.reference);
  const similarities = compared.map((prompt) => prompt.reference!.similarity).filter((value): value is number => value !== null);
  const agreement = compared.length
    ? {
        prompts: compared.length,
        identical: compared.filter((prompt) => prompt.reference!.identical).length,
        match_tokens_mean: mean(compared.map((prompt) => prompt.reference!.match_tokens)),
        similarity_mean: similarities.length ? mean(similarities) : null,
      }
    : undefined;
  const modelChecks = [...finiteLogits(run), ...runawayRepetition(run, input.reference), ...longContextChecks(run, input.reference)];
  for (const check of modelChecks) if (!check.passed) failures.push(`${label}: ${check.name}: ${check.detail}`);
  const longContext = longContextReport(run, input.reference);
  const perplexity = comparePerplexity(run.perplexity, input.reference?.perplexity);
  // A structural run's figures are another provider's: gates on them would mean nothing. The 4-bit
  // share is a property of the files, so it is gated either way.
  const gates = gateResults(run.structural ? { int4_share_min: input.gates.int4_share_min } : input.gates, run, figures, agreement, perplexity, input.int4Share);
  for (const gate of gates) if (!gate.passed) failures.push(describeGateFailure(label, gate, perplexity?.problem));
  return {
    device: run.device,
    status: failures.length ? 'failed' : 'passed',
    reason: run.structural ? run.reason : undefined,
    emulated: Boolean(run.emulated),
    structural: Boolean(run.structural),
    cpu_agreement: run.cpu_agreement,
    ...(run.npu_blob ? { npu_blob: { shipped: run.npu_blob.shipped, used: run.npu_blob.used, detail: describeBlobUse(run.npu_blob) } } : {}),
    figures,
    agreement,
    perplexity,
    prompts,
    checks: modelChecks,
    ...(longContext ? { long_context: longContext } : {}),
    gates,
    failures,
  };
}

/**
 * How much less the long prompt's next-token logits may correlate with the source model's than
 * those of the same prompt inside the original context. Quantization noise lowers both alike (an
 * INT4 tiny preset: 0.92 and 0.93); long factors applied wrongly leave the inside one as it was and
 * take the long one down (to 0.59 and 0.16 on the tiny presets, far lower on real models).
 */
export const LONG_CONTEXT_MAX_DROP = 0.25;

const DEGENERATE_HINT = 'rebuild with a higher backup precision (quantization.backup_precision: int8_asym, or none to keep them in 16 bits) or a lower quantization.ratio';

/** nan or inf in the logits: the model's numbers overflowed (nncf #2760 on Phi-3-medium INT4). */
function finiteLogits(run: Extract<TargetRun, { status: 'ran' }>): CheckResult[] {
  const check = run.logit_check;
  if (!check) return [];
  const passed = check.nonfinite === 0;
  return [
    {
      name: 'finite_logits',
      passed,
      detail: passed
        ? `the ${check.values} next-token logits after prompt ${check.prompt} are finite`
        : `${check.nonfinite} of the ${check.values} next-token logits after prompt ${check.prompt} are nan or inf: the model computes garbage; ${DEGENERATE_HINT}`,
    },
  ];
}

/**
 * The repeating tail of an answer: the smallest period (1 to 8 tokens) whose repetition fills at
 * least three quarters of the answer, at least 16 tokens and 4 repeats; undefined when there is none.
 * A model gone wrong loops almost from its first token (nan logits give one token throughout); a
 * weak or random one may drift into a loop late, or repeat a token a few times, which this leaves
 * alone.
 */
export function runawayTail(tokens: number[]): { period: number; length: number } | undefined {
  for (let period = 1; period <= 8; period++) {
    let start = tokens.length - period;
    while (start > 0 && tokens[start - 1] === tokens[start - 1 + period]) start--;
    const length = tokens.length - start;
    if (length >= Math.max(16, (tokens.length * 3) / 4) && length / period >= 4) return { period, length };
  }
  return undefined;
}

/**
 * An answer stuck in a loop where the source model's is not (a random or a weak model may loop on
 * its own; that is no fault of the conversion).
 */
function runawayRepetition(run: Extract<TargetRun, { status: 'ran' }>, reference: ReferenceFile | undefined): CheckResult[] {
  if (run.prompts.length === 0) return [];
  const looping = run.prompts.flatMap((prompt) => {
    const tail = runawayTail(prompt.token_ids);
    const source = reference?.answers.find((answer) => answer.id === prompt.id);
    // Without the source model's answer a loop may be the model's own (random weights loop): finite_logits still catches nan.
    if (!tail || !source || runawayTail(source.token_ids)) return [];
    return [`prompt ${prompt.id} repeats a ${tail.period}-token pattern over its last ${tail.length} of ${prompt.token_ids.length} tokens, the source model's answer does not`];
  });
  return [{ name: 'runaway_repetition', passed: looping.length === 0, detail: looping.length ? `${looping.join('; ')}: ${DEGENERATE_HINT}` : 'no answer is stuck in a loop' }];
}

function longContextReport(run: Extract<TargetRun, { status: 'ran' }>, reference: ReferenceFile | undefined): TargetReport['long_context'] {
  const source = reference?.long_context;
  const answer = run.long_context;
  if (!source || !answer) return undefined;
  return {
    prompt_tokens: answer.prompt_tokens,
    original_max_position_embeddings: source.original_max_position_embeddings,
    reference_tokens: source.token_ids.length,
    ...(answer.skipped
      ? { skipped: answer.skipped }
      : {
          text: answer.text,
          match_tokens: matchingPrefix(source.token_ids, answer.token_ids ?? []),
          logit_correlation: answer.logit_correlation ?? null,
          inside_correlation: answer.inside_correlation ?? null,
        }),
  };
}

/** Past the original context LongRoPE switches to its long factors; an exporter that gets them wrong answers garbage there only. */
function longContextChecks(run: Extract<TargetRun, { status: 'ran' }>, reference: ReferenceFile | undefined): CheckResult[] {
  const report = longContextReport(run, reference);
  if (!report || report.skipped) return [];
  const where = `at ${report.prompt_tokens} prompt tokens (the original context is ${report.original_max_position_embeddings})`;
  const { logit_correlation: long, inside_correlation: inside } = report;
  if (long == null || inside == null) {
    // An NPU gives no logits: its answer is reported, and compared like the other prompts'.
    if (!run.logit_check) return [{ name: 'long_context', passed: true, detail: `${where}: ${report.match_tokens} of ${report.reference_tokens} tokens as the source model answers; no logits to compare on this device` }];
    // Logits that were read but give no correlation are nan, inf or constant past the original context.
    return [{ name: 'long_context', passed: false, detail: `${where}: the next-token logits are nan, inf or constant (no correlation with the source model's can be computed): ${DEGENERATE_HINT}` }];
  }
  const passed = long >= inside - LONG_CONTEXT_MAX_DROP;
  return [
    {
      name: 'long_context',
      passed,
      detail: `${where}: next-token logits correlate ${round(long)} with the source model's, against ${round(inside)} inside the original context (at most ${LONG_CONTEXT_MAX_DROP} lower), ${report.match_tokens} of ${report.reference_tokens} tokens as the source model answers${
        passed ? '' : "; the artifact computes positions past the original context differently: its long RoPE factors are wrong (optimum-intel #1504, fixed for Phi-3.5 and Phi-4 in #1744; Olive #1873); rebuild with a converter that has the fix"
      }`,
    },
  ];
}

function gateResults(
  gates: Gates,
  run: Extract<TargetRun, { status: 'ran' }>,
  figures: NonNullable<TargetReport['figures']>,
  agreement: TargetReport['agreement'],
  perplexity: TargetReport['perplexity'],
  int4Share: number | undefined,
): GateResult[] {
  const results: GateResult[] = [];
  const add = (gate: GateResult['gate'], limit: number, value: number | null, promptTokens?: number) => {
    const passed = value !== null && (gate.endsWith('_max') ? value <= limit : value >= limit);
    results.push({ gate, ...(promptTokens ? { prompt_tokens: promptTokens } : {}), limit, value, unit: GATE_UNITS[gate], passed });
  };
  if (typeof gates.ttft_ms_max === 'number') add('ttft_ms_max', gates.ttft_ms_max, figures.ttft_ms.median);
  else if (gates.ttft_ms_max) {
    for (const [length, limit] of Object.entries(gates.ttft_ms_max)) {
      add('ttft_ms_max', limit, figures.sweep?.find((point) => point.prompt_tokens === Number(length))?.ttft_ms.median ?? null, Number(length));
    }
  }
  const single: Array<[GateResult['gate'], number | null]> = [
    ['tpot_ms_max', figures.tpot_ms.median],
    ['tokens_per_s_min', figures.tokens_per_s.median],
    ['similarity_min', agreement?.similarity_mean ?? null],
    ['match_tokens_min', agreement?.match_tokens_mean ?? null],
    ['peak_rss_mb_max', figures.peak_rss_mb],
    ['perplexity_ratio_max', perplexity?.ratio ?? null],
    ['int4_share_min', int4Share ?? null],
  ];
  for (const [gate, value] of single) {
    const limit = gates[gate as keyof Gates];
    if (typeof limit === 'number') add(gate, limit, value);
  }
  // An emulated device must answer like the plain CPU pipeline on every prompt unless the recipe relaxes it.
  if (run.emulated) add('emulated_agreement_min', gates.emulated_agreement_min ?? run.prompts.length, run.cpu_agreement?.identical ?? null);
  return results;
}

function describeGateFailure(label: string, gate: GateResult, perplexityProblem?: string): string {
  const name = `gate ${gate.gate}${gate.prompt_tokens ? ` at ${gate.prompt_tokens} prompt tokens` : ''}`;
  if (gate.value === null) {
    const why =
      gate.gate === 'perplexity_ratio_max'
        ? (perplexityProblem ?? 'set validate.perplexity and keep reference comparison enabled')
        : gate.prompt_tokens
          ? `add ${gate.prompt_tokens} to validate.prompt_tokens`
          : gate.gate === 'emulated_agreement_min'
            ? 'the runner did not compare the emulated device with the CPU pipeline'
            : gate.gate === 'int4_share_min'
              ? "the manifest records no weight counts (an artifact of an older phiforge, or a graph phiforge cannot read): rebuild it"
              : 'is reference comparison enabled?';
    return `${label}: ${name}: not measured (limit ${gate.limit}); ${why}`;
  }
  const unit = gate.unit ? ` ${gate.unit}` : '';
  const measured = gate.gate === 'emulated_agreement_min' ? `the same tokens as the plain CPU pipeline on ${gate.value} prompt(s)` : `measured ${round(gate.value)}${unit}`;
  return `${label}: ${name}: ${measured}, limit ${gate.gate.endsWith('_max') ? '<=' : '>='} ${gate.limit}${unit}`;
}

/**
 * The artifact's perplexity over the source model's on the same text. Both must have scored the same
 * number of tokens: a tokenizer that splits the text differently makes the ratio meaningless.
 */
function comparePerplexity(artifact: { value: number; tokens: number } | undefined, reference: { value: number; tokens: number } | undefined): TargetReport['perplexity'] {
  if (!artifact || !reference) return undefined;
  if (artifact.tokens !== reference.tokens) {
    return { artifact: artifact.value, reference: reference.value, ratio: null, problem: `the artifact's tokenizer split the text into ${artifact.tokens} tokens, the source model's into ${reference.tokens}` };
  }
  return { artifact: artifact.value, reference: reference.value, ratio: artifact.value / reference.value };
}

function latency(measurements: Measurement[]) {
  return {
    ttft_ms: spread(measurements.map((measurement) => measurement.ttft_ms)),
    tpot_ms: spread(
      measurements.map((measurement) => measurement.tpot_ms),
      measurements.flatMap((measurement) => measurement.decode_ms),
    ),
  };
}

function targetFigures(run: Extract<TargetRun, { status: 'ran' }>): NonNullable<TargetReport['figures']> {
  const measurements = run.prompts.flatMap((prompt) => prompt.runs);
  const { ttft_ms, tpot_ms } = latency(measurements);
  const perRunThroughput = spread(measurements.map((measurement) => measurement.tokens_per_s));
  return {
    ttft_ms,
    tpot_ms,
    // GenAI derives its throughput from the pooled TPOT, standard deviation included; so does this.
    tokens_per_s: { ...perRunThroughput, mean: 1000 / tpot_ms.mean, std: (tpot_ms.std * 1000) / tpot_ms.mean ** 2 },
    load_ms: run.load_ms,
    peak_rss_mb: run.peak_rss_mb,
    runs: measurements.length,
    ...(run.sweep ? { sweep: run.sweep.map((point) => ({ prompt_tokens: point.prompt_tokens, ...latency(point.runs), runs: point.runs.length })) } : {}),
  };
}

type Expect = NonNullable<ValidateSettings['prompts'][number]['expect']>;

function evaluatePrompt(prompt: { id: string; token_ids: number[]; text: string }, expect: Expect, reference: ReferenceFile['answers'][number] | undefined, similarity: number | undefined): PromptReport {
  const checks: CheckResult[] = [];
  const shown = JSON.stringify(prompt.text.length > 80 ? `${prompt.text.slice(0, 77)}...` : prompt.text);
  if (expect.not_empty) checks.push({ name: 'not_empty', passed: prompt.text.trim().length > 0, detail: prompt.text.trim() ? 'answer has text' : 'answer is empty' });
  for (const needle of expect.contains === undefined ? [] : [expect.contains].flat()) {
    const passed = prompt.text.toLowerCase().includes(needle.toLowerCase());
    checks.push({ name: 'contains', passed, detail: passed ? `contains "${needle}"` : `answer ${shown} does not contain "${needle}"` });
  }
  if (expect.regex !== undefined) {
    const passed = new RegExp(expect.regex).test(prompt.text);
    checks.push({ name: 'regex', passed, detail: passed ? `matches /${expect.regex}/` : `answer ${shown} does not match /${expect.regex}/` });
  }
  if (expect.min_new_tokens !== undefined) {
    const passed = prompt.token_ids.length >= expect.min_new_tokens;
    checks.push({ name: 'min_new_tokens', passed, detail: `${prompt.token_ids.length} new tokens, limit >= ${expect.min_new_tokens}` });
  }
  return {
    id: prompt.id,
    text: prompt.text,
    new_tokens: prompt.token_ids.length,
    checks,
    reference: reference && {
      text: reference.text,
      reference_tokens: reference.token_ids.length,
      match_tokens: matchingPrefix(reference.token_ids, prompt.token_ids),
      identical: reference.token_ids.length === prompt.token_ids.length && matchingPrefix(reference.token_ids, prompt.token_ids) === prompt.token_ids.length,
      similarity: similarity ?? null,
    },
  };
}

/** Several targets' reports as one verdict on the artifact. */
export function combineReports(recipe: string, backend: string, targets: TargetReport[], measured?: ValidationReport['measured']): ValidationReport {
  const failures = targets.flatMap((target) => target.failures);
  return { recipe, backend, passed: failures.length === 0, targets, failures, ...(measured ? { measured } : {}) };
}

export function round(value: number): number {
  return Math.abs(value) >= 100 ? Math.round(value * 10) / 10 : Math.round(value * 1000) / 1000;
}
