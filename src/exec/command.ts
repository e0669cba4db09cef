import { spawnSync } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { FileSystemError, InterruptedError, StepFailedError, type StepFailure } from '../errors.js';
import { freeBytes } from './preflight.js';

// execa is loaded when a command first runs: a build whose steps are all cached starts none, and
// evaluating execa's modules is a tenth of such a build's time.
const execaLibrary = () => import('execa');

/** Stops every command this process runs (Ctrl-C, SIGTERM): their children are ended, and waiting work unwinds. */
const interruption = new AbortController();
let interruptedBy: 'SIGINT' | 'SIGTERM' | undefined;

export function interruptAll(signal: 'SIGINT' | 'SIGTERM'): void {
  interruptedBy ??= signal;
  interruption.abort();
}

/** Throws when the process was asked to stop: long waits (locks, loops) call it to unwind promptly. */
export function throwIfInterrupted(): void {
  if (interruptedBy) throw new InterruptedError(interruptedBy);
}

export interface CommandSpec {
  /** Program and arguments; never a shell string. */
  argv: string[];
  /** Variables the step declares; they are added to the inherited environment and shown in the repro line. */
  env?: Record<string, string>;
  cwd?: string;
  /** Links the command relies on in its cwd (name -> target), shown so a reader knows what `model` is. */
  links?: Record<string, string>;
}

export interface CommandResult {
  durationMs: number;
  exitCode: number;
}

const STDERR_TAIL_LINES = 40;

let deathSignalWrapper: string[] | undefined;

/**
 * On Linux, children are started through `setpriv --pdeathsig TERM`, so the kernel ends them when
 * phiforge dies, even by kill -9: an orphaned converter would otherwise go on writing into a folder
 * the next run is cleaning up. (setpriv execs the command: same pid, same exit status.)
 */
function withDeathSignal(argv: string[]): string[] {
  if (deathSignalWrapper === undefined) {
    const probe = process.platform === 'linux' ? spawnSync('setpriv', ['--pdeathsig', 'TERM', '--', 'true'], { stdio: 'ignore' }) : undefined;
    deathSignalWrapper = probe?.status === 0 ? ['setpriv', '--pdeathsig', 'TERM', '--'] : [];
  }
  return [...deathSignalWrapper, ...argv];
}

/**
 * Runs one command, streaming stdout and stderr into `logPath` (and to our stderr when `echo`),
 * and turns any failure into a StepFailedError that says how to reproduce it.
 */
export async function runCommand(step: string, spec: CommandSpec, logPath: string, options: { echo?: boolean; signal?: AbortSignal } = {}): Promise<CommandResult> {
  throwIfInterrupted();
  await mkdir(path.dirname(logPath), { recursive: true });
  const log = createWriteStream(logPath, { flags: 'a' });
  // A full disk fails the log's writes: remember it and report it typed once the command is done.
  let logError: Error | undefined;
  log.on('error', (error) => (logError ??= error));
  log.write(`$ ${formatCommandLine(spec)}\n`);
  const stderrTail: string[] = [];
  const oomKillsBefore = await readOomKillCount();
  const started = performance.now();
  const [program, ...args] = withDeathSignal(spec.argv);
  const { execa } = await execaLibrary();
  const child = execa(program, args, {
    env: spec.env,
    extendEnv: true,
    cwd: spec.cwd,
    reject: false,
    stdin: 'ignore',
    buffer: false,
    cancelSignal: options.signal ? AbortSignal.any([options.signal, interruption.signal]) : interruption.signal,
    // A converter asked to stop gets a moment to exit cleanly, then is killed.
    forceKillAfterDelay: 1500,
  });
  child.stdout?.on('data', (chunk: Buffer) => {
    log.write(chunk);
    if (options.echo) process.stderr.write(chunk);
  });
  let partial = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    log.write(chunk);
    if (options.echo) process.stderr.write(chunk);
    const lines = (partial + chunk.toString('utf8')).split(/\r?\n|\r/);
    partial = lines.pop() ?? '';
    stderrTail.push(...lines);
    if (stderrTail.length > STDERR_TAIL_LINES) stderrTail.splice(0, stderrTail.length - STDERR_TAIL_LINES);
  });
  const result = await child;
  const durationMs = performance.now() - started;
  if (partial) stderrTail.push(partial);
  await new Promise<void>((resolve) => (log.destroyed ? resolve() : log.end(resolve)));
  throwIfInterrupted();
  if (logError) throw FileSystemError.from(logError, logPath) ?? logError;
  if (result.exitCode === 0 && !result.signal) return { durationMs, exitCode: 0 };

  if (result.failed && result.exitCode === undefined && !result.signal) {
    // The program could not even start (missing binary, permissions).
    stderrTail.push(result.shortMessage ?? result.message ?? 'could not start the command');
  }
  const oomKillsAfter = await readOomKillCount();
  const killedForMemory = result.signal === 'SIGKILL' && !result.isCanceled && (oomKillsAfter === undefined || oomKillsAfter > (oomKillsBefore ?? 0));
  throw new StepFailedError({
    step,
    commandLine: formatCommandLine(spec),
    exitCode: result.exitCode,
    signal: result.signal,
    likelyOutOfMemory: killedForMemory,
    outOfDisk: await outOfDisk(path.dirname(logPath), stderrTail),
    stderrTail: stderrTail.slice(-STDERR_TAIL_LINES),
    logPath,
  });
}

