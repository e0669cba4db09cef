import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ciMatrix, ciPublishable, ciWorkflow } from '../../app/ci.js';
import { matrixSummary } from '../../ci/matrix.js';
import type { Context } from '../../context.js';
import { UsageError } from '../../errors.js';
import { annotate, appendStepSummary, setStepOutputs } from '../actions.js';
import type { Arguments } from '../arguments.js';

export async function run(context: Context, args: Arguments, trail: string[]): Promise<number> {
  switch (trail[1]) {
    case 'github':
      return github(context, args);
    case 'matrix':
      return matrix(context, args);
    default:
      return publishable(context, args);
  }
}

/** `phiforge ci github`: the workflow, printed, written, or checked against the file that holds it. */
async function github(context: Context, args: Arguments): Promise<number> {
  const write = args.write as string | undefined;
  const check = args.check as string | undefined;
  if (write !== undefined && check !== undefined) throw new UsageError('--write and --check do not go together', 'Write the workflow, or check the one there.');
  const workflow = await ciWorkflow(context, args.recipe as string[] | undefined, args.config as string | undefined, { check });
  for (const base of workflow.bases) context.say(`${base.file}: a base recipe (${base.extendedBy} extends it), not built on its own`);
  const { today } = workflow;
  const expansion = `${today.recipes} recipe(s) expand today to ${today.exports} export job(s) and ${today.validations} validate job(s) on ${today.deviceClasses.join(', ')}; the plan job expands them again on every run, so a new recipe needs no new workflow`;
  if (check !== undefined) {
    context.say(`${check} is the workflow phiforge makes from ${workflow.configFile ?? 'the default configuration'}`);
    if (context.json) context.print(JSON.stringify({ ok: true, checked: check }, null, 2));
    return 0;
  }
  if (write === undefined) {
    context.print(context.json ? JSON.stringify({ ok: true, workflow: workflow.yaml, file: workflow.file, today }, null, 2) : workflow.yaml);
    context.say(expansion);
    return 0;
  }
  try {
    await mkdir(path.dirname(path.resolve(write)), { recursive: true });
    await writeFile(write, workflow.yaml);
  } catch (error) {
    throw new UsageError(`cannot write --write ${write}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, 'Pick a path where this user may create files.');
  }
  context.say(`wrote ${write}: ${expansion}`);
  if (path.resolve(write) !== path.resolve(workflow.file)) {
    context.say(`note: the workflow names itself ${workflow.file} (workflow.file) in its triggers and its own check; keep it there, or set workflow.file`);
  }
  if (context.json) context.print(JSON.stringify({ ok: true, written: write, today }, null, 2));
  return 0;
}

/** `phiforge ci matrix`: the plan job's outputs. */
async function matrix(context: Context, args: Arguments): Promise<number> {
  const expanded = await ciMatrix(context, args.recipe as string[] | undefined, args.config as string | undefined);
  for (const base of expanded.bases) context.say(`${base.file}: a base recipe (${base.extendedBy} extends it), not built on its own`);
  for (const note of expanded.notes) {
    context.say(`note: ${note}`);
    annotate(context, 'warning', note);
  }
  // The counts let the workflow skip a job whose matrix is empty (GitHub fails a job on an empty
  // matrix), as it is when a fork's pull request leaves out every leg on self-hosted runners.
  const outputs = {
    export: JSON.stringify(expanded.export),
    validate: JSON.stringify(expanded.validate),
    export_count: String(expanded.export.include.length),
    validate_count: String(expanded.validate.include.length),
  };
  if (await setStepOutputs(outputs)) context.say(`wrote export (${outputs.export_count} legs) and validate (${outputs.validate_count} legs) to $GITHUB_OUTPUT`);
  await appendStepSummary(matrixSummary(expanded));
  const { export: exports, validate, notes, recipes, bases } = expanded;
  context.print(JSON.stringify(context.json ? { ok: true, export: exports, validate, notes, recipes: recipes.map((recipe) => recipe.file), bases } : { export: exports, validate }, null, 2));
  return 0;
}

/** `phiforge ci publishable`: the publish job's matrix. Not a gate: an artifact held back is said, not failed. */
async function publishable(context: Context, args: Arguments): Promise<number> {
  const { verdicts, publish } = await ciPublishable(args.artifact as string[], args.config as string | undefined);
  for (const verdict of verdicts) {
    context.say(verdict.publish ? `${verdict.artifact}: passed on every device class; publish to ${verdict.repo}` : `${verdict.artifact}: not published: ${verdict.reasons.join('; ')}`);
  }
  await setStepOutputs({ publish: JSON.stringify(publish), publish_count: String(publish.include.length) });
  const cell = (text: string) => text.replaceAll('|', '\\|');
  await appendStepSummary(
    [
      '### phiforge publish',
      '',
      '| artifact | published | to / why not |',
      '| --- | --- | --- |',
      ...verdicts.map((verdict) => `| ${cell(verdict.artifact)} | ${verdict.publish ? 'yes' : 'no'} | ${cell(verdict.publish ? (verdict.repo ?? '') : verdict.reasons.join('; '))} |`),
      '',
    ].join('\n'),
  );
  context.print(JSON.stringify(context.json ? { ok: true, publish, verdicts } : publish, null, 2));
  return 0;
}
