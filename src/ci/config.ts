import { existsSync } from 'node:fs';
import { z } from 'zod';
import { DEVICE_CLASSES } from '../backends/types.js';
import { UsageError } from '../errors.js';
import { parseWithSchema, YamlSource } from '../yaml/located-yaml.js';

// phiforge-ci.yaml: how `phiforge ci github` writes the workflow and how `phiforge ci matrix` picks
// runners and caches. Defined once here; schema/ci-config.schema.json is generated from it. Every key
// has a default, so no file at all is a valid configuration (GitHub-hosted runners, no publishing).

/** The file `phiforge ci` reads when --config is not given, if it exists. */
export const DEFAULT_CONFIG_FILE = 'phiforge-ci.yaml';

/** A runner's labels, as `runs-on` takes them: one label or all of several. */
const Labels = z
  .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
  .meta({ description: 'runs-on labels: one label, or a list a runner must carry all of.', hint: 'A label such as ubuntu-latest, or a list such as [self-hosted, npu].' });

const Minutes = (fallback: number) =>
  z.number().int('minutes must be a whole number').min(1).max(4320).default(fallback).meta({ hint: 'Whole minutes, 1 to 4320 (GitHub stops a job after 360 minutes on its own runners, 5 days on self-hosted ones).' });

const ExportRunner = z.strictObject({
  memory_gib: z
    .number()
    .positive()
    .meta({ description: "The runner's memory in GiB: an export goes to the first runner (by memory) that holds doctor's estimate of what it needs.", hint: 'A number of GiB, e.g. 16 for ubuntu-latest in a public repository.' }),
  labels: Labels,
});

export const DEFAULT_DEVICE_RUNNERS: Record<(typeof DEVICE_CLASSES)[number], string | string[]> = {
  cpu: 'ubuntu-latest',
  gpu: ['self-hosted', 'intel-gpu'],
  npu: ['self-hosted', 'npu'],
  cuda: ['self-hosted', 'cuda'],
  dml: ['self-hosted', 'windows', 'dml'],
};

