import path from 'node:path';
import type { Outcome } from '../../app/build.js';
import type { Context } from '../../context.js';
import { GateFailedError, PhiforgeError, UsageError } from '../../errors.js';
import { comparisonTable, validationJunit, validationTable } from '../../report/validation.js';
import { annotateError, reportValidation } from '../actions.js';
import { describeError } from '../report-error.js';

/**
 * Shows what build and validate did: a table per artifact (and all side by side), the JUnit file,
 * the JSON summary; returns the exit code. Failed gates are a GateFailedError, whose JSON keeps
 * every result; other per-recipe errors are shown here, each in its own words.
 */
export async function renderOutcomes(context: Context, outcomes: Outcome[], junit: string | undefined): Promise<number> {
  let worst = 0;
  for (const outcome of outcomes) {
    if (outcome.error) {
      context.say(describeError(outcome.error));
      annotateError(context, outcome.error, outcome.recipe);
      worst = Math.max(worst, outcome.error instanceof PhiforgeError ? outcome.error.exitCode : 1);
      continue;
    }
    // In GitHub Actions: the table in the step summary, annotations at the failing gates' lines.
    if (outcome.validation && outcome.artifact) await reportValidation(context, outcome.recipe, outcome.artifact, outcome.validation);
    if (context.json) continue;
    if (outcome.validation) context.print(validationTable(outcome.validation));
    if (outcome.artifact) context.print(`built ${path.relative(process.cwd(), outcome.artifact) || outcome.artifact}`);
  }
  const reports = outcomes.flatMap((outcome) => (outcome.validation ? [outcome.validation] : []));
  if (!context.json && reports.length > 1) context.print(comparisonTable(reports));
  if (junit) await writeJunit(junit, await validationJunit(reports));
  const summary = {
    ok: worst === 0 && outcomes.every((outcome) => outcome.ok),
    results: outcomes.map((outcome) => ({ ...outcome, error: outcome.error === undefined ? undefined : outcome.error instanceof PhiforgeError ? outcome.error.toJSON() : String(outcome.error) })),
  };
  const gateFailures = reports.flatMap((report) => report.failures.map((failure) => `${report.recipe}: ${failure}`));
  if (gateFailures.length > 0) throw new GateFailedError(gateFailures, summary);
  if (context.json) context.print(JSON.stringify(summary, null, 2));
  return worst;
}

/** Like pytest's --junitxml, creates the report's folder. */
async function writeJunit(file: string, xml: string): Promise<void> {
  const { default: fse } = await import('fs-extra');
  await fse.outputFile(file, xml).catch((error: NodeJS.ErrnoException) => {
    throw new UsageError(`cannot write the JUnit report ${file}: ${error.code ?? error.message}`, 'Pick a path where this user may create files.');
  });
}
