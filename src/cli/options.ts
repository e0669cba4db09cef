import type { Options } from 'yargs';
import { DEVICE_CLASSES } from '../backends/types.js';
import type { CommandModule } from './arguments.js';

// Every option and command of the CLI, declared once. main.ts builds the yargs parser from these
// tables; a command module (commands/*.ts) receives the parsed options and only calls the app layer
// and renders what it returns.

export const GLOBAL_OPTIONS = {
  'cache-dir': { type: 'string', default: process.env.PHIFORGE_CACHE || 'cache', describe: 'Cache root: venvs, step outputs, logs (PHIFORGE_CACHE)' },
  out: { type: 'string', default: 'dist', describe: 'Where artifacts are written (<out>/<name>/)' },
  json: { type: 'boolean', default: false, describe: 'Machine-readable result on stdout (progress stays on stderr)' },
  verbose: { type: 'boolean', default: false, describe: 'Stream tool output and show stack traces' },
  'emulate-npu': { type: 'boolean', default: false, describe: 'Without an NPU, compile and run NPU targets through NPUW on the CPU (labelled emulated)' },
} satisfies Record<string, Options>;

export const OPTIONS = {
  model: { type: 'string', describe: 'Override the recipe model: a local folder or hub id[@revision]' },
  name: { type: 'string', describe: "The artifact's name (dist/<name>/) instead of the recipe's" },
  force: { type: 'boolean', default: false, describe: 'Run every step again and measure again, even when cached' },
  validate: { type: 'boolean', default: true, describe: 'Validate the artifacts (--no-validate builds them only)' },
  jobs: {
    alias: 'j',
    type: 'number',
    default: 1,
    describe: "Build up to N recipes' artifacts at once (each export needs its own memory; validation still runs one artifact at a time)",
  },
  'memory-budget': {
    type: 'string',
    describe: "The memory the build may use, e.g. 16GiB (16G), 16000MiB: doctor and plan say which steps fit it; build refuses, before its first step, a build with a step estimated above it (with --jobs N, N exports' peaks add up)",
  },
  'require-device': { type: 'boolean', default: false, describe: 'Fail, rather than skip, a target whose device is not present' },
  'require-blob': { type: 'boolean', default: false, describe: 'Fail an NPU target whose shipped blob does not fit this runner (OpenVINO, NPU compiler or driver, device, compile properties) instead of compiling the IR in its place' },
  device: {
    type: 'string',
    array: true,
    choices: [...DEVICE_CLASSES],
    describe: 'Only the targets of these device classes (a CI device runner validates its own)',
  },
  junit: { type: 'string', describe: 'Write JUnit XML (a test case per recipe x target x check) to this file' },
  keep: { type: 'boolean', default: false, describe: 'Keep the rebuild for inspection' },
  rebuild: { type: 'boolean', default: true, describe: 'Rebuild and compare every file (--no-rebuild checks only the files against manifest.json and the signatures, in seconds: no venv, no cache)' },
  key: { type: 'string', demandOption: true, describe: 'The Ed25519 private key to sign with: PKCS#8 PEM (openssl genpkey -algorithm ed25519) or OpenSSH (ssh-keygen -t ed25519)' },
  'sign-key': { type: 'string', describe: 'Sign with this Ed25519 private key (as --key of phiforge sign): build signs the artifact and its device results, validate the device results it writes' },
  'require-signature': {
    type: 'string',
    array: true,
    // One file per --require-signature, so that `verify a --require-signature k.pub b` still verifies b.
    nargs: 1,
    describe: 'Fail unless the artifact is signed by this public key (PEM or OpenSSH .pub; repeatable: any of them; PHIFORGE_TRUSTED_KEYS, a path list, when not given)',
  },
  'older-than': { type: 'number', describe: 'Also remove step outputs not used for this many days' },
  all: { type: 'boolean', default: false, describe: 'Also remove venvs, tools and locks' },
  html: { type: 'string', default: 'report.html', describe: 'Write the report as one self-contained HTML page (charts inline, nothing fetched) to this file' },
  md: { type: 'string', describe: 'Also write the Markdown table (as printed) to this file, e.g. a model card section' },
  repo: { type: 'string', demandOption: true, describe: 'The Hugging Face Hub model repository, <owner>/<name> (created when missing)' },
  revision: { type: 'string', default: 'main', describe: 'The branch to commit to (created when missing)' },
  private: { type: 'boolean', default: false, describe: 'Create the repository private (an existing one keeps its visibility)' },
  'dry-run': { type: 'boolean', default: false, describe: 'Print the files, their sizes and the model card (also written to <artifact>/README.md); no network call' },
  message: { type: 'string', describe: 'The commit title (default: Publish <name> (phiforge <version>))' },
  'allow-unvalidated': { type: 'boolean', default: false, describe: 'Publish even without a passing validation of these files (the model card says so)' },
  config: { type: 'string', describe: 'The CI configuration (default: phiforge-ci.yaml where it exists, else built-in defaults; see phiforge schema ci-config)' },
  write: { type: 'string', describe: 'Write the workflow to this file (e.g. .github/workflows/phiforge.yml) instead of printing it' },
  check: { type: 'string', describe: 'Fail unless this file is exactly the workflow phiforge makes now (the plan job checks its own workflow)' },
} satisfies Record<string, Options>;

