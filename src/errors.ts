// The one catalogue of errors phiforge raises on purpose. Each carries the exit code it maps to and a
// JSON shape; src/cli/report-error.ts is the single place that turns them into output.
// Anything else that escapes is reported as an internal error: a bug.

export const ExitCode = {
  ok: 0,
  /** A build step, a check of its output or a validation gate failed. */
  failed: 1,
  /** Bad input: usage, a malformed recipe, a setting the model or the tools cannot take. */
  badInput: 2,
} as const;

export interface SourceLocation {
  file: string;
  line: number;
  col: number;
}

export interface InputProblem {
  /** Where in a file the problem is; absent when the input was not a file (a flag, say). */
  location?: SourceLocation;
  /** Dotted key path inside the file, e.g. `quantization.ratio`. */
  key?: string;
  message: string;
  hint?: string;
}

export abstract class PhiforgeError extends Error {
  abstract readonly code: string;
  abstract readonly exitCode: number;
  hint?: string;

  /** --json's error object: the code, the message and every field the error carries. */
  toJSON(): Record<string, unknown> {
    const { exitCode: _exitCode, ...fields } = this as unknown as Record<string, unknown>;
    return { code: this.code, message: this.message, ...fields };
  }
}

/** A command line that cannot be carried out as given. */
export class UsageError extends PhiforgeError {
  readonly code = 'USAGE';
  readonly exitCode = ExitCode.badInput;
  constructor(message: string, hint?: string) {
    super(message);
    this.hint = hint;
  }
}

/** One or more problems in a recipe, pipeline or toolchain definition, each pinned to file:line:col. */
export class InputError extends PhiforgeError {
  readonly code = 'INPUT_INVALID';
  readonly exitCode = ExitCode.badInput;
  constructor(
    readonly file: string,
    readonly problems: InputProblem[],
  ) {
    super(`${file}: ${problems.length} problem${problems.length === 1 ? '' : 's'}`);
  }
}

export interface StepFailure {
  step: string;
  /** The command exactly as it can be pasted into a shell to reproduce the failure. */
  commandLine: string;
  exitCode?: number;
  signal?: string;
  /** True when the kernel's OOM killer ended the process (SIGKILL with no one else asking for it). */
  likelyOutOfMemory: boolean;
  /**
   * Set when the process most likely ran out of disk: its stderr says so, or the file system it wrote
   * to is (nearly) full after it failed. Converters rarely say it plainly (OpenVINO's serializer
   * reports "basic_ios::clear: iostream error").
   */
  outOfDisk?: { dir: string; freeBytes?: number };
  stderrTail: string[];
  logPath: string;
}

/** A converter or runner exited unsuccessfully. */
export class StepFailedError extends PhiforgeError {
  readonly code = 'STEP_FAILED';
  readonly exitCode = ExitCode.failed;
  constructor(readonly failure: StepFailure) {
    super(
      `step ${failure.step} ${failure.signal ? `was killed by ${failure.signal}` : `exited with code ${failure.exitCode}`}` +
        (failure.likelyOutOfMemory ? ' (most likely the kernel killed it for lack of memory)' : '') +
        (failure.outOfDisk ? ` (most likely it ran out of disk: ${failure.outOfDisk.freeBytes === undefined ? 'its output says so' : `${(failure.outOfDisk.freeBytes / 2 ** 20).toFixed(0)} MiB free`} on the disk holding ${failure.outOfDisk.dir})` : ''),
    );
    if (failure.likelyOutOfMemory) {
      this.hint = 'Free memory, add swap, or build on a larger machine: `phiforge doctor <recipe>` estimates what the build needs.';
    } else if (failure.outOfDisk) {
      this.hint = 'Free some space (phiforge cache gc removes what no build can reuse), or point --cache-dir at a larger disk: `phiforge doctor <recipe>` estimates the disk a build needs.';
    }
  }
  override toJSON() {
    return { code: this.code, message: this.message, hint: this.hint, ...this.failure };
  }
}

/** A step ran to completion but what it produced is not what the recipe asked for. */
export class OutputCheckError extends PhiforgeError {
  readonly code = 'OUTPUT_CHECK_FAILED';
  readonly exitCode = ExitCode.failed;
  constructor(
    readonly step: string,
    readonly differences: string[],
    readonly outputDir: string,
    hint?: string,
  ) {
    super(`step ${step} produced output that does not match the recipe:\n  - ${differences.join('\n  - ')}`);
    this.hint = hint;
  }
}

