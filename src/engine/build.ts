import { copyFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Listr, ListrLogger, ProcessOutput } from 'listr2';
import { publishArtifact } from '../artifact/publish.js';
import { getOrProduce } from '../cache/step-cache.js';
import { cachePath, type Context } from '../context.js';
import { OutputCheckError } from '../errors.js';
import type { Plan } from '../pipeline/plan.js';
import { buildManifest, type ToolchainRecord } from '../report/manifest.js';
import type { CommandWork, PlannedStep, StepOutput } from '../steps/types.js';
import { ensureVenv } from '../toolchain/venv.js';
import { collectValidation } from '../validate/collect.js';
import type { ValidationReport } from '../validate/evaluate.js';
import { formatCommandLine, runCommand } from './command.js';

export interface BuildResult {
  recipe: string;
  artifactDir: string;
  steps: StepOutput[];
  validation?: ValidationReport;
}

export function useSimpleRenderer(): boolean {
  return !process.stderr.isTTY || Boolean(process.env.CI) || process.env.TERM === 'dumb';
}

export interface ExecuteOptions {
  /** Run steps again although cached: all of them, or those the function picks. */
  force?: boolean | ((step: PlannedStep) => boolean);
  /** A target whose device is absent fails validation instead of being skipped (device runners in CI). */
  requireDevice?: boolean;
  /** Run only what the artifact's files need (no validation): for rebuilding them to compare bytes. */
  artifactOnly?: boolean;
}

/** The artifact step and every step it depends on, in plan order. */
function artifactSteps(plan: Plan): PlannedStep[] {
  const needed = new Set([plan.pipeline.artifact]);
  for (const step of [...plan.steps].reverse()) if (needed.has(step.id)) step.needs.forEach((need) => needed.add(need));
  return plan.steps.filter((step) => needed.has(step.id));
}

/** Runs the plan's steps in order (reusing cached outputs), evaluates validation, then publishes the artifact atomically. */
export async function executePlan(context: Context, plan: Plan, options: ExecuteOptions = {}): Promise<BuildResult> {
  const name = plan.recipe.recipe.name;
  const { outputs, toolchains } = await runSteps(context, plan, options.artifactOnly ? artifactSteps(plan) : plan.steps, options, useSimpleRenderer());

  const validation = !options.artifactOnly && plan.pipeline.validation && (await collectValidation(plan.recipe.recipe, plan.pipeline.validation, outputs, options.requireDevice ?? false));
  const artifactStep = outputs.find((output) => output.id === plan.pipeline.artifact)!;
  const artifactDir = await publishArtifact(
    context.outRoot,
    name,
    artifactStep.dir,
    artifactStep.files,
    (files) => buildManifest(plan, outputs, toolchains, files, validation || undefined),
    validation ? { 'validation.json': validation } : {},
  );
  return { recipe: name, artifactDir, steps: outputs, validation: validation || undefined };
}

/**
 * Fills the cache with every step that measures nothing (exports, reference answers; with
 * artifactOnly, just the artifact's steps) and publishes nothing, with line-based progress so that
 * several plans can run at once (`build --jobs`). Returns the keys of those steps; executePlan then
 * finds them cached and runs the measurements alone.
 */
export async function prepareSteps(context: Context, plan: Plan, options: Pick<ExecuteOptions, 'force' | 'artifactOnly'> = {}): Promise<string[]> {
  const { outputs } = await runSteps(context, plan, options.artifactOnly ? artifactSteps(plan) : unmeasuredSteps(plan), options, true);
  return outputs.map((output) => output.key);
}

/** The steps that neither measure (volatile runners) nor read a measurement. */
function unmeasuredSteps(plan: Plan): PlannedStep[] {
  const measuring = new Set<string>();
  for (const step of plan.steps) {
    if (('volatile' in step.work && step.work.volatile) || step.needs.some((need) => measuring.has(need))) measuring.add(step.id);
  }
  return plan.steps.filter((step) => !measuring.has(step.id));
}

