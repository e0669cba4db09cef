import { annotateError } from './actions.js';
import { ExitCode, FileSystemError, InputError, PhiforgeError, StepFailedError } from '../errors.js';

interface ErrorIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

const PROCESS_IO: ErrorIo = { stdout: (text) => process.stdout.write(text), stderr: (text) => process.stderr.write(text) };

/**
 * The one place errors become output: a human explanation on stderr (a stack only with --verbose),
 * a JSON object on stdout with --json, and the exit code of the error's kind.
 */
export function reportError(error: unknown, options: { json: boolean; verbose: boolean }, io: ErrorIo = PROCESS_IO): number {
  // A failed file operation (disk full, read-only, permissions) is the user's to fix, not a bug.
  const known = error instanceof PhiforgeError ? error : FileSystemError.from(error);
  if (options.json) {
    const body = known ? known.toJSON() : { code: 'INTERNAL', message: String((error as Error)?.message ?? error) };
    io.stdout(`${JSON.stringify({ ok: false, error: body }, null, 2)}\n`);
  }
  io.stderr(`${describeError(error)}\n`);
  // In GitHub Actions, also where it is: an annotation at each bad input's file and line.
  annotateError({ say: (line) => io.stderr(`${line}\n`) }, known ?? error);
  if (options.verbose && error instanceof Error && error.stack) io.stderr(`${error.stack}\n`);
  return known?.exitCode ?? ExitCode.failed;
}

/** The words a person sees for an error: what, where, and a hint. */
export function describeError(error: unknown): string {
  if (error instanceof PhiforgeError) return describe(error);
  const fileSystem = FileSystemError.from(error);
  if (fileSystem) return describe(fileSystem);
  return `internal error: ${(error as Error)?.message ?? String(error)}\n  hint: this is a bug in phiforge; rerun with --verbose and report it.`;
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