/** A managed Python environment could not be created or did not pass its health check. */
export class ToolchainError extends PhiforgeError {
  readonly code = 'TOOLCHAIN';
  readonly exitCode = ExitCode.failed;
  constructor(
    readonly toolchain: string,
    message: string,
    hint?: string,
  ) {
    super(`toolchain ${toolchain}: ${message}`);
    this.hint = hint;
  }
}

/**
 * The Python that venvs are made from (PHIFORGE_PYTHON, else python3 on PATH) is not there, or is
 * not the version the locks were resolved for: the user's to fix, so bad input, not a failed step.
 */
export class PythonInterpreterError extends PhiforgeError {
  readonly code = 'PYTHON_INTERPRETER';
  readonly exitCode = ExitCode.badInput;
  constructor(
    readonly python: string,
    message: string,
    hint: string,
  ) {
    super(message);
    this.hint = hint;
  }
}

/** The model hub refused or failed a request. */
export class HubError extends PhiforgeError {
  readonly code = 'HUB';
  readonly exitCode: number;
  constructor(message: string, hint?: string, exitCode: number = ExitCode.failed) {
    super(message);
    this.hint = hint;
    this.exitCode = exitCode;
  }
}

/** Validation ran and at least one gate or answer check did not hold. */
export class GateFailedError extends PhiforgeError {
  readonly code = 'GATE_FAILED';
  readonly exitCode = ExitCode.failed;
  /** `results`: the full outcome (artifacts, figures) so that --json readers lose nothing. */
  constructor(
    readonly failures: string[],
    readonly results?: unknown,
  ) {
    super(`validation failed:\n  - ${failures.join('\n  - ')}`);
  }
}

/** A rebuild from a manifest did not reproduce the artifact's bytes. */
export class VerifyMismatchError extends PhiforgeError {
  readonly code = 'VERIFY_MISMATCH';
  readonly exitCode = ExitCode.failed;
  constructor(
    readonly artifact: string,
    readonly report: unknown,
    summary: string[],
  ) {
    super(`${artifact} was not reproduced bit for bit:\n  - ${summary.join('\n  - ')}`);
  }
}

/** `cache verify` found step outputs whose bytes no longer match their digests (and removed them). */
export class CacheDamagedError extends PhiforgeError {
  readonly code = 'CACHE_DAMAGED';
  readonly exitCode = ExitCode.failed;
  constructor(readonly damaged: string[]) {
    super(`${damaged.length} cached step output(s) were damaged and have been removed:\n  - ${damaged.join('\n  - ')}`);
    this.hint = 'The next build remakes them. Damage that stat() cannot see (a failing disk) is what this check is for; check the disk.';
  }
}

/** A file a tool wrote (a runner's runs.json, a manifest) does not have the shape its contract says. */
export class ContractError extends PhiforgeError {
  readonly code = 'CONTRACT_VIOLATED';
  readonly exitCode = ExitCode.failed;
  constructor(
    readonly file: string,
    /** What wrote the file, for the message: "run_genai.py", "phiforge 0.1.0". */
    readonly writer: string,
    readonly problems: Array<{ field: string; message: string }>,
    hint?: string,
  ) {
    super(`${file} (written by ${writer}) does not match its contract:\n  - ${problems.map((problem) => `${problem.field || '(the whole file)'}: ${problem.message}`).join('\n  - ')}`);
    this.hint = hint;
  }
}

/** The files of an artifact folder are not the ones its manifest lists: changed, missing or unlisted. */
export class ArtifactMismatchError extends PhiforgeError {
  readonly code = 'ARTIFACT_MISMATCH';
  readonly exitCode = ExitCode.failed;
  constructor(
    readonly artifact: string,
    readonly changed: string[],
    readonly missing: string[],
    readonly unlisted: string[],
  ) {
    super(
      `${artifact} is not the artifact its manifest describes:\n  - ${[
        ...changed.map((file) => `${file} does not match its sha256 in manifest.json`),
        ...missing.map((file) => `${file} is listed in manifest.json but missing`),
        ...unlisted.map((file) => `${file} is not listed in manifest.json`),
      ].join('\n  - ')}`,
    );
    this.hint = 'Validate the files exactly as they were built: download the artifact again, or rebuild it with `phiforge build <recipe>`.';
  }
}

/** An entry of an artifact folder and why phiforge will not read, ship or write through it. */
export interface RefusedEntry {
  /** Relative to the artifact folder. */
  file: string;
  /** "is a link to ../x (/abs/x), outside the artifact folder", "is a FIFO (named pipe)". */
  problem: string;
}