export interface CapturedOutput {
  /** Undefined when the program could not start. */
  exitCode?: number;
  stdout: string;
  stderr: string;
}

/** A short command whose output is wanted whole (a version probe, `pip config list`). A failure is the caller's to judge. */
export async function captureCommand(program: string, args: string[]): Promise<CapturedOutput> {
  const { execa } = await execaLibrary();
  const result = await execa(program, args, { reject: false, stdin: 'ignore' });
  return { exitCode: result.exitCode, stdout: String(result.stdout ?? ''), stderr: String(result.stderr ?? '') };
}

const NO_SPACE = /No space left on device|\bENOSPC\b|\[Errno 28\]/;
// Below this, a failed write was most likely the disk's fault: what a failing converter leaves
// behind (its partial output, until phiforge removes the work folder) is usually still there.
const NEARLY_FULL_BYTES = 256 * 2 ** 20;

/** Where a failed command most likely ran out of disk, judged by its stderr and by the file system its log is on (the cache's). */
async function outOfDisk(dir: string, stderrTail: string[]): Promise<StepFailure['outOfDisk']> {
  const free = await freeBytes(dir);
  const nearlyFull = free !== undefined && free < NEARLY_FULL_BYTES;
  if (!nearlyFull && !stderrTail.some((line) => NO_SPACE.test(line))) return undefined;
  // Said but no longer full (the converter removed its temporary files as it failed): no figure.
  return nearlyFull ? { dir, freeBytes: free } : { dir };
}

/** The cgroup's count of OOM kills, to tell a memory kill from any other SIGKILL where the kernel says. */
async function readOomKillCount(): Promise<number | undefined> {
  // cgroup v2 keeps the count in memory.events, cgroup v1 in memory.oom_control.
  for (const file of ['/sys/fs/cgroup/memory.events', '/sys/fs/cgroup/memory/memory.oom_control']) {
    try {
      const match = /^oom_kill (\d+)$/m.exec(await readFile(file, 'utf8'));
      if (match) return Number(match[1]);
    } catch {
      // not this cgroup version
    }
  }
  return undefined;
}

/** A POSIX shell line equivalent to `spec`: what a user pastes to reproduce a step by hand. */
export function formatCommandLine(spec: CommandSpec): string {
  const env = Object.entries(spec.env ?? {}).map(([key, value]) => `${key}=${shellQuote(value)}`);
  const line = [...(env.length ? ['env', ...env] : []), ...spec.argv.map(shellQuote)].join(' ');
  const links = Object.entries(spec.links ?? {}).map(([name, target]) => `ln -sfn ${shellQuote(target)} ${shellQuote(name)} && `).join('');
  return spec.cwd ? `(cd ${shellQuote(spec.cwd)} && ${links}${line})` : line;
}

export function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}
