import type { Gates, Recipe } from '../recipe/schema.js';
import { promptsWithIds } from '../recipe/schema.js';
import type { Perplexity, ReferenceAnswers, RunnerResult, SimilarityResult, TargetRun } from './types.js';

// The one evaluator of answer checks, reference agreement and gates, whatever backend ran the model.

/**
 * Median and range across the measured runs (robust to a stray slow run, so gates use the median),
 * plus mean and standard deviation pooled over every sample the way OpenVINO GenAI aggregates its
 * PerfMetrics: the figures benchmark_genai would print for the same runs.
 */
export interface Spread {
  median: number;
  min: number;
  max: number;
  mean: number;
  std: number;
}

export interface CheckResult {
  name: string;
  passed: boolean;
  detail: string;
}

export interface GateResult {
  gate: keyof Gates;
  limit: number;
  value: number | null;
  unit: string;
  passed: boolean;
}

export interface PromptReport {
  id: string;
  text: string;
  new_tokens: number;
  checks: CheckResult[];
  reference?: { text: string; reference_tokens: number; match_tokens: number; identical: boolean; similarity: number | null };
}

export interface TargetReport {
  device: string;
  status: 'passed' | 'failed' | 'skipped';
  reason?: string;
  emulated: boolean;
  structural: boolean;
  cpu_agreement?: { prompts: number; identical: number };
  figures?: { ttft_ms: Spread; tpot_ms: Spread; tokens_per_s: Spread; load_ms: number; peak_rss_mb: number; runs: number };
  agreement?: { prompts: number; identical: number; match_tokens_mean: number; similarity_mean: number | null };
  /** With validate.perplexity: the artifact's and the source model's perplexity on the text, and their ratio. */
  perplexity?: { artifact: number; reference: number; ratio: number | null; problem?: string };
  prompts: PromptReport[];
  gates: GateResult[];
}

export interface ValidationReport {
  recipe: string;
  backend: string;
  passed: boolean;
  available: Array<{ device: string; name: string }>;
  targets: TargetReport[];
  /** One line per failed check or gate: what, measured value, limit. */
  failures: string[];
}

export interface EvaluationInput {
  recipe: Recipe;
  backend: string;
  runs: RunnerResult;
  reference?: ReferenceAnswers;
  similarity?: SimilarityResult;
  requireDevice: boolean;
}