/**
 * An artifact folder holds what phiforge will not follow or open: a link leading out of the folder, to
 * nothing, in a loop or to a folder, or a FIFO, socket or device. Reading through one would validate or
 * publish bytes the artifact does not hold (or block, or walk a whole file system).
 */
export class ArtifactEntryError extends PhiforgeError {
  readonly code = 'ARTIFACT_ENTRY_REFUSED';
  readonly exitCode = ExitCode.failed;
  constructor(
    readonly artifact: string,
    readonly entries: RefusedEntry[],
  ) {
    super(`${artifact} holds ${entries.length === 1 ? 'an entry' : `${entries.length} entries`} phiforge will not follow or open:\n  - ${entries.map((entry) => `${entry.file} ${entry.problem}`).join('\n  - ')}`);
    this.hint =
      'An artifact holds its own files: replace each such link with a copy of the file it points to (cp --remove-destination "$(readlink -f FILE)" FILE) or remove it, and remove FIFOs, sockets and devices. Links into the Hugging Face cache\'s blobs/ of the same repository, as snapshot_download makes them, are accepted.';
  }
}

/** What a failed file operation means for the user, by the code the system gave. */
const FILE_SYSTEM_HINTS: Record<string, string> = {
  ENOSPC: 'The disk is full: free some space (phiforge cache gc removes what no build can reuse) or point --cache-dir / --out at a larger disk.',
  EDQUOT: 'The disk quota is used up: free some space or point --cache-dir / --out elsewhere.',
  EROFS: 'That file system is mounted read-only: point --cache-dir / --out at a writable folder.',
  EACCES: 'This user may not write there: fix the permissions or choose another folder.',
  EPERM: 'The operation is not permitted there: fix the permissions or choose another folder.',
  ENOTDIR: 'A file stands where a folder is needed: move it away or choose another path.',
  EISDIR: 'A folder stands where a file is needed: name a file instead.',
  EEXIST: 'Something already exists there: remove it or choose another path.',
  EMFILE: 'Too many open files: raise the limit (ulimit -n) and try again.',
  ENOENT: 'A folder on the way does not exist (or was removed while phiforge ran): check the path.',
};

/** A file operation failed: where, what the system said, and what to do. */
export class FileSystemError extends PhiforgeError {
  readonly code = 'FILE_SYSTEM';
  readonly exitCode: number = ExitCode.failed;
  constructor(
    readonly path: string,
    readonly systemCode: string,
    readonly operation: string,
    hint?: string,
  ) {
    super(`cannot ${operation} ${path}: ${systemCode}`);
    this.hint = hint ?? FILE_SYSTEM_HINTS[systemCode];
  }

  /**
   * The typed form of a Node.js system error, or undefined for any other error. `writing` names the
   * file for errors that carry no path (a write stream's ENOSPC).
   */
  static from(error: unknown, writing?: string): FileSystemError | undefined {
    const system = error as NodeJS.ErrnoException;
    if (!(error instanceof Error) || typeof system.code !== 'string' || !(system.code in FILE_SYSTEM_HINTS)) return undefined;
    const target = system.path ?? (system as { dest?: string }).dest ?? /'([^']+)'/.exec(system.message)?.[1] ?? writing ?? '(unknown path)';
    return new FileSystemError(target, system.code, system.syscall ?? 'use');
  }
}

/** Not enough free disk for what is about to run: said before it starts, not in its wreckage. */
export class InsufficientSpaceError extends PhiforgeError {
  readonly code = 'INSUFFICIENT_SPACE';
  readonly exitCode = ExitCode.failed;
  constructor(
    readonly path: string,
    readonly neededBytes: number,
    readonly freeBytes: number,
    readonly purpose: string,
  ) {
    super(`${purpose} needs about ${(neededBytes / 2 ** 30).toFixed(1)} GiB free at ${path}; ${(freeBytes / 2 ** 30).toFixed(1)} GiB is free`);
    this.hint = 'Free some space (phiforge cache gc), or point --cache-dir at a larger disk. PHIFORGE_SKIP_SPACE_CHECK=1 skips this check if the estimate is wrong for you.';
  }
}

