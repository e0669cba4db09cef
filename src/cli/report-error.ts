import { ExitCode, InputError, PhiforgeError, StepFailedError } from '../errors.js';

/**
 * The one place errors become output: a human explanation on stderr (a stack only with --verbose),
 * a JSON object on stdout with --json, and the exit code of the error's kind.
 */
export function reportError(error: unknown, options: { json: boolean; verbose: boolean }): number {
  const known = error instanceof PhiforgeError ? error : undefined;
  if (options.json) {
    const body = known ? known.toJSON() : { code: 'INTERNAL', message: String((error as Error)?.message ?? error) };
    process.stdout.write(`${JSON.stringify({ ok: false, error: body }, null, 2)}\n`);
  }
  process.stderr.write(`${known ? describe(known) : `internal error: ${(error as Error)?.message ?? String(error)}\n  hint: this is a bug in phiforge; rerun with --verbose and report it.`}\n`);
  if (options.verbose && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
  return known?.exitCode ?? ExitCode.failed;
}

function describe(error: PhiforgeError): string {
  if (error instanceof InputError) {
    return error.problems
      .map((problem) => {
        const where = problem.location ? `${problem.location.file}:${problem.location.line}:${problem.location.col}` : error.file;
        return `error: ${where}${problem.key ? ` ${problem.key}` : ''}: ${problem.message}${problem.hint ? `\n  hint: ${problem.hint}` : ''}`;
      })
      .join('\n');
  }
  if (error instanceof StepFailedError) {
    const failure = error.failure;
    return [
      `error: ${error.message}`,
      `  command: ${failure.commandLine}`,
      `  ${failure.signal ? `signal: ${failure.signal}` : `exit code: ${failure.exitCode}`}`,
      `  log: ${failure.logPath}`,
      ...(failure.stderrTail.length ? [`  last ${failure.stderrTail.length} lines of stderr:`, ...failure.stderrTail.map((line) => `    | ${line}`)] : []),
      ...(error.hint ? [`  hint: ${error.hint}`] : []),
    ].join('\n');
  }
  return `error: ${error.message}${error.hint ? `\n  hint: ${error.hint}` : ''}`;
}
