import { sha256 } from '../cache/digest.js';
import type { DeviceClass } from '../backends/types.js';
import { UsageError } from '../errors.js';
import { publishRepo, type CiConfig } from './config.js';

// What the plan job hands to the other jobs: one export leg per recipe, one validate leg per recipe x
// device class, each with everything the workflow needs (runner labels, cache keys and paths), so
// the workflow itself derives nothing in shell. The field names are the workflow's `matrix.<name>`.

/** What phiforge knows about one recipe once it is resolved and planned (app/ci.ts gathers it). */
export interface RecipeFacts {
  /** The recipe file as given, relative to the repository root, with forward slashes. */
  file: string;
  /** The recipe's name: the artifact folder dist/<artifact>. */
  artifact: string;
  /** Device classes of its targets, in recipe order, each once. */
  deviceClasses: DeviceClass[];
  /** The toolchains the build runs (converters), with their lock digests. */
  buildToolchains: ToolchainLock[];
  /** The runtime-only toolchains that may run its targets of each class (validation installs only these). */
  runtimeToolchains: Partial<Record<DeviceClass, ToolchainLock[]>>;
  /** Every step's cache key, in plan order. */
  stepKeys: string[];
  /** The keys of the steps whose outputs live in the step cache (<cache>/steps/<key>); a hub or local model does not. */
  cachedStepKeys: string[];
  /** doctor's estimate; undefined when the model's shape is not known here. */
  estimate?: { exportMemoryBytes: number; diskBytes: number };
  /** Why there is no estimate. */
  estimateUnknown?: string;
  /**
   * A device the build itself needs (the NPU pipeline compiles its blob for the NPU that will run it,
   * and keys that step by the machine): the export runs on that class's runner, and its step outputs
   * cannot be keyed ahead of time.
   */
  exportDeviceClass?: DeviceClass;
}

export interface ToolchainLock {
  name: string;
  lockDigest: string;
}

export interface ExportLeg {
  recipe: string;
  artifact: string;
  /** runs-on */
  labels: string | string[];
  /** The estimated export memory, for people ("29.9 GiB", "unknown"). */
  memory: string;
  /** Part of the venv cache key: the lock digests of the build's toolchains. */
  toolchains_key: string;
  /** The step-output cache key: all of the plan's step keys. */
  steps_key: string;
  /** The step-output folders, one per line (actions/cache `path`). */
  step_paths: string;
  /** Whether the step outputs go to actions/cache (cache.steps, and the estimate within cache.steps_max_gib). */
  cache_steps: boolean;
}

export interface ValidateLeg {
  recipe: string;
  artifact: string;
  device_class: DeviceClass;
  labels: string | string[];
  /** Part of the venv cache key: the lock digests of the runtime toolchains of this class. */
  toolchains_key: string;
}

export interface PublishLeg {
  artifact: string;
  /** <owner>/<name> on the Hugging Face Hub. */
  repo: string;
}

export interface Matrices {
  export: { include: ExportLeg[] };
  validate: { include: ValidateLeg[] };
  /** Things a person should know (a recipe sent to the largest runner for want of an estimate). */
  notes: string[];
}

/** GitHub runs at most this many jobs of one matrix. */
export const MAX_MATRIX_JOBS = 256;

const GIB = 2 ** 30;

export function gibText(bytes: number): string {
  return `${(bytes / GIB).toFixed(1)} GiB`;
}

/** A short, stable digest of what a cache entry depends on. */
function digestOf(parts: string[]): string {
  return sha256(parts.join('\n')).slice(0, 32);
}

function toolchainsKey(toolchains: ToolchainLock[]): string {
  const unique = [...new Map(toolchains.map((toolchain) => [toolchain.name, toolchain])).values()].sort((a, b) => a.name.localeCompare(b.name));
  return `${unique.map((toolchain) => toolchain.name).join('+')}-${digestOf(unique.map((toolchain) => `${toolchain.name}:${toolchain.lockDigest}`))}`;
}

/** The export runner for an estimated memory need: the smallest that holds it, else the largest. */
export function exportRunner(config: CiConfig, memoryBytes: number | undefined): { labels: string | string[]; fits: boolean } {
  const bySize = [...config.runners.export].sort((a, b) => a.memory_gib - b.memory_gib);
  const fitting = memoryBytes === undefined ? undefined : bySize.find((runner) => runner.memory_gib * GIB >= memoryBytes);
  return fitting ? { labels: fitting.labels, fits: true } : { labels: bySize[bySize.length - 1].labels, fits: false };
}

