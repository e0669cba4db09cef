import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { Context } from '../../context.js';
import { checkResources } from '../../doctor/resources.js';
import { executePlan, prepareSteps, type ExecuteOptions } from '../../engine/build.js';
import { GateFailedError, PhiforgeError, UsageError } from '../../errors.js';
import { planRecipe } from '../../pipeline/plan.js';
import { loadRecipe, type LoadedRecipe } from '../../recipe/load.js';
import { comparisonTable, validationJunit, validationTable } from '../../report/validation.js';
import type { ValidationReport } from '../../validate/evaluate.js';
import { reportError } from '../report-error.js';

export interface BuildOptions extends ExecuteOptions {
  model?: string;
  junit?: string;
  /** How many recipes' artifacts may be built at once; validation always runs one recipe at a time. */
  jobs?: number;
}

interface Outcome {
  recipe: string;
  ok: boolean;
  artifact?: string;
  steps?: Array<{ id: string; key: string; reused: boolean; durationMs: number }>;
  validation?: ValidationReport;
  error?: unknown;
}

/**
 * Builds (and validates) each recipe in turn. A failing recipe does not stop the others, since a CI
 * matrix wants every verdict; the exit code is the worst of them.
 */
export async function build(context: Context, recipes: string[], options: BuildOptions = {}): Promise<void> {
  await runRecipes(context, recipes.map((file) => () => loadRecipe(file, options.model)), recipes, options);
}

/** Shared by `build` and `validate`: they differ only in where recipes come from and what is forced. */
export async function runRecipes(context: Context, loaders: Array<() => Promise<LoadedRecipe>>, labels: string[], options: BuildOptions): Promise<void> {
  // Refused before anything is built, rather than after a long build has nowhere to report.
  if (options.junit && (await stat(options.junit).then((info) => info.isDirectory(), () => false))) {
    throw new UsageError(`--junit ${options.junit} is a folder`, 'Name the XML file to write, e.g. --junit reports/phiforge.xml.');
  }
  const prepared = await prepareConcurrently(context, loaders, options);
  // What the first pass just built (forced or not) is not built again.
  const execute: ExecuteOptions = options.force === true && prepared.keys.size > 0 ? { ...options, force: (step) => !prepared.keys.has(step.key) } : options;
  const outcomes: Outcome[] = [];
  let worst = 0;
  for (const [index, load] of loaders.entries()) {
    try {
      if (prepared.errors[index]) throw prepared.errors[index];
      const plan = await planRecipe(context, await load());
      for (const warning of (await checkResources(context, plan, { download: false })).warnings) context.say(`warning: ${warning}`);
      const result = await executePlan(context, plan, execute);
      outcomes.push({
        recipe: labels[index],
        ok: result.validation?.passed ?? true,
        artifact: result.artifactDir,
        steps: result.steps.map(({ id, key, reused, durationMs }) => ({ id, key, reused, durationMs: Math.round(durationMs) })),
        validation: result.validation,
      });
      if (!context.json) {
        if (result.validation) process.stdout.write(`${validationTable(result.validation)}\n`);
        process.stdout.write(`built ${path.relative(process.cwd(), result.artifactDir) || result.artifactDir}\n`);
      }
    } catch (error) {
      if (loaders.length === 1) throw error;
      worst = Math.max(worst, reportError(error, { json: false, verbose: context.verbose }));
      outcomes.push({ recipe: labels[index], ok: false, error: error instanceof PhiforgeError ? error.toJSON() : String(error) });
    }
  }
  const reports = outcomes.flatMap((outcome) => (outcome.validation ? [outcome.validation] : []));
  if (!context.json && reports.length > 1) process.stdout.write(`${comparisonTable(reports)}\n`);
  if (options.junit) await writeJunit(options.junit, await validationJunit(reports));
  const summary = { ok: worst === 0 && outcomes.every((outcome) => outcome.ok), results: outcomes };
  const gateFailures = reports.flatMap((report) => report.failures.map((failure) => `${report.recipe}: ${failure}`));
  if (gateFailures.length > 0) throw new GateFailedError(gateFailures, summary);
  if (context.json) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
  if (worst !== 0) process.exitCode = worst;
}

/** Like pytest's --junitxml, creates the report's folder. */
async function writeJunit(file: string, xml: string): Promise<void> {
  const { default: fse } = await import('fs-extra');
  await fse.outputFile(file, xml).catch((error: NodeJS.ErrnoException) => {
    throw new UsageError(`cannot write the JUnit report ${file}: ${error.code ?? error.message}`, 'Pick a path where this user may create files.');
  });
}

/**
 * With --jobs N, first runs what measures nothing (exports, reference answers) for up to N recipes
 * at once; shared steps still run once, under their cache locks. The sequential pass then finds
 * those cached and only measures, so no latency is taken while another recipe is exporting.
 * Returns each recipe's error, if any, and the keys of the steps it ran.
 */
async function prepareConcurrently(context: Context, loaders: Array<() => Promise<LoadedRecipe>>, options: BuildOptions): Promise<{ errors: unknown[]; keys: Set<string> }> {
  const jobs = options.jobs ?? 1;
  const prepared = { errors: [] as unknown[], keys: new Set<string>() };
  if (jobs <= 1 || loaders.length <= 1) return prepared;
  let next = 0;
  const worker = async () => {
    while (next < loaders.length) {
      const index = next++;
      try {
        const keys = await prepareSteps(context, await planRecipe(context, await loaders[index]()), { force: options.force, artifactOnly: options.artifactOnly });
        keys.forEach((key) => prepared.keys.add(key));
      } catch (error) {
        prepared.errors[index] = error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(jobs, loaders.length) }, worker));
  return prepared;
}
