import { copyFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Listr, ListrLogger, ProcessOutput } from 'listr2';
import type { ToolchainRecord } from '../artifact/manifest.js';
import { publishArtifact } from '../artifact/publish.js';
import { derivedFromFiles } from '../cache/derived-memo.js';
import { DigestMemo } from '../cache/digest-memo.js';
import { getOrProduce } from '../cache/step-cache.js';
import { cachePath, inGroup, type Context } from '../context.js';
import { OutputCheckError } from '../errors.js';
import { formatCommandLine, runCommand } from '../exec/command.js';
import { describeWeightLoadProblems, weightLoadProblemsInLog } from '../exec/load-report.js';
import type { Plan } from '../pipeline/plan.js';
import type { CommandWork, PlannedStep, StepOutput } from '../steps/types.js';
import { ensureVenv } from '../toolchain/venv.js';
import { buildManifest } from './manifest.js';

export interface BuildResult {
  recipe: string;
  artifactDir: string;
  /** False when dist/<name> already held these exact files (its device results stay valid). */
  replaced: boolean;
  steps: StepOutput[];
}

export function useSimpleRenderer(): boolean {
  return !process.stderr.isTTY || Boolean(process.env.CI) || process.env.TERM === 'dumb';
}

export interface ExecuteOptions {
  /** Run steps again although cached. */
  force?: boolean;
  /** Line-based progress even on a terminal: several plans run at once (`build --jobs`). */
  simpleProgress?: boolean;
}

/**
 * Runs the plan's steps in order (reusing cached outputs) and publishes the artifact atomically:
 * the artifact step's files plus the reference answers that validation compares with, and the manifest.
 */
export async function executePlan(context: Context, plan: Plan, options: ExecuteOptions = {}): Promise<BuildResult> {
  const { recipe } = plan;
  const name = recipe.recipe.name;
  const { outputs, toolchains } = await runSteps(context, plan, options);
  const artifactStep = outputs.find((output) => output.id === recipe.pipeline.artifact)!;
  const referenceStep = outputs.find((output) => output.id === recipe.pipeline.reference);
  // Bump the number when the counting changes: entries are kept by the files' digests only.
  const weights = await derivedFromFiles(context.cacheRoot, `weights-${recipe.backend.name}-1`, artifactStep.files, () => recipe.backend.readWeights(artifactStep.dir));
  const published = await publishArtifact(
    context.cacheRoot,
    context.outRoot,
    name,
    [artifactStep, ...(referenceStep ? [referenceStep] : [])].map((output) => ({ dir: output.dir, files: output.files })),
    (files) => buildManifest(plan, outputs, toolchains, files, weights),
    DigestMemo.of(context.cacheRoot),
    context.say,
  );
  return { recipe: name, artifactDir: published.dir, replaced: published.replaced, steps: outputs };
}

async function runSteps(context: Context, plan: Plan, options: ExecuteOptions) {
  const outputs: StepOutput[] = [];
  const toolchains: Record<string, ToolchainRecord> = {};
  const name = plan.recipe.recipe.name;
  const simple = options.simpleProgress || useSimpleRenderer();
  const tasks = new Listr(
    plan.steps.map((step) => ({
      title: `${name} › ${step.id}: ${step.summary}`,
      task: async (_: unknown, task: { output: string; title: string }) => {
        // The default renderer redraws the screen, so messages must go through the task; the simple one is line-based.
        const stepContext: Context = simple ? context : { ...context, group: undefined, say: (line) => (task.output = line) };
        // In GitHub Actions each step's output folds into a group of the log.
        const output = await inGroup(stepContext, `${name} › ${step.id}: ${step.summary}`, () => runStep(stepContext, plan, step, toolchains, options.force ?? false));
        outputs.push(output);
        const note = output.reused ? (output.reuseNote ?? ('materialize' in step.work ? undefined : 'cached')) : undefined;
        if (note) task.title = `${task.title} (${note})`;
      },
    })),
    {
      concurrent: false,
      exitOnError: true,
      // phiforge handles Ctrl-C itself (src/cli/main.ts): listr2's handler would exit 127 and leave locks behind.
      registerSignalListeners: false,
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
      // Every step that loads a checkpoint with transformers (exports, reference answers, the ORT
      // builder) exits 0 when weights were missing or ignored, with random values in their place:
      // its log is the only witness, so it is read here, for every command step, before anything is kept.
      const unloaded = await weightLoadProblemsInLog(logPath);
      if (unloaded.length > 0) {
        throw new OutputCheckError(
          step.id,
          describeWeightLoadProblems(unloaded),
          outDir,
          `The checkpoint's tensors do not fit the model its config.json describes, so this output would hold random weights. Use a Phi-3 checkpoint with its own config.json (the step log: ${logPath}).`,
        );
      }
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
    { force, onDiscard: (reason) => context.say(`discarding the cached output of ${step.id}: ${reason}; rebuilding`) },
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
