import path from 'node:path';
import yargs, { type Argv } from 'yargs';
import { UsageError } from '../errors.js';
import type { Context } from '../context.js';
import { reportError } from './report-error.js';

// Handlers import their modules lazily so that `phiforge --help` loads almost nothing.

interface GlobalOptions {
  'emulate-npu': boolean;
  'cache-dir': string;
  out: string;
  json: boolean;
  verbose: boolean;
}

export function contextFrom(options: GlobalOptions): Context {
  return {
    cacheRoot: path.resolve(options['cache-dir']),
    outRoot: path.resolve(options.out),
    json: options.json,
    verbose: options.verbose,
    python: process.env.PHIFORGE_PYTHON || 'python3',
    emulateNpu: options['emulate-npu'],
    say: (line) => process.stderr.write(`${line}\n`),
  };
}

const MODEL_OPTION = { type: 'string', describe: 'Override the recipe model: a local folder or hub id[@revision]' } as const;

const VALIDATION_OPTIONS = {
  'require-device': { type: 'boolean', default: false, describe: 'Fail, rather than skip, a target whose device is not present' },
  junit: { type: 'string', describe: 'Write JUnit XML (a test case per recipe x target x check) to this file' },
} as const;

/** The command-line parser, exported so tests can exercise it without spawning a process. */
export function buildParser(argv: string[]): Argv<GlobalOptions> {
  return yargs(argv)
    .scriptName('phiforge')
    .usage('$0 <command> [options]\n\nTurn Phi-3 checkpoints into quantized, validated artifacts.')
    .option('cache-dir', { type: 'string', default: process.env.PHIFORGE_CACHE || 'cache', describe: 'Cache root: venvs, step outputs, logs', global: true })
    .option('out', { type: 'string', default: 'dist', describe: 'Where artifacts are written (<out>/<recipe name>/)', global: true })
    .option('json', { type: 'boolean', default: false, describe: 'Machine-readable result on stdout (progress stays on stderr)', global: true })
    .option('verbose', { type: 'boolean', default: false, describe: 'Stream tool output and show stack traces', global: true })
    .option('emulate-npu', { type: 'boolean', default: false, describe: 'Without an NPU, compile and run NPU targets through NPUW on the CPU (labelled emulated)', global: true })
    .command(
      'build <recipe...>',
      'Build the artifacts of one or more recipes',
      (command) =>
        command
          .positional('recipe', { type: 'string', array: true, demandOption: true, describe: 'Recipe files' })
          .option('model', MODEL_OPTION)
          .option('force', { type: 'boolean', default: false, describe: 'Run every step again even when its output is cached' })
          .option('validate', { type: 'boolean', default: true, describe: 'Validate the artifacts (--no-validate builds them only)' })
          .option('jobs', {
            alias: 'j',
            type: 'number',
            default: 1,
            describe: "Build up to N recipes' artifacts at once (each export needs its own memory; validation still runs one recipe at a time)",
          })
          .check((args) => {
            if (!Number.isInteger(args.jobs) || args.jobs < 1) throw new UsageError(`--jobs ${args.jobs}: expected a whole number of at least 1`, 'For example --jobs 2.');
            return true;
          })
          .options(VALIDATION_OPTIONS),
      async (args) =>
        (await import('./commands/build.js')).build(contextFrom(args), args.recipe as string[], {
          model: args.model,
          force: args.force,
          artifactOnly: !args.validate,
          requireDevice: args['require-device'],
          junit: args.junit,
          jobs: args.jobs,
        }),
    )
    .command(
      'validate <target...>',
      'Run artifacts on their target devices afresh: answers against the source model, latency, gates',
      (command) =>
        command
          .positional('target', { type: 'string', array: true, demandOption: true, describe: 'Artifact folders (dist/<name>) or recipe files' })
          .option('model', MODEL_OPTION)
          .options(VALIDATION_OPTIONS),
      async (args) =>
        (await import('./commands/validate.js')).validate(contextFrom(args), args.target as string[], { model: args.model, requireDevice: args['require-device'], junit: args.junit }),
    )
    .command(
      'plan <recipe>',
      'Print the resolved steps and every exact command, running nothing',
      (command) =>
        command
          .positional('recipe', { type: 'string', demandOption: true })
          .option('model', MODEL_OPTION),
      async (args) => (await import('./commands/plan.js')).plan(contextFrom(args), args.recipe as string, args.model),
    )
    .command(
      'verify <artifact...>',
      'Rebuild artifacts from their manifests in a fresh cache and compare every file digest',
      (command) =>
        command
          .positional('artifact', { type: 'string', array: true, demandOption: true, describe: 'Artifact folders (dist/<name>)' })
          .option('keep', { type: 'boolean', default: false, describe: 'Keep the rebuild for inspection' }),
      async (args) => (await import('./commands/verify.js')).verify(contextFrom(args), args.artifact as string[], { keep: args.keep }),
    )
    .command('cache', 'Inspect and prune the cache', (command) =>
      command
        .command('ls', 'List step outputs and venvs with their sizes', () => undefined, async (args) => (await import('./commands/cache.js')).list(contextFrom(args)))
        .command(
          'gc',
          'Remove what no build can reuse: unfinished entries, venvs of old locks, and (with --older-than) old outputs',
          (sub) => sub.option('older-than', { type: 'number', describe: 'Also remove step outputs not used for this many days' }),
          async (args) => (await import('./commands/cache.js')).gc(contextFrom(args), args['older-than']),
        )
        .command(
          'verify',
          'Re-read every cached step output against its sha256 and remove damaged ones (builds only re-read files whose size or mtime changed)',
          () => undefined,
          async (args) => (await import('./commands/cache.js')).verify(contextFrom(args)),
        )
        .command(
          'clean',
          'Remove step outputs and logs (with --all, venvs too)',
          (sub) => sub.option('all', { type: 'boolean', default: false }),
          async (args) => (await import('./commands/cache.js')).clean(contextFrom(args), args.all),
        )
        .demandCommand(1, 'Name a cache command: ls, gc, verify or clean.'),
    )
    .command(
      'doctor [recipe]',
      'Show what this machine offers: system, Python, toolchains, devices; with a recipe, what its build needs',
      (command) =>
        command.positional('recipe', { type: 'string' }).option('model', MODEL_OPTION),
      async (args) => (await import('./commands/doctor.js')).doctor(contextFrom(args), args.recipe, args.model),
    )
    .command('toolchain', 'Manage the Python toolchains', (command) =>
      command
        .command('list [name]', 'Show toolchains and the state of their venvs', (sub) => sub.positional('name', { type: 'string' }), async (args) =>
          (await import('./commands/toolchain.js')).list(contextFrom(args), args.name),
        )
        .command('install [name]', 'Create (or repair) toolchain venvs', (sub) => sub.positional('name', { type: 'string' }), async (args) =>
          (await import('./commands/toolchain.js')).install(contextFrom(args), args.name),
        )
        .command('lock <name>', 'Resolve requirements.in into a hash-pinned requirements.lock', (sub) => sub.positional('name', { type: 'string', demandOption: true }), async (args) =>
          (await import('./commands/toolchain.js')).lock(contextFrom(args), args.name as string),
        )
        .demandCommand(1, 'Name a toolchain command: list, install or lock.'),
    )
    .command('schema', false, () => undefined, async () => (await import('./commands/schema.js')).printSchema())
    .demandCommand(1, 'Name a command; see phiforge --help.')
    .strict()
    .recommendCommands()
    .exitProcess(false)
    .fail((message, error) => {
      throw error ?? new UsageError(message, 'See phiforge --help.');
    })
    .help()
    .version() as unknown as Argv<GlobalOptions>;
}

export async function main(argv: string[]): Promise<number> {
  const wantsJson = argv.includes('--json');
  const verbose = argv.includes('--verbose');
  try {
    await buildParser(argv).parseAsync();
    return process.exitCode === undefined ? 0 : Number(process.exitCode);
  } catch (error) {
    return reportError(error, { json: wantsJson, verbose });
  }
}