/** The events of a pull request: both run for pull requests from forks. */
const PULL_REQUEST_EVENTS = ['pull_request', 'pull_request_target'];

/** The pull request a run was started for, as GitHub's event payload tells it. */
export interface PullRequestOrigin {
  /** Where its head branch lives, for people: "from owner/fork", "from a fork that no longer exists". */
  from: string;
  /** Its head branch is not in this repository (or that cannot be told): it may not reach self-hosted runners. */
  foreign: boolean;
}

/**
 * Whether the run is for a pull request, and from where: `head.repo.full_name` against
 * `repository.full_name` of the event payload (GITHUB_EVENT_PATH). A deleted fork (head.repo null) or
 * a payload that could not be read counts as foreign. Undefined when the event is not a pull request.
 */
export function pullRequestOrigin(eventName: string | undefined, payload: unknown): PullRequestOrigin | undefined {
  if (eventName === undefined || !PULL_REQUEST_EVENTS.includes(eventName)) return undefined;
  if (payload === undefined) return { from: 'whose event payload (GITHUB_EVENT_PATH) could not be read', foreign: true };
  const event = payload as { pull_request?: { head?: { repo?: { full_name?: unknown } | null } }; repository?: { full_name?: unknown } };
  const head = event.pull_request?.head?.repo?.full_name;
  const repository = event.repository?.full_name;
  if (typeof head !== 'string') return { from: 'from a fork that no longer exists', foreign: true };
  // As GitHub's own `==` in expressions, and as repository names are: without regard to case.
  return { from: `from ${head}`, foreign: typeof repository !== 'string' || head.toLowerCase() !== repository.toLowerCase() };
}

/** Whether a runner is one of the repository's own machines rather than GitHub's. */
export function isSelfHosted(labels: string | string[]): boolean {
  return [labels].flat().some((label) => label.toLowerCase() === 'self-hosted');
}

/**
 * Leaves out, for a pull request that may not use self-hosted runners, every leg that would run on
 * one, and the validate legs of an artifact whose export is left out (they would fail at its
 * download). This only spares the runners a fork's code: a fork's pull request runs the workflow
 * file of the pull request itself, so what enforces it is GitHub's configuration (see ci github).
 */
function leaveOutSelfHosted(config: CiConfig, exports: ExportLeg[], validates: ValidateLeg[], pullRequest: PullRequestOrigin | undefined, notes: string[]) {
  if (!pullRequest || (!pullRequest.foreign && config.runners.self_hosted_pull_requests)) return { exports, validates };
  const why = pullRequest.foreign ? "a fork's code must not run on this repository's machines" : 'runners.self_hosted_pull_requests is false';
  const keptExports = exports.filter((leg) => !isSelfHosted(leg.labels));
  const exported = new Set(keptExports.map((leg) => leg.artifact));
  const keptValidates = validates.filter((leg) => !isSelfHosted(leg.labels) && exported.has(leg.artifact));
  const left = [
    ...exports.filter((leg) => !keptExports.includes(leg)).map((leg) => `export ${leg.artifact} (${labelsText(leg.labels)})`),
    ...validates.filter((leg) => !keptValidates.includes(leg)).map((leg) => `validate ${leg.artifact} on ${leg.device_class} (${isSelfHosted(leg.labels) ? labelsText(leg.labels) : 'its export is left out'})`),
  ];
  if (left.length > 0) notes.push(`pull request ${pullRequest.from}: left out ${left.length} leg(s) on self-hosted runners (${why}): ${left.join('; ')}`);
  return { exports: keptExports, validates: keptValidates };
}

/**
 * The matrix of every job: recipe legs for export, recipe x device class legs for validate. For a
 * pull request (`pullRequest`), legs on self-hosted runners are left out where it may not use them.
 */