async function runSteps(context: Context, plan: Plan, steps: PlannedStep[], options: Pick<ExecuteOptions, 'force'>, simple: boolean) {
  const outputs: StepOutput[] = [];
  const freshVolatile = new Set<string>();
  const toolchains: Record<string, ToolchainRecord> = {};
  const name = plan.recipe.recipe.name;
  const tasks = new Listr(
    steps.map((step) => ({
      title: `${name} › ${step.id}: ${step.summary}`,
      task: async (_: unknown, task: { output: string; title: string }) => {
        // The default renderer redraws the screen, so messages must go through the task; the simple one is line-based.
        const stepContext: Context = simple ? context : { ...context, say: (line) => (task.output = line) };
        const readsFreshMeasurements = step.needs.some((need) => freshVolatile.has(need)) && !('inputDigest' in step.work && step.work.inputDigest);
        const forced = options.force === true || (typeof options.force === 'function' && options.force(step)) || readsFreshMeasurements;
        const output = await runStep(stepContext, plan, step, toolchains, forced);
        if (!output.reused && 'volatile' in step.work && step.work.volatile) freshVolatile.add(step.id);
        outputs.push(output);
        if (output.reused) task.title = `${task.title} (cached)`;
      },
    })),
    {
      concurrent: false,
      exitOnError: true,
      renderer: simple ? 'simple' : 'default',
      fallbackRenderer: 'simple',
      rendererOptions: { collapseErrors: false, showErrorMessage: false, logger: stderrLogger() },
      fallbackRendererOptions: { logger: stderrLogger() },
    },
  );
  await tasks.run();
  return { outputs, toolchains };
}

/** Progress is for people and goes to stderr, so stdout carries only results (--json). */
function stderrLogger() {
  return new ListrLogger({ useIcons: true, processOutput: new ProcessOutput(process.stderr, process.stderr) });
}

async function runStep(context: Context, plan: Plan, step: PlannedStep, toolchains: Record<string, ToolchainRecord>, force: boolean): Promise<StepOutput> {
  let output: StepOutput;
  if ('materialize' in step.work) {
    output = { id: step.id, kind: step.kind, key: step.key, ...(await step.work.materialize({ context })) };
  } else {
    output = await runCommandStep(context, plan, step, step.work, toolchains, force);
  }
  await step.afterOutput?.(output);
  return output;
}

async function runCommandStep(context: Context, plan: Plan, step: PlannedStep, work: CommandWork, toolchains: Record<string, ToolchainRecord>, force: boolean): Promise<StepOutput> {
  const logPath = cachePath(context, 'logs', plan.recipe.recipe.name, `${step.id}.log`);
  const result = await getOrProduce(
    context,
    step.key,
    async (workDir) => {
      const venv = step.toolchain ? await ensureVenv(context, step.toolchain) : undefined;
      await work.prepare?.(workDir);
      for (const [file, content] of Object.entries((await work.requestFiles?.(workDir)) ?? {})) await writeFile(path.join(workDir, file), content);
      await rm(logPath, { force: true });
      context.say(`running ${formatCommandLine(step.command!)}`);
      const { durationMs } = await runCommand(step.id, step.command!, logPath, { echo: context.verbose });
      await copyFile(logPath, path.join(workDir, 'step.log'));
      const outDir = path.join(workDir, 'out');
      const differences = (await work.verify?.(outDir, { python: venv?.python ?? context.python })) ?? [];
      if (differences.length > 0) throw new OutputCheckError(step.id, differences, outDir, work.verifyHint);
      return {
        kind: step.kind,
        params: work.params,
        commandLine: formatCommandLine(step.command!),
        durationMs,
        facts: (await work.facts?.(outDir, workDir)) ?? {},
        toolchain: venv && { name: venv.toolchain.name, lockDigest: venv.lockDigest, python: venv.pythonVersion, installed: venv.installed },
      };
    },
    { force, inputDigest: await work.inputDigest?.(), onDiscard: (reason) => context.say(`discarding the cached output of ${step.id}: ${reason}; rebuilding`) },
  );
  if (result.entry.toolchain) {
    const { name, ...record } = result.entry.toolchain;
    toolchains[name] = record;
  }
  return {
    id: step.id,
    kind: step.kind,
    key: step.key,
    dir: result.outDir,
    files: result.entry.files,
    facts: result.entry.facts,
    reused: result.reused,
    commandLine: result.entry.commandLine,
    durationMs: result.entry.durationMs,
  };
}
