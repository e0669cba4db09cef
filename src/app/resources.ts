import { existsSync } from 'node:fs';
import { readFile, statfs } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Context } from '../context.js';
import { UsageError } from '../errors.js';
import { downloadConfig, resolveCommit } from '../hub/hub.js';
import type { Plan } from '../pipeline/plan.js';
import { modelSize, PRESETS, type ModelShape } from '../recipe/model-files.js';
import { estimateBuild, type BuildEstimate } from './estimate.js';
import { gib } from './system.js';

/** A need against a limit. */
export type Verdict = 'fits' | 'tight' | 'does not fit';

/**
 * Within this share of the limit a need is tight: doctor's estimates are held to 15% of the peaks
 * measured at full size (bench/real-size.mjs), so a step estimated in the last tenth below a limit
 * may well cross it, and other programs' memory comes and goes beside a build.
 */
const TIGHT_FROM = 0.9;

export function verdict(needBytes: number, limitBytes: number): Verdict {
  if (needBytes > limitBytes) return 'does not fit';
  return needBytes > limitBytes * TIGHT_FROM ? 'tight' : 'fits';
}

const WORST: Verdict[] = ['fits', 'tight', 'does not fit'];
const worst = (...verdicts: Verdict[]): Verdict => WORST[Math.max(...verdicts.map((each) => WORST.indexOf(each)))];

export interface StepVerdict {
  /** A step id, or `runner` for validation. */
  step: string;
  /** Memory the step needs at once: its estimate, times --jobs for a build step (that many exports run side by side). */
  memoryBytes: number;
  /** Disk the build has written once this step is done (step outputs stay in the cache; the runner's row adds the artifact). Not multiplied by --jobs. */
  diskBytes: number;
  /** Against this machine's available memory and the free disk where the cache is. */
  machine: Verdict;
  /** Which of the two decides the machine verdict when it is not `fits`. */
  machineLimit?: 'memory' | 'disk';
  /** Against --memory-budget. */
  budget?: Verdict;
}

export interface ResourceCheck {
  estimate?: BuildEstimate;
  /** Why there is no estimate (the model is not there yet, say). */
  unknown?: string;
  /** Where the shape came from when it is not the model's own config.json (a known model's published dimensions). */
  shapeNote?: string;
  warnings: string[];
  /** What this machine has now: MemAvailable (what can be had without swapping) and the free disk at the cache. */
  machine: { availableMemoryBytes: number; freeDiskBytes?: number };
  budget?: { memoryBytes: number; jobs: number };
  /** Per step and the validation runner, in plan order; empty without an estimate. */
  verdicts: StepVerdict[];
}

export interface ResourceOptions {
  /** Fetch config.json from the hub when it is nowhere local. */
  download: boolean;
  /** The memory one machine may give the build (--memory-budget). */
  memoryBudgetBytes?: number;
  /** How many builds run side by side (--jobs): each build step's memory is counted that many times. */
  jobs?: number;
  /** Without any config.json, estimate a model of known dimensions from them (doctor, plan, build; not CI's runner choice, which says it does not know). */
  knownShapes?: boolean;
}

/**
 * Hub models whose dimensions phiforge knows without their config.json: Phi-3-mini (4k and 128k)
 * and Phi-3.5-mini share the full-size preset's matrices (3.82B parameters, bf16), which
 * bench/real-size.mjs measures the estimates against.
 */
const KNOWN_SHAPES: Array<{ id: RegExp; name: string; shape: ModelShape }> = [
  { id: /^microsoft\/phi-3(\.5)?-mini-(4k-|128k-)?instruct$/i, name: "Phi-3-mini's published dimensions", shape: PRESETS['phi3-mini-4k-random'].shape },
];

/** config.json of the plan's model, without running any step: a preset's known shape, a folder, the HF cache, or the hub (config only). */
async function modelConfig(plan: Plan, download: boolean): Promise<ModelShape | undefined> {
  const { model } = plan.recipe.recipe;
  if (model.synthetic) return PRESETS[model.synthetic].shape;
  const modelStep = plan.steps.find((step) => step.kind === 'model-source');
  const local = modelStep && path.join(modelStep.outDir, 'config.json');
  if (local && existsSync(local)) return JSON.parse(await readFile(local, 'utf8')) as ModelShape;
  if (download && model.id && model.revision) {
    const file = await downloadConfig(model.id, await resolveCommit(model.id, model.revision));
    return JSON.parse(await readFile(file, 'utf8')) as ModelShape;
  }
  return undefined;
}