const GATE_UNITS: Record<keyof Gates, string> = {
  ttft_ms_max: 'ms',
  tpot_ms_max: 'ms',
  tokens_per_s_min: 'tokens/s',
  similarity_min: '',
  match_tokens_min: 'tokens',
  peak_rss_mb_max: 'MiB',
  perplexity_ratio_max: '',
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

export function evaluate(input: EvaluationInput): ValidationReport {
  const expectations = new Map(promptsWithIds(input.recipe.validate).map((prompt) => [prompt.id, prompt.expect ?? {}]));
  const referenceById = new Map((input.reference?.answers ?? []).map((answer) => [answer.id, answer]));
  const similarityOf = new Map((input.similarity?.pairs ?? []).map((pair, index) => [`${pair.device}\u0000${pair.prompt}`, input.similarity!.similarities[index]]));
  const failures: string[] = [];

  const targets = input.runs.targets.map((run, index): TargetReport => {
    // A structural run's figures are another provider's: gates on them would mean nothing.
    const gates = run.structural ? {} : (input.recipe.targets[index]?.gates ?? {});
    const label = targetLabel(run);
    if (run.status === 'skipped') {
      if (input.requireDevice) failures.push(`${label}: ${run.reason} and --require-device is set`);
      return { device: run.device, status: input.requireDevice ? 'failed' : 'skipped', reason: run.reason, emulated: Boolean(run.emulated), structural: false, prompts: [], gates: [] };
    }
    const prompts = (run.prompts ?? []).map((prompt) => evaluatePrompt(prompt, expectations.get(prompt.id) ?? {}, referenceById.get(prompt.id), similarityOf.get(`${run.device}\u0000${prompt.id}`)));
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
    const perplexity = comparePerplexity(run.perplexity, input.reference?.perplexity);
    const measured: Record<keyof Gates, number | null> = {
      ttft_ms_max: figures.ttft_ms.median,
      tpot_ms_max: figures.tpot_ms.median,
      tokens_per_s_min: figures.tokens_per_s.median,
      similarity_min: agreement?.similarity_mean ?? null,
      match_tokens_min: agreement?.match_tokens_mean ?? null,
      peak_rss_mb_max: figures.peak_rss_mb,
      perplexity_ratio_max: perplexity?.ratio ?? null,
    };
    const gateResults = (Object.entries(gates) as Array<[keyof Gates, number | undefined]>)
      .filter((entry): entry is [keyof Gates, number] => entry[1] !== undefined)
      .map(([gate, limit]) => {
        const value = measured[gate];
        const passed = value !== null && (gate.endsWith('_max') ? value <= limit : value >= limit);
        return { gate, limit, value, unit: GATE_UNITS[gate], passed };
      });
    for (const gate of gateResults) {
      if (gate.passed) continue;
      failures.push(
        gate.value === null
          ? `${label}: gate ${gate.gate}: not measured (limit ${gate.limit}); ${gate.gate === 'perplexity_ratio_max' ? (perplexity?.problem ?? 'set validate.perplexity and keep reference comparison enabled') : 'is reference comparison enabled?'}`
          : `${label}: gate ${gate.gate}: measured ${round(gate.value)}${gate.unit ? ` ${gate.unit}` : ''}, limit ${gate.gate.endsWith('_max') ? '<=' : '>='} ${gate.limit}${gate.unit ? ` ${gate.unit}` : ''}`,
      );
    }
    const failed = gateResults.some((gate) => !gate.passed) || prompts.some((prompt) => prompt.checks.some((check) => !check.passed));
    return { device: run.device, status: failed ? 'failed' : 'passed', reason: run.structural ? run.reason : undefined, emulated: Boolean(run.emulated), structural: Boolean(run.structural), cpu_agreement: run.cpu_agreement, figures, agreement, perplexity, prompts, gates: gateResults };
  });

  return { recipe: input.recipe.name, backend: input.backend, passed: failures.length === 0, available: input.runs.available, targets, failures };
}

/**
 * The artifact's perplexity over the source model's on the same text. Both must have scored the same
 * number of tokens: a tokenizer that splits the text differently makes the ratio meaningless.
 */
function comparePerplexity(artifact: Perplexity | undefined, reference: Perplexity | undefined): TargetReport['perplexity'] {
  if (!artifact || !reference) return undefined;
  if (artifact.tokens !== reference.tokens) {
    return { artifact: artifact.value, reference: reference.value, ratio: null, problem: `the artifact's tokenizer split the text into ${artifact.tokens} tokens, the source model's into ${reference.tokens}` };
  }
  return { artifact: artifact.value, reference: reference.value, ratio: artifact.value / reference.value };
}

/** How a target is named in every report: emulated and structural runs never pass for the real device. */
export function targetLabel(target: { device: string; emulated?: boolean; structural?: boolean }): string {
  if (target.emulated) return `${target.device} (emulated)`;
  if (target.structural) return `${target.device} (structural check on cpu)`;
  return target.device;
}

function targetFigures(run: TargetRun) {
  const measurements = (run.prompts ?? []).flatMap((prompt) => prompt.runs);
  const tpot = spread(
    measurements.map((measurement) => measurement.tpot_ms),
    measurements.flatMap((measurement) => measurement.decode_ms),
  );
  const perRunThroughput = spread(measurements.map((measurement) => measurement.tokens_per_s));
  return {
    ttft_ms: spread(measurements.map((measurement) => measurement.ttft_ms)),
    tpot_ms: tpot,
    // GenAI derives its throughput from the pooled TPOT, standard deviation included; so does this.
    tokens_per_s: { ...perRunThroughput, mean: 1000 / tpot.mean, std: (tpot.std * 1000) / tpot.mean ** 2 },
    load_ms: run.load_ms ?? 0,
    peak_rss_mb: run.peak_rss_mb ?? 0,
    runs: measurements.length,
  };
}

type Expect = NonNullable<Recipe['validate']['prompts'][number]['expect']>;

function evaluatePrompt(
  prompt: { id: string; token_ids: number[]; text: string },
  expect: Expect,
  reference: ReferenceAnswers['answers'][number] | undefined,
  similarity: number | undefined,
): PromptReport {
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

export function round(value: number): number {
  return Math.abs(value) >= 100 ? Math.round(value * 10) / 10 : Math.round(value * 1000) / 1000;
}
