import { randomBytes } from 'node:crypto';
import { appendFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Context } from '../context.js';
import { existsSync, statSync } from 'node:fs';
import { readManifest } from '../artifact/manifest.js';
import { backendOfDevice } from '../backends/index.js';
import { GateFailedError, InputError, PhiforgeError, type SourceLocation } from '../errors.js';
import { readRecipeSource } from '../recipe/extends.js';
import type { BaseRecipe } from '../recipe/schema.js';
import { annotation, fitSummary, inGitHubActions, STEP_SUMMARY_LIMIT, validationFindings, validationSummary, type AnnotationPlace } from '../report/github.js';
import { rowsOfValidation } from '../report/rows.js';
import type { ValidationReport } from '../validate/evaluate.js';
import { formatKeyPath, type LocatedSource } from '../yaml/located-yaml.js';

// phiforge inside GitHub Actions (GITHUB_ACTIONS=true): annotations at the recipe line of a failing
// gate or a bad input, a table per artifact in the step summary, a log group per build step. Outside
// Actions none of this appears. Everything said here is also said in plain text: GitHub shows at most
// 10 error annotations of a step, and a summary over 1 MiB is dropped.


/** A file as annotations name it: relative to the repository root (GITHUB_WORKSPACE), with forward slashes. */
export function annotationFile(file: string): string {
  const root = process.env.GITHUB_WORKSPACE || process.cwd();
  const relative = path.relative(root, path.resolve(file));
  return (relative.startsWith('..') || path.isAbsolute(relative) ? file : relative).split(path.sep).join('/');
}

export function placeOf(location: SourceLocation | undefined, title?: string): AnnotationPlace {
  return location ? { file: annotationFile(location.file), line: location.line, col: location.col, title } : { title };
}

/** Prints an annotation in Actions (on stderr: the runner reads workflow commands from both streams). */
export function annotate(context: Context, level: 'error' | 'warning' | 'notice', message: string, place?: AnnotationPlace): void {
  if (inGitHubActions()) context.say(annotation(level, message, place));
}

/**
 * An error as annotations: one per located problem of a bad input, at its file and line; any other
 * error once, at `file` when it is known (the recipe it happened to). Failed gates are annotated
 * where their validation is shown (reportValidation), not here.
 */
export function annotateError(context: Pick<Context, 'say'>, error: unknown, file?: string): void {
  if (!inGitHubActions() || error instanceof GateFailedError) return;
  if (error instanceof InputError) {
    for (const problem of error.problems) {
      const message = `${problem.message}${problem.hint ? ` (${problem.hint})` : ''}`;
      context.say(annotation('error', message, problem.location ? placeOf(problem.location, problem.key) : { file: annotationFile(error.file), title: problem.key }));
    }
    return;
  }
  const message = error instanceof PhiforgeError ? `${error.message}${error.hint ? ` (${error.hint})` : ''}` : String((error as Error)?.message ?? error);
  context.say(annotation('error', message, file && existsSync(file) ? { file: annotationFile(file) } : {}));
}

/**
 * A validation in Actions: its table in the step summary, and an annotation at the recipe line of
 * each failed gate and check. `input` is what the user named (a recipe file or an artifact folder).
 */
export async function reportValidation(context: Context, input: string, artifactDir: string, report: ValidationReport): Promise<void> {
  if (!inGitHubActions()) return;
  try {
    await summarizeAndAnnotate(context, input, artifactDir, report);
  } catch (error) {
    // What Actions shows is a convenience: the verdict and its exit code stand without it.
    context.say(`warning: could not report ${report.recipe} to GitHub Actions: ${(error as Error).message}`);
  }
}

async function summarizeAndAnnotate(context: Context, input: string, artifactDir: string, report: ValidationReport): Promise<void> {
  const manifest = await readManifest(artifactDir);
  const deviceClass = (device: string) => backendOfDevice(device)?.deviceClass(device) ?? '';
  await appendStepSummary(validationSummary(report.recipe, report.passed, rowsOfValidation(manifest, report, deviceClass), report.failures));
  const recipe = manifest.recipe.resolved as unknown as BaseRecipe;
  const source = await recipeSource([input, manifest.recipe.file]);
  for (const finding of validationFindings(report, recipe)) {
    context.say(annotation('error', finding.message, source ? placeOf(source.locate(finding.keyPath), formatKeyPath(finding.keyPath)) : {}));
  }
}

/** The first of these that is a readable recipe file: what was built, else the file the manifest names. */
async function recipeSource(candidates: string[]): Promise<LocatedSource | undefined> {
  for (const file of candidates) {
    if (!existsSync(file) || !statSync(file).isFile()) continue;
    const source = await readRecipeSource(file).catch(() => undefined);
    if (source) return source;
  }
  return undefined;
}

/** Appends Markdown to the step summary (GITHUB_STEP_SUMMARY) in Actions; cut to what 1 MiB leaves room for. */
export async function appendStepSummary(markdown: string): Promise<void> {
  const file = process.env.GITHUB_STEP_SUMMARY;
  if (!inGitHubActions() || !file) return;
  const used = await stat(file).then((info) => info.size, () => 0);
  const text = fitSummary(markdown, STEP_SUMMARY_LIMIT - used);
  if (text) await appendFile(file, text);
}

/**
 * Sets step outputs (GITHUB_OUTPUT, when the runner gives one): `name=value`, or a heredoc with a
 * random delimiter for a value of several lines.
 */
export async function setStepOutputs(outputs: Record<string, string>): Promise<boolean> {
  const file = process.env.GITHUB_OUTPUT;
  if (!file) return false;
  const lines = Object.entries(outputs).map(([name, value]) => {
    if (!value.includes('\n')) return `${name}=${value}\n`;
    const delimiter = `phiforge_${randomBytes(8).toString('hex')}`;
    return `${name}<<${delimiter}\n${value}\n${delimiter}\n`;
  });
  await appendFile(file, lines.join(''));
  return true;
}
