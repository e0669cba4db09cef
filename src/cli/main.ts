import path from 'node:path';
import yargs, { type Argv, type Options } from 'yargs';
import { claimCache, refuseForeignCache, refuseOverlap } from '../cache/ownership.js';
import { ensureWritableFile, ensureWritableFolder } from '../exec/preflight.js';
import type { Context } from '../context.js';
import { InterruptedError, UsageError } from '../errors.js';
import { interruptAll } from '../exec/command.js';
import type { Arguments } from './arguments.js';
import { COMMANDS, GLOBAL_OPTIONS, OPTIONS, type CommandDeclaration } from './options.js';
import { GROUP_END, groupStart, inGitHubActions } from '../report/github.js';
import { reportError } from './report-error.js';

/** The top-level commands, for the help pages scripts/bundle.mjs renders ahead of time. */
export const COMMAND_NAMES = COMMANDS.map((declaration) => declaration.command.split(' ')[0]);

/** Where output goes: the process's streams, or a test's buffers. */
export interface Io {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

const PROCESS_IO: Io = { stdout: (text) => process.stdout.write(text), stderr: (text) => process.stderr.write(text) };

export function contextFrom(args: Arguments, io: Io = PROCESS_IO): Context {
  return {
    cacheRoot: path.resolve(String(args['cache-dir'])),
    outRoot: path.resolve(String(args.out)),
    json: Boolean(args.json),
    verbose: Boolean(args.verbose),
    python: process.env.PHIFORGE_PYTHON || 'python3',
    emulateNpu: Boolean(args['emulate-npu']),
    say: (line) => io.stderr(`${line}\n`),
    print: (text) => io.stdout(text.endsWith('\n') ? text : `${text}\n`),
    ...(inGitHubActions() ? { group: logGroups(io) } : {}),
  };
}

/** GitHub Actions log groups, one at a time: a group opened inside another one's work is not nested. */
function logGroups(io: Io): NonNullable<Context['group']> {
  let open = false;
  return async (title, work) => {
    if (open) return work();
    open = true;
    io.stderr(`${groupStart(title)}\n`);
    try {
      return await work();
    } finally {
      io.stderr(`${GROUP_END}\n`);
      open = false;
    }
  };
}

/** What a parsed command line asks for: called instead of running it, so the parser can be tested alone. */
export type Dispatch = (declaration: CommandDeclaration, path: string[], args: Arguments) => Promise<void>;

function addCommand(parser: Argv, declaration: CommandDeclaration, dispatch: Dispatch, parents: string[]): Argv {
  const name = declaration.command.split(' ')[0];
  const trail = [...parents, name];
  return parser.command(
    declaration.command,
    declaration.describe,
    (command) => {
      for (const [positional, spec] of Object.entries(declaration.positionals ?? {})) {
        command.positional(positional, { type: 'string', array: spec.array, describe: spec.describe, demandOption: !spec.optional });
      }
      for (const option of declaration.options ?? []) command.option(option, OPTIONS[option]);
      if (declaration.options?.includes('jobs')) {
        command.check((args) => {
          if (!Number.isInteger(args.jobs) || (args.jobs as number) < 1) throw new UsageError(`--jobs ${args.jobs}: expected a whole number of at least 1`, 'For example --jobs 2.');
          return true;
        });
      }
      for (const sub of declaration.subcommands ?? []) addCommand(command, sub, dispatch, trail);
      if (declaration.subcommands) command.demandCommand(1, `Name a ${name} command: ${declaration.subcommands.map((sub) => sub.command.split(' ')[0]).join(', ')}.`);
      return command;
    },
    declaration.load ? (args) => dispatch(declaration, trail, args as Arguments) : undefined,
  );
}

/**
 * yargs turns an option given twice into a list, and `--cache-dir /a --cache-dir /b` would then name a
 * folder "/a,/b". Only options declared as lists may be repeated.
 */
function refuseRepeatedOptions(declaration: CommandDeclaration, args: Arguments): void {
  const specs: Record<string, Options> = { ...GLOBAL_OPTIONS, ...Object.fromEntries((declaration.options ?? []).map((name) => [name, OPTIONS[name]])) };
  for (const [name, spec] of Object.entries(specs)) {
    const value = args[name];
    if (!spec.array && Array.isArray(value)) {
      throw new UsageError(`--${name} was given ${value.length} times (${value.map(String).join(', ')}); it takes one value`, `Give --${name} once.`);
    }
  }
}

/** The command-line parser, built from the tables in options.ts. */
export function buildParser(argv: string[], dispatch: Dispatch): Argv {
  let parser = yargs(argv)
    .scriptName('phiforge')
    .usage('$0 <command> [options]\n\nTurn Phi-3 checkpoints into quantized, validated artifacts.')
    .options(Object.fromEntries(Object.entries(GLOBAL_OPTIONS).map(([name, spec]) => [name, { ...spec, global: true }])));
  for (const declaration of COMMANDS) parser = addCommand(parser, declaration, dispatch, []);
  // yargs renders the whole help text after running any command, in case it is asked for later
  // (30 ms: a tenth of a no-op build). It is computed when it is asked for instead.
  const usage = (parser as unknown as { getInternalMethods?: () => { getUsageInstance?: () => { cacheHelpMessage?: () => void } } }).getInternalMethods?.().getUsageInstance?.();
  if (usage?.cacheHelpMessage) usage.cacheHelpMessage = () => undefined;
  return parser
    .demandCommand(1, 'Name a command; see phiforge --help.')
    .strict()
    .recommendCommands()
    .exitProcess(false)
    .fail((message, error) => {
      if (error) throw error;
      // yargs says only "Did you mean build?" for a mistyped command: name what was typed too.
      const typed = argv.find((word) => !word.startsWith('-'));
      throw new UsageError(/^Did you mean/.test(message) ? `unknown command "${typed}". ${message}` : message, 'See phiforge --help.');
    })
    .help()
    .version();
}

/** How long unwinding may take after Ctrl-C or SIGTERM before phiforge exits regardless. */
const STOP_DEADLINE_MS = 1500;

/**
 * Ends the process as the signal would have: the shell sees 128 + its number. process.exit() is no
 * way out here, because it waits for libuv's threads, and one blocked in a read (a FIFO someone
 * never writes) never returns; the signal's default action ends the process at once.
 */
function endBySignal(signal: 'SIGINT' | 'SIGTERM'): never {
  process.removeAllListeners(signal);
  process.kill(process.pid, signal);
  // The signal is delivered asynchronously; nothing else may run meanwhile. Should it have been
  // ignored (a parent that ignores it and whose choice the process inherited), exit after all.
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1000);
  process.exit(new InterruptedError(signal).exitCode);
}