/**
 * Compares what the build will need with what the machine has, and with a memory budget when one is
 * given. A shortfall on this machine is a warning, not an error: estimates are coarse and swap
 * exists, but a build killed for memory exits silently. A budget is enforced by `build` (refuseOverBudget).
 */
export async function checkResources(context: Context, plan: Plan, options: ResourceOptions): Promise<ResourceCheck> {
  const jobs = Math.max(1, options.jobs ?? 1);
  const disk = await statfs(existsSync(context.cacheRoot) ? context.cacheRoot : process.cwd()).catch(() => undefined);
  const machine = { availableMemoryBytes: os.freemem(), freeDiskBytes: disk ? disk.bavail * disk.bsize : undefined };
  const base = { warnings: [] as string[], machine, verdicts: [] as StepVerdict[], ...(options.memoryBudgetBytes === undefined ? {} : { budget: { memoryBytes: options.memoryBudgetBytes, jobs } }) };
  let config: ModelShape | undefined;
  let shapeNote: string | undefined;
  let unknown: string | undefined;
  try {
    config = await modelConfig(plan, options.download);
    if (!config) unknown = 'the model is not available yet (it is generated or downloaded by the build)';
  } catch (error) {
    unknown = `config.json could not be fetched (${(error as Error).message}); pass --model <local folder>`;
  }
  const known = !config && options.knownShapes ? KNOWN_SHAPES.find((each) => each.id.test(plan.recipe.recipe.model.id ?? '')) : undefined;
  if (known) {
    config = known.shape;
    shapeNote = `estimated from ${known.name}: ${unknown}`;
  }
  if (!config) return { ...base, unknown };
  const size = modelSize(config);
  if (!size) return { ...base, unknown: 'config.json lacks the sizes the estimate needs' };
  const estimate = estimateBuild(plan.steps, plan.recipe.recipe, plan.recipe.backend, size);
  const warnings: string[] = [];
  if (estimate.peakMemoryBytes > os.totalmem()) {
    const [heaviest] = Object.entries(estimate.steps).sort((a, b) => b[1].memoryBytes - a[1].memoryBytes);
    warnings.push(`step ${heaviest[0]} needs about ${gib(estimate.peakMemoryBytes)} of memory; this machine has ${gib(os.totalmem())}`);
  }
  if (machine.freeDiskBytes !== undefined && estimate.diskBytes > machine.freeDiskBytes) {
    warnings.push(`the build needs about ${gib(estimate.diskBytes)} of disk; ${gib(machine.freeDiskBytes)} is free where the cache is`);
  }
  return { ...base, estimate, ...(shapeNote ? { shapeNote } : {}), warnings, verdicts: stepVerdicts(estimate, machine, options.memoryBudgetBytes, jobs) };
}

function stepVerdicts(estimate: BuildEstimate, machine: ResourceCheck['machine'], budgetBytes: number | undefined, jobs: number): StepVerdict[] {
  let written = 0;
  // A step that only decides (no shared conversion, no calibration) holds nothing: no row.
  const steps = Object.entries(estimate.steps).filter(([, footprint]) => footprint.memoryBytes > 0 || footprint.diskBytes > 0);
  return steps.map(([step, footprint]) => {
    // Validation runs one artifact at a time, after every export: --jobs never doubles the runner.
    const memoryBytes = step === 'runner' ? footprint.memoryBytes : footprint.memoryBytes * jobs;
    written = step === 'runner' ? estimate.diskBytes : written + footprint.diskBytes;
    const memory = verdict(memoryBytes, machine.availableMemoryBytes);
    const onDisk = machine.freeDiskBytes === undefined ? 'fits' : verdict(written, machine.freeDiskBytes);
    const machineVerdict = worst(memory, onDisk);
    return {
      step,
      memoryBytes,
      diskBytes: written,
      machine: machineVerdict,
      ...(machineVerdict === 'fits' ? {} : { machineLimit: WORST.indexOf(memory) >= WORST.indexOf(onDisk) ? ('memory' as const) : ('disk' as const) }),
      ...(budgetBytes === undefined ? {} : { budget: verdict(memoryBytes, budgetBytes) }),
    };
  });
}