/** The user (Ctrl-C) or the system (SIGTERM) asked phiforge to stop: 128 + the signal's number, as shells do. */
export class InterruptedError extends PhiforgeError {
  readonly code = 'INTERRUPTED';
  readonly exitCode: number;
  constructor(readonly signal: 'SIGINT' | 'SIGTERM') {
    super(`interrupted by ${signal}: running steps were stopped; nothing half-made was kept`);
    this.exitCode = signal === 'SIGINT' ? 130 : 143;
    this.hint = 'Run the same command again: it resumes from the steps that finished.';
  }
}

/** An artifact was to be published without a passing validation of its exact files. */
export class NotValidatedError extends PhiforgeError {
  readonly code = 'NOT_VALIDATED';
  readonly exitCode = ExitCode.failed;
  constructor(
    readonly artifact: string,
    /** One line per reason: which device failed, or that no device measured these files. */
    readonly reasons: string[],
  ) {
    super(`${artifact} has no passing validation of its files:\n  - ${reasons.join('\n  - ')}`);
    this.hint = `Measure it on a device first: \`phiforge validate ${artifact}\`. To publish it anyway, pass --allow-unvalidated (the model card then says it was not validated).`;
  }
}

/**
 * A key file given to sign (--key, --sign-key) or to trust signatures (--require-signature,
 * PHIFORGE_TRUSTED_KEYS) cannot serve: missing, unreadable, not an Ed25519 key, encrypted, or the
 * wrong half of the pair. Bad input: nothing was signed or checked with it.
 */
export class KeyFileError extends PhiforgeError {
  readonly code = 'KEY_FILE';
  readonly exitCode = ExitCode.badInput;
  constructor(
    readonly file: string,
    /** Where it was named: `--key`, `--require-signature`, `PHIFORGE_TRUSTED_KEYS`. */
    readonly option: string,
    problem: string,
    hint: string,
  ) {
    super(`${option} ${file}: ${problem}`);
    this.hint = hint;
  }
}

/**
 * An artifact's signed statements do not hold: provenance.json or a device result's .sig is not a
 * DSSE envelope phiforge can read, a signature does not verify, or the files are not the ones signed.
 * Never waived (no option skips it): a signature that does not match is a sign of tampering.
 */
export class SignatureInvalidError extends PhiforgeError {
  readonly code = 'SIGNATURE_INVALID';
  readonly exitCode = ExitCode.failed;
  constructor(
    readonly artifact: string,
    /** The signature file, relative to the artifact folder: provenance.json, validation/CPU-host.json.sig. */
    readonly file: string,
    /** One line each: what failed, naming the file. */
    readonly problems: string[],
    hint?: string,
  ) {
    super(`${artifact}: ${file} does not hold for these files:${problems.length === 1 ? ` ${problems[0]}` : `\n  - ${problems.join('\n  - ')}`}`);
    this.hint =
      hint ??
      'Someone or something changed the artifact after it was signed: get it again from where it was published (or rebuild it), and sign it again only if you made the change yourself (`phiforge sign <artifact> --key <file>`).';
  }
}

/** --require-signature (or PHIFORGE_TRUSTED_KEYS) asked for a signature by a trusted key, and there is none. */
export class SignatureUntrustedError extends PhiforgeError {
  readonly code = 'SIGNATURE_UNTRUSTED';
  readonly exitCode = ExitCode.failed;
  constructor(
    readonly artifact: string,
    /** One line each: what is unsigned or signed by which other key. */
    readonly problems: string[],
    /** The fingerprints of the trusted keys. */
    readonly trusted: string[],
  ) {
    super(`${artifact} is not signed by a trusted key (${trusted.join(', ')}):${problems.length === 1 ? ` ${problems[0]}` : `\n  - ${problems.join('\n  - ')}`}`);
    this.hint = 'Check that you named the right public key, and that the artifact is the one its publisher signed: `phiforge sign <artifact> --key <private key>` signs an artifact, `phiforge validate <artifact> --sign-key <private key>` its device results.';
  }
}

/** A generated file (the GitHub workflow) is no longer what phiforge makes from its inputs. */
export class WorkflowOutOfDateError extends PhiforgeError {
  readonly code = 'WORKFLOW_OUT_OF_DATE';
  readonly exitCode = ExitCode.failed;
  constructor(
    readonly file: string,
    readonly line: number,
    readonly found: string,
    readonly expected: string,
    readonly regenerate: string,
  ) {
    super(`${file} is not the workflow phiforge makes from the configuration now; line ${line} is\n    ${found}\n  where phiforge writes\n    ${expected}`);
    this.hint = `Regenerate it and commit the result: ${regenerate}`;
  }
}