export type OptionName = keyof typeof OPTIONS;

export interface CommandDeclaration {
  /** yargs command string: name and positionals. */
  command: string;
  describe: string;
  positionals?: Record<string, { describe: string; array?: boolean; optional?: boolean }>;
  options?: OptionName[];
  /**
   * The folders it writes into: checked before it starts (a read-only --cache-dir fails in
   * milliseconds, not after a build). A cache it writes must be phiforge's (it is claimed: created and
   * marked, or adopted); --out and the cache of a command that writes both may not overlap.
   */
  writes?: Array<'cache-dir' | 'out'>;
  /** It deletes in the cache (gc, clean, verify): an existing --cache-dir must be phiforge's; a missing one is left missing. */
  deletesInCache?: boolean;
  /** The module in commands/ that runs it, loaded only when the command is used. */
  load?: () => Promise<CommandModule>;
  subcommands?: CommandDeclaration[];
}

export const COMMANDS: CommandDeclaration[] = [
  {
    command: 'build <recipe...>',
    describe: 'Build the artifacts of one or more recipes, then validate them',
    positionals: { recipe: { describe: 'Recipe files', array: true } },
    options: ['model', 'name', 'force', 'validate', 'jobs', 'memory-budget', 'require-device', 'require-blob', 'device', 'junit', 'sign-key'],
    writes: ['cache-dir', 'out'],
    load: () => import('./commands/build.js'),
  },
  {
    command: 'validate <target...>',
    describe: 'Validate artifact folders as they are (digests, then a run on each target device), or build and validate recipes',
    positionals: { target: { describe: 'Artifact folders (dist/<name>) or recipe files', array: true } },
    options: ['model', 'require-device', 'require-blob', 'device', 'junit', 'sign-key', 'require-signature'],
    writes: ['cache-dir'],
    load: () => import('./commands/validate.js'),
  },
  {
    command: 'plan <recipe>',
    describe: 'Print the resolved steps and every exact command, running nothing',
    positionals: { recipe: { describe: 'A recipe file' } },
    options: ['model', 'memory-budget'],
    load: () => import('./commands/plan.js'),
  },
  {
    command: 'verify <artifact...>',
    describe: 'Check every file of artifacts against their manifests and signatures, then rebuild them from their manifests in a fresh cache and compare every file digest',
    positionals: { artifact: { describe: 'Artifact folders (dist/<name>)', array: true } },
    options: ['keep', 'rebuild', 'require-signature'],
    writes: ['cache-dir'],
    load: () => import('./commands/verify.js'),
  },
  {
    command: 'report <artifact...>',
    describe: 'Compare artifacts on every device they were validated on: a table (Markdown on stdout) and an HTML page with charts',
    positionals: { artifact: { describe: 'Artifact folders (dist/<name>), validated or not', array: true } },
    options: ['html', 'md'],
    load: () => import('./commands/report.js'),
  },
  {
    command: 'publish <artifact>',
    describe: 'Publish a validated artifact to the Hugging Face Hub with a model card that carries its validation (HF_TOKEN, HF_ENDPOINT)',
    positionals: { artifact: { describe: 'An artifact folder (dist/<name>)' } },
    options: ['repo', 'revision', 'private', 'dry-run', 'message', 'allow-unvalidated', 'require-signature'],
    load: () => import('./commands/publish.js'),
  },
  {
    command: 'sign <artifact>',
    describe: "Sign an artifact: provenance.json, a DSSE envelope of an in-toto statement (SLSA provenance) naming every file's sha256, signed with an Ed25519 key",
    positionals: { artifact: { describe: 'An artifact folder (dist/<name>)' } },
    options: ['key'],
    load: () => import('./commands/sign.js'),
  },
  {
    command: 'ci',
    describe: 'Produce artifacts in CI: the GitHub Actions workflow, and what its jobs ask of phiforge',
    subcommands: [
      {
        command: 'github [recipe...]',
        describe: 'Print (or --write) a GitHub Actions workflow that exports each recipe, validates it on every device class, reports and publishes',
        positionals: { recipe: { describe: "Recipe files or globs, relative to the repository root (default: the configuration's recipes)", array: true, optional: true } },
        options: ['config', 'write', 'check'],
        load: () => import('./commands/ci.js'),
      },
      {
        command: 'matrix [recipe...]',
        describe: "The plan job's matrices (export per recipe, validate per recipe x device class) as JSON, also written to $GITHUB_OUTPUT when set",
        positionals: { recipe: { describe: "Recipe files or globs (default: the configuration's recipes)", array: true, optional: true } },
        options: ['config'],
        load: () => import('./commands/ci.js'),
      },
      {
        command: 'publishable <artifact...>',
        describe: 'Which artifacts passed on every device class of their recipe: the publish job\'s matrix as JSON, also written to $GITHUB_OUTPUT when set',
        positionals: { artifact: { describe: 'Artifact folders (dist/<name>) with their device results', array: true } },
        options: ['config'],
        load: () => import('./commands/ci.js'),
      },
    ],
  },
  {
    command: 'cache',
    describe: 'Inspect and prune the cache',
    subcommands: [
      { command: 'ls', describe: 'List step outputs and venvs with their sizes', load: () => import('./commands/cache.js') },
      { command: 'gc', describe: 'Remove what no build can reuse: unfinished entries, venvs of old locks, and (with --older-than) old outputs', options: ['older-than'], deletesInCache: true, load: () => import('./commands/cache.js') },
      { command: 'verify', describe: 'Re-read every cached step output against its sha256 and remove damaged ones (builds only re-read files whose size or mtime changed)', deletesInCache: true, load: () => import('./commands/cache.js') },
      { command: 'clean', describe: 'Remove step outputs and logs (with --all, venvs too)', options: ['all'], deletesInCache: true, load: () => import('./commands/cache.js') },
    ],
  },
  {
    command: 'doctor [recipe]',
    describe: 'Show what this machine offers: system, Python, toolchains, devices; with a recipe, what its build needs',
    positionals: { recipe: { describe: 'A recipe file', optional: true } },
    options: ['model', 'memory-budget', 'jobs'],
    load: () => import('./commands/doctor.js'),
  },
  {
    command: 'toolchain',
    describe: 'Manage the Python toolchains',
    subcommands: [
      { command: 'list [name]', describe: 'Show toolchains and the state of their venvs', positionals: { name: { describe: 'A toolchain', optional: true } }, load: () => import('./commands/toolchain.js') },
      { command: 'install [name]', describe: 'Create (or repair) toolchain venvs', positionals: { name: { describe: 'A toolchain', optional: true } }, writes: ['cache-dir'], load: () => import('./commands/toolchain.js') },
      { command: 'lock <name>', describe: 'Resolve requirements.in into a hash-pinned requirements.lock', positionals: { name: { describe: 'A toolchain' } }, load: () => import('./commands/toolchain.js') },
    ],
  },
  { command: 'schema [name]', describe: 'Print a file format as JSON Schema (default: the recipe)', positionals: { name: { describe: 'recipe, ci-config, manifest, reference, runner-request, runs, similarity, validation, or all', optional: true } }, load: () => import('./commands/schema.js') },
];