/** Bytes in a size as people write it: 16GiB, 16G and 16g (GiB, as `free -g` and Docker count), 16000MiB, 12.5GiB, 16GB (10^9). */
export function parseSize(text: string): number | { problem: string } {
  const match = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  if (!match) return { problem: /^\s*-/.test(text) ? 'a size cannot be negative' : 'not a size' };
  const units: Record<string, number> = { b: 1, k: 2 ** 10, kib: 2 ** 10, kb: 1e3, m: 2 ** 20, mib: 2 ** 20, mb: 1e6, g: 2 ** 30, gib: 2 ** 30, gb: 1e9, t: 2 ** 40, tib: 2 ** 40, tb: 1e12 };
  if (!match[2]) return { problem: 'the size has no unit' };
  const unit = units[match[2].toLowerCase()];
  if (unit === undefined) return { problem: `unknown unit "${match[2]}"` };
  const bytes = Number(match[1]) * unit;
  if (bytes < 1) return { problem: 'the size is 0' };
  return bytes;
}

/** --memory-budget as bytes, or a usage error that says how to write it; undefined when it was not given. */
export function memoryBudgetOption(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const bytes = parseSize(String(value));
  if (typeof bytes === 'number') return bytes;
  throw new UsageError(`--memory-budget ${JSON.stringify(String(value))}: ${bytes.problem}`, 'Give the memory with its unit: 16GiB (or 16G), 16000MiB, 12.5GiB; GB and MB count powers of 1000.');
}

/**
 * Refuses a build before its first step when any step it plans (validation included, unless it is
 * left out) is estimated above the memory budget, or when --jobs lets exports whose peaks add up
 * above it run side by side. A build whose size is not known is let through with a warning.
 */
export async function refuseOverBudget(context: Context, plans: Array<Plan | Error>, budgetBytes: number, options: { jobs: number; validate: boolean }): Promise<void> {
  const over: string[] = [];
  const peaks: Array<{ name: string; bytes: number }> = [];
  let largestStep = 0;
  for (const plan of plans) {
    if (plan instanceof Error) continue;
    const name = plan.recipe.recipe.name;
    const check = await checkResources(context, plan, { download: false, knownShapes: true, memoryBudgetBytes: budgetBytes });
    if (!check.estimate) {
      context.say(`warning: ${name}: the memory budget cannot be checked: ${check.unknown}`);
      continue;
    }
    peaks.push({ name, bytes: check.estimate.buildMemoryBytes });
    const rows = check.verdicts.filter((row) => row.step !== 'runner' || options.validate);
    largestStep = Math.max(largestStep, ...rows.map((row) => row.memoryBytes));
    const steps = rows.filter((row) => row.budget === 'does not fit').map((row) => `${row.step === 'runner' ? 'validation (the runner)' : `step ${row.step}`} needs about ${gib(row.memoryBytes)} (${gib(row.memoryBytes - budgetBytes)} over)`);
    if (steps.length) over.push(`${name}: ${steps.join(', ')}`);
  }
  const budget = `the memory budget ${gib(budgetBytes)}`;
  if (over.length) {
    throw new UsageError(
      `more than ${budget}: ${over.join('; ')}; nothing was built`,
      `Build on a machine with at least ${gib(largestStep)} (in CI, an export runner label with that much memory: runners.export in phiforge-ci.yaml), choose a recipe that needs less (INT4 instead of FP16, say), or raise --memory-budget.`,
    );
  }
  const together = peaks.sort((a, b) => b.bytes - a.bytes).slice(0, Math.max(1, options.jobs));
  const sum = together.reduce((total, each) => total + each.bytes, 0);
  if (together.length > 1 && sum > budgetBytes) {
    throw new UsageError(
      `with --jobs ${options.jobs}, ${together.map((each) => `${each.name} (${gib(each.bytes)})`).join(' and ')} may export at once: about ${gib(sum)}, more than ${budget}; nothing was built`,
      `--jobs 1 builds one recipe at a time (each alone fits ${budget}).`,
    );
  }
}