export function expandMatrices(config: CiConfig, recipes: RecipeFacts[], pullRequest?: PullRequestOrigin): Matrices {
  const notes: string[] = [];
  const allExports: ExportLeg[] = recipes.map((recipe) => {
    const memoryBytes = recipe.estimate?.exportMemoryBytes;
    const runner = recipe.exportDeviceClass ? { labels: config.runners.devices[recipe.exportDeviceClass], fits: true } : exportRunner(config, memoryBytes);
    const largest = Math.max(...config.runners.export.map((each) => each.memory_gib));
    if (recipe.exportDeviceClass) {
      notes.push(`${recipe.file}: exports on the ${recipe.exportDeviceClass} runner, which its build compiles for${memoryBytes === undefined ? '' : ` (it needs about ${gibText(memoryBytes)} of memory there)`}; its step outputs are not cached (their keys name that machine)`);
    } else if (memoryBytes === undefined) notes.push(`${recipe.file}: no memory estimate (${recipe.estimateUnknown ?? 'unknown model shape'}); its export goes to the largest runner (${largest} GiB)`);
    else if (!runner.fits) notes.push(`${recipe.file}: its export needs about ${gibText(memoryBytes)}, more than the largest export runner (${largest} GiB) has; it goes there anyway`);
    const withinLimit = recipe.estimate !== undefined && recipe.estimate.diskBytes <= config.cache.steps_max_gib * GIB;
    const cacheSteps = config.cache.steps && withinLimit && recipe.cachedStepKeys.length > 0 && !recipe.exportDeviceClass;
    if (config.cache.steps && !withinLimit && !recipe.exportDeviceClass) {
      notes.push(
        `${recipe.file}: step outputs not kept in actions/cache (${recipe.estimate ? `about ${gibText(recipe.estimate.diskBytes)} written` : 'size unknown'}; cache.steps_max_gib is ${config.cache.steps_max_gib})`,
      );
    }
    return {
      recipe: recipe.file,
      artifact: recipe.artifact,
      labels: runner.labels,
      memory: memoryBytes === undefined ? 'unknown' : gibText(memoryBytes),
      toolchains_key: toolchainsKey(recipe.buildToolchains),
      steps_key: digestOf(recipe.stepKeys),
      step_paths: recipe.cachedStepKeys.map((key) => `${config.cache.dir}/steps/${key}`).join('\n'),
      cache_steps: cacheSteps,
    };
  });
  const allValidates: ValidateLeg[] = recipes.flatMap((recipe) =>
    recipe.deviceClasses.map((deviceClass) => ({
      recipe: recipe.file,
      artifact: recipe.artifact,
      device_class: deviceClass,
      labels: config.runners.devices[deviceClass],
      toolchains_key: toolchainsKey(recipe.runtimeToolchains[deviceClass] ?? []),
    })),
  );
  const { exports, validates } = leaveOutSelfHosted(config, allExports, allValidates, pullRequest, notes);
  for (const [job, legs] of [['export', exports.length], ['validate', validates.length]] as const) {
    if (legs > MAX_MATRIX_JOBS) {
      throw new UsageError(`the ${job} job would have ${legs} legs; GitHub runs at most ${MAX_MATRIX_JOBS} jobs of one matrix`, 'Split the recipes between workflows (each with its own globs), or fewer device classes per recipe.');
    }
  }
  return { export: { include: exports }, validate: { include: validates }, notes };
}

/** What the publish job publishes: the artifacts whose every device class passed. */
export function publishLegs(config: CiConfig, artifacts: string[]): { include: PublishLeg[] } {
  return { include: artifacts.map((artifact) => ({ artifact, repo: publishRepo(config, artifact) })) };
}

function labelsText(labels: string | string[]): string {
  return Array.isArray(labels) ? labels.join(', ') : labels;
}

/** The plan job's step summary: what runs where, and why. */
export function matrixSummary(matrices: Matrices): string {
  const cell = (text: string) => text.replaceAll('|', '\\|').replaceAll('\n', ' ');
  const lines = [
    '### phiforge plan',
    '',
    '| recipe | artifact | export runner | export memory (estimate) | step outputs cached | validated on |',
    '| --- | --- | --- | --- | --- | --- |',
    ...matrices.export.include.map((leg) => {
      const classes = matrices.validate.include.filter((each) => each.artifact === leg.artifact).map((each) => `${each.device_class} (${labelsText(each.labels)})`);
      return `| ${[leg.recipe, leg.artifact, labelsText(leg.labels), leg.memory, leg.cache_steps ? 'yes' : 'no', classes.join(', ')].map(cell).join(' | ')} |`;
    }),
    '',
    ...matrices.notes.map((note) => `- ${cell(note)}`),
  ];
  return `${lines.join('\n')}\n`;
}