export const CiConfig = z
  .strictObject({
    recipes: z
      .array(z.string().min(1))
      .min(1)
      .default(['recipes/**/*.yaml'])
      .meta({ description: 'Recipe files or globs, used when the command line names none. A file other recipes extend and that has no name of its own is a base, not a recipe.' }),
    workflow: z
      .strictObject({
        name: z.string().min(1).default('phiforge artifacts'),
        file: z.string().min(1).default('.github/workflows/phiforge.yml').meta({ description: 'Where the workflow is kept: a change to it runs it.' }),
        branches: z.array(z.string().min(1)).default(['main']).meta({ description: 'Pushes to these branches build, validate and report (pull requests always do); [] with tags: pushed tags only.' }),
        tags: z.array(z.string().min(1)).default(['v*']).meta({ description: 'Pushed tags that build, validate, report and (with publish.enabled) publish.' }),
      })
      .prefault({}),
    phiforge: z
      .strictObject({
        node: z.string().min(1).default('24').meta({ description: 'The Node.js version actions/setup-node installs (phiforge runs on Node 20 and later).' }),
        install: z
          .string()
          .min(1)
          .default('npm ci && npm run build')
          .meta({ description: 'How phiforge is installed in the checkout: by the plan job alone when `built` names what it makes, else by every job. The default builds this repository (phiforge itself); a repository that depends on phiforge through npm uses `npm ci`.' }),
        built: z
          .array(z.string().min(1))
          .default(['lib/'])
          .meta({
            description:
              "What the install makes that running phiforge needs: the plan job installs once and hands these paths to every other job (the artifact phiforge-cli), which then installs nothing. The default, lib/, is phiforge's self-contained bundle (it needs no node_modules). [] installs in every job; where phiforge is an npm dependency, [node_modules/] hands over the install.",
          }),
        command: z
          .string()
          .min(1)
          .default('node bin/phiforge.js')
          .meta({ description: 'How steps call phiforge after the install: `node bin/phiforge.js` here, `npx phiforge` where it is a dependency.' }),
        paths: z
          .array(z.string().min(1))
          .default(['package.json', 'package-lock.json', 'src/**', 'bin/**', 'scripts/**', 'pipelines/**', 'toolchains/**'])
          .meta({ description: "Paths whose changes change phiforge itself (its code, version, pipelines, toolchains): pushes and pull requests that touch them run the workflow, as recipe changes do." }),
      })
      .prefault({}),
    python: z
      .strictObject({
        version: z.string().min(1).default('3.11').meta({ description: 'The Python every toolchain is locked for.' }),
        setup: z.boolean().default(true).meta({ description: 'Install it with actions/setup-python; false where runners bring their own (point PHIFORGE_PYTHON at it in the runner environment).' }),
      })
      .prefault({}),
    runners: z
      .strictObject({
        default: Labels.default('ubuntu-latest').meta({ description: 'The runner of the plan, report and publish jobs (no model runs there).' }),
        export: z
          .array(ExportRunner)
          .min(1)
          .default([
            { memory_gib: 16, labels: 'ubuntu-latest' },
            { memory_gib: 32, labels: ['self-hosted', 'linux', 'memory-32g'] },
            { memory_gib: 64, labels: ['self-hosted', 'linux', 'memory-64g'] },
          ])
          .meta({ description: 'Export runners by memory: each recipe goes to the smallest that holds its estimated export memory (`phiforge doctor <recipe>`), else the largest.' }),
        devices: z
          .strictObject(Object.fromEntries(DEVICE_CLASSES.map((name) => [name, Labels.default(DEFAULT_DEVICE_RUNNERS[name])])) as Record<(typeof DEVICE_CLASSES)[number], z.ZodDefault<typeof Labels>>)
          .prefault({})
          .meta({ description: 'The runner of each device class that validates artifacts.', hint: `Device classes: ${DEVICE_CLASSES.join(', ')}.` }),
        self_hosted_pull_requests: z
          .boolean()
          .default(true)
          .meta({
            description:
              "Whether a pull request from a branch of this repository runs its legs on self-hosted runners (a fork's pull request never does: `phiforge ci matrix` leaves them out). false where the self-hosted runners' group admits only this workflow on the default branch, which pull requests cannot reach.",
          }),
      })
      .prefault({}),
    cache: z
      .strictObject({
        dir: z.string().min(1).default('.phiforge/cache').meta({ description: "phiforge's cache in each job (PHIFORGE_CACHE), relative to the workspace." }),
        toolchains: z.boolean().default(true).meta({ description: 'Keep toolchain venvs in actions/cache, keyed by their lock digests.' }),
        steps: z.boolean().default(true).meta({ description: "Keep each recipe's step outputs in actions/cache, keyed by the plan's step keys: an unchanged recipe skips its export." }),
        steps_max_gib: z
          .number()
          .positive()
          .default(2)
          .meta({ description: "Only recipes whose build is estimated to write at most this many GiB keep their step outputs in actions/cache (it holds 10 GB per repository; a Phi-3-mini export writes far more)." }),
      })
      .prefault({}),
    timeout_minutes: z
      .strictObject({ plan: Minutes(15), export: Minutes(360), validate: Minutes(120), report: Minutes(30), publish: Minutes(120) })
      .prefault({}),
    artifacts: z
      .strictObject({
        retention_days: z.number().int().min(1).max(400).default(7).meta({ description: 'How long GitHub keeps the uploaded artifacts and results.', hint: 'Whole days, 1 to 90 (400 in private repositories that allow it).' }),
      })
      .prefault({}),
    attest: z
      .boolean()
      .default(true)
      .meta({
        description:
          "Attest every file of each artifact with GitHub's artifact attestations (actions/attest-build-provenance) in the export job; `gh attestation verify <file> --repo <owner>/<repo>` checks one. Available to public repositories; a private one needs GitHub Enterprise Cloud, else set false.",
      }),
    signing: z
      .strictObject({
        key_secret: z
          .string()
          .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected a secret name: letters, digits and _, not starting with a digit')
          .refine((name) => !name.toUpperCase().startsWith('GITHUB_'), 'GitHub reserves secret names that start with GITHUB_')
          .meta({ description: 'The repository or organisation secret that holds the signing key (the export job runs in no environment, so not an environment secret).', hint: 'For example PHIFORGE_SIGNING_KEY (Settings → Secrets and variables → Actions).' }),
      })
      .optional()
      .meta({ description: 'Also sign each artifact with a key (`phiforge sign <artifact> --key <file>`) in the export job, for those who verify without GitHub. Absent: no key-based signing.' }),
    publish: z
      .strictObject({
        enabled: z.boolean().default(false).meta({ description: 'Publish each artifact whose validations all passed, from the default branch or a tag.' }),
        owner: z.string().regex(/^[A-Za-z0-9][\w.-]*$/, 'expected a Hugging Face user or organisation name').optional().meta({ description: 'The Hub user or organisation: <owner>/<prefix><artifact name>.' }),
        prefix: z.string().regex(/^[\w.-]*$/, 'expected letters, digits, ".", "_" or "-"').default('').meta({ description: "Put before each artifact's name in its repository name." }),
        environment: z.string().min(1).default('huggingface').meta({ description: 'The protected GitHub environment the publish job runs in; keep HF_TOKEN among its secrets.' }),
        private: z.boolean().default(false).meta({ description: 'Create new repositories private.' }),
        revision: z.string().min(1).default('main').meta({ description: 'The Hub branch to commit to.' }),
      })
      .prefault({})
      .superRefine((publish, ctx) => {
        if (publish.enabled && !publish.owner) {
          ctx.addIssue({ code: 'custom', path: ['owner'], message: 'publishing needs the Hub owner the repositories go to', params: { hint: 'Add owner: <your Hugging Face user or organisation> under publish.' } });
        }
      }),
  })
  .meta({ title: 'phiforge CI configuration', description: 'How `phiforge ci github` writes the GitHub Actions workflow and how `phiforge ci matrix` picks runners and caches.' });

export type CiConfig = z.output<typeof CiConfig>;

export interface LoadedCiConfig {
  config: CiConfig;
  /** The file it came from as given, or undefined for the built-in defaults. */
  file?: string;
}

/**
 * The configuration: the file given, else phiforge-ci.yaml where it exists, else the defaults.
 * Mistakes are located errors, like a recipe's.
 */
export async function loadCiConfig(file: string | undefined): Promise<LoadedCiConfig> {
  if (file === undefined && !existsSync(DEFAULT_CONFIG_FILE)) return { config: CiConfig.parse({}) };
  const chosen = file ?? DEFAULT_CONFIG_FILE;
  if (!existsSync(chosen)) throw new UsageError(`--config ${chosen}: no such file`, `Write one (every key has a default; see \`phiforge schema ci-config\`), or leave --config out.`);
  return { config: parseWithSchema(await YamlSource.read(chosen), CiConfig), file: chosen };
}

/** The repository name an artifact is published to. */
export function publishRepo(config: CiConfig, artifact: string): string {
  return `${config.publish.owner}/${config.publish.prefix}${artifact}`;
}