/**
 * Ctrl-C and SIGTERM stop running commands (their children are ended), release locks and exit with
 * 130 / 143 and one line, within a couple of seconds. A second Ctrl-C exits at once.
 */
function onInterrupt(io: Io, wantsJson: boolean): () => void {
  let interrupted = false;
  let finished = false;
  const handler = (signal: 'SIGINT' | 'SIGTERM') => {
    const error = new InterruptedError(signal);
    if (interrupted) endBySignal(signal);
    interrupted = true;
    io.stderr(`\n${signal === 'SIGINT' ? 'interrupted' : 'terminated'}: stopping running steps...\n`);
    interruptAll(signal);
    // Normally the work unwinds (children end, locks are released) and main reports the error; if not, exit anyway.
    setTimeout(() => {
      if (finished) return;
      reportError(error, { json: wantsJson, verbose: false }, io);
      endBySignal(signal);
    }, STOP_DEADLINE_MS).unref();
  };
  const sigint = () => handler('SIGINT');
  const sigterm = () => handler('SIGTERM');
  process.on('SIGINT', sigint);
  process.on('SIGTERM', sigterm);
  return () => {
    finished = true;
    process.off('SIGINT', sigint);
    process.off('SIGTERM', sigterm);
  };
}

/** Parses and runs one command line; returns the exit code. Every error is turned into output here. */
export async function main(argv: string[], io: Io = PROCESS_IO): Promise<number> {
  const wantsJson = argv.includes('--json');
  const verbose = argv.includes('--verbose');
  const stopHandling = onInterrupt(io, wantsJson);
  let exitCode = 0;
  try {
    await buildParser(argv, async (declaration, trail, args) => {
      refuseRepeatedOptions(declaration, args);
      // Where results will go is checked before any work starts.
      for (const option of declaration.writes ?? []) await ensureWritableFolder(path.resolve(String(args[option])), `--${option}`);
      // The cache must be phiforge's, and apart from --out, before phiforge marks it as its own.
      const cacheDir = String(args['cache-dir']);
      const cacheRoot = path.resolve(cacheDir);
      if (declaration.writes?.includes('cache-dir') || declaration.deletesInCache) await refuseForeignCache(cacheRoot, cacheDir);
      if (declaration.writes?.includes('cache-dir') && declaration.writes.includes('out')) refuseOverlap(path.resolve(String(args.out)), cacheRoot, { out: String(args.out), cache: cacheDir });
      if (declaration.writes?.includes('cache-dir')) await claimCache(cacheRoot, cacheDir);
      if (typeof args.junit === 'string') await ensureWritableFile(args.junit, '--junit');
      const module = await declaration.load!();
      exitCode = await module.run(contextFrom(args, io), args, trail);
    }).parseAsync();
    return exitCode;
  } catch (error) {
    return reportError(error, { json: wantsJson, verbose }, io);
  } finally {
    stopHandling();
  }
}
