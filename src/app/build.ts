import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { MANIFEST_FILE } from '../artifact/manifest.js';
import type { DeviceClass } from '../backends/types.js';
import { ARTIFACT_NAME_HINT, artifactNameProblem, refuseForeignArtifactFolder } from '../cache/ownership.js';
import type { Context } from '../context.js';
import { UsageError } from '../errors.js';
import { executePlan, type BuildResult } from '../engine/build.js';
import { planRecipe, type Plan } from '../pipeline/plan.js';
import { resolveRecipe, type ResolvedRecipe } from '../pipeline/resolve.js';
import type { ValidationReport } from '../validate/evaluate.js';
import { validateArtifact } from '../validate/run-artifact.js';
import type { SigningKey } from '../artifact/keys.js';
import { checkResources, refuseOverBudget } from './resources.js';
import { signAfterBuild, signDeviceResults } from './sign.js';

export interface BuildOptions {
  /** Replace each recipe's model: a local folder or hub id[@revision]. */
  model?: string;
  /** The artifact's name instead of the recipe's (dist/<name>/). */
  name?: string;
  force?: boolean;
  /** Measure the artifacts after building them (--no-validate builds only). */
  validate?: boolean;
  requireDevice?: boolean;
  /** Fail an NPU target whose shipped blob does not fit the runner, rather than compile the IR in its place. */
  requireBlob?: boolean;
  deviceClasses?: DeviceClass[];
  /** How many recipes' artifacts may be built at once; validation always runs one artifact at a time. */
  jobs?: number;
  /** Sign each artifact as it is published (provenance.json), and its device results (--sign-key). */
  signKey?: SigningKey;
  /** Refuse, before the first step, a build with a step estimated above this many bytes (--memory-budget). */
  memoryBudgetBytes?: number;
}

export interface Outcome {
  recipe: string;
  ok: boolean;
  artifact?: string;
  steps?: Array<{ id: string; key: string; reused: boolean; durationMs: number }>;
  validation?: ValidationReport;
  error?: unknown;
}

/**
 * Builds each recipe's artifact, then validates the artifacts one at a time (no latency is measured
 * beside a busy converter). A failing recipe does not stop the others, since a CI matrix wants every
 * verdict; with a single recipe its error is thrown as is.
 */
export async function buildRecipes(context: Context, files: string[], options: BuildOptions = {}): Promise<Outcome[]> {
  if (options.name !== undefined && files.length > 1) throw new UsageError('--name names one artifact, but several recipes were given', 'Build them one at a time, or leave --name out.');
  const nameProblem = options.name === undefined ? undefined : artifactNameProblem(options.name);
  if (nameProblem) throw new UsageError(`--name ${JSON.stringify(options.name)}: ${nameProblem}`, ARTIFACT_NAME_HINT);
  const plans = await planTogether(context, files, options);
  if (options.memoryBudgetBytes !== undefined) await refuseOverBudget(context, plans, options.memoryBudgetBytes, { jobs: options.jobs ?? 1, validate: options.validate !== false });
  const built = await forEachConcurrently(plans, options.jobs ?? 1, async (plan) => {
    if (plan instanceof Error) throw plan;
    await refuseForeignArtifactFolder(context.outRoot, plan.recipe.recipe.name, MANIFEST_FILE);
    await refuseOtherModelsArtifact(context, plan);
    for (const warning of (await checkResources(context, plan, { download: false })).warnings) context.say(`warning: ${warning}`);
    const published = await executePlan(context, plan, { force: options.force, simpleProgress: (options.jobs ?? 1) > 1 });
    await signAfterBuild(context, published.artifactDir, options.signKey);
    return published;
  });
  const outcomes: Outcome[] = [];
  for (const [index, result] of built.entries()) {
    if (result instanceof Error) {
      if (files.length === 1) throw result;
      outcomes.push({ recipe: files[index], ok: false, error: result });
      continue;
    }
    const build: BuildResult = result;
    const steps = build.steps.map(({ id, key, reused, durationMs }) => ({ id, key, reused, durationMs: Math.round(durationMs) }));
    if (options.validate === false) {
      outcomes.push({ recipe: files[index], ok: true, artifact: build.artifactDir, steps });
      continue;
    }
    try {
      // Earlier results stay valid only for the very same bytes; --force measures again.
      const { report, results } = await validateArtifact(context, build.artifactDir, { requireDevice: options.requireDevice ?? false, requireBlob: options.requireBlob, deviceClasses: options.deviceClasses, reuse: !options.force });
      await signDeviceResults(context, build.artifactDir, results, options.signKey);
      outcomes.push({ recipe: files[index], ok: report.passed, artifact: build.artifactDir, steps, validation: report });
    } catch (error) {
      if (files.length === 1) throw error;
      outcomes.push({ recipe: files[index], ok: false, artifact: build.artifactDir, steps, error });
    }
  }
  return outcomes;
}

/**
 * Plans every recipe before any is built, each from its own recipe alone: what the others are or what
 * is cached never changes a plan, so a recipe ships the same bytes however it is built. Each slot
 * holds a plan or that recipe's error.
 */
async function planTogether(context: Context, files: string[], options: BuildOptions): Promise<Array<Plan | Error>> {
  return Promise.all(files.map((file) => resolveRecipe(file, options.model).then((recipe) => planRecipe(context, withName(recipe, options.name))).catch((error: Error) => error)));
}

function withName(recipe: ResolvedRecipe, name: string | undefined): ResolvedRecipe {
  return name === undefined ? recipe : { ...recipe, recipe: { ...recipe.recipe, name } };
}

/**
 * `--model` must never silently replace an artifact made from another model: the name stays the
 * recipe's, so a build from another model into an existing dist/<name> is refused unless it is the
 * same model (a rebuild) or neither build overrode the recipe's model (the recipe itself changed).
 */
async function refuseOtherModelsArtifact(context: Context, plan: Plan): Promise<void> {
  const existing = path.join(context.outRoot, plan.recipe.recipe.name, MANIFEST_FILE);
  if (!existsSync(existing)) return;
  let previous: { model?: { key?: string; override?: string } };
  try {
    // refuseForeignArtifactFolder has read this manifest as a regular file already.
    previous = JSON.parse(await readFile(existing, 'utf8'));
  } catch {
    return;
  }
  const modelKey = plan.steps.find((step) => step.kind === 'model-source')?.key;
  const overridden = plan.recipe.modelOverride !== undefined || previous.model?.override !== undefined;
  if (!overridden || previous.model?.key === modelKey) return;
  const name = plan.recipe.recipe.name;
  const suggestion = `${name}-${path.basename(plan.recipe.modelOverride ?? 'recipe-model').toLowerCase().replace(/[^a-z0-9._-]+/g, '-')}`;
  throw new UsageError(
    `${path.dirname(existing)} holds an artifact built from another model${previous.model?.override ? ` (--model ${previous.model.override})` : ''}; building ${plan.recipe.modelOverride ? `--model ${plan.recipe.modelOverride}` : "the recipe's model"} there would replace it`,
    `Give this artifact its own name: --name ${suggestion} (or --out another folder).`,
  );
}

/** Runs `work` over `items` with at most `limit` at once; each slot holds its result or its error. */
async function forEachConcurrently<T, R>(items: T[], limit: number, work: (item: T) => Promise<R>): Promise<Array<R | Error>> {
  const results: Array<R | Error> = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      try {
        results[index] = await work(items[index]);
      } catch (error) {
        results[index] = error instanceof Error ? error : new Error(String(error));
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(limit, 1), items.length) }, worker));
  return results;
}
