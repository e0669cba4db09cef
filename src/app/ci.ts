import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { globSync } from 'tinyglobby';
import { filesDigest, VALIDATION_DIR } from '../artifact/manifest.js';
import { findBackend, RecipeSchema, type Recipe } from '../backends/index.js';
import type { DeviceClass } from '../backends/types.js';
import { loadCiConfig, type CiConfig } from '../ci/config.js';
import { expandMatrices, publishLegs, pullRequestOrigin, type Matrices, type PublishLeg, type PullRequestOrigin, type RecipeFacts, type ToolchainLock } from '../ci/matrix.js';
import { workflowYaml } from '../ci/workflow.js';
import { parseContract } from '../contract.js';
import type { Context } from '../context.js';
import { UsageError, WorkflowOutOfDateError } from '../errors.js';
import { planRecipe } from '../pipeline/plan.js';
import { resolveRecipe } from '../pipeline/resolve.js';
import { readArtifact } from '../report/rows.js';
import { loadToolchain, requireLock } from '../toolchain/definition.js';
import { YamlSource } from '../yaml/located-yaml.js';
import { checkResources } from './resources.js';
import { blobNotUsed } from '../validate/evaluate.js';

// `phiforge ci`: the GitHub Actions workflow, the matrix its plan job expands on every run, and the
// artifacts its publish job may publish. Generation itself is pure (src/ci/); this reads the recipes,
// plans them and checks artifacts.

export interface FoundRecipes {
  /** Recipe files, relative to the repository root (the working folder), with forward slashes, sorted. */
  files: string[];
  /** Files the patterns matched that are bases other recipes extend, not recipes of their own. */
  bases: Array<{ file: string; extendedBy: string }>;
}

const posix = (file: string) => file.split(path.sep).join('/');

/**
 * The recipe files the patterns name. Each pattern must match something; a file that another matched
 * recipe extends and that has no name of its own (recipes/demo/smollm2-base.yaml) is a base, left out.
 */
export async function findRecipes(patterns: string[]): Promise<FoundRecipes> {
  const matched = new Set<string>();
  for (const pattern of patterns) {
    if (path.isAbsolute(pattern)) throw new UsageError(`${pattern}: recipe patterns are relative to the repository root`, 'Run phiforge ci from the repository root and give paths such as recipes/**/*.yaml.');
    const files = globSync(pattern, { cwd: process.cwd(), onlyFiles: true, expandDirectories: false });
    if (files.length === 0) throw new UsageError(`no recipe file matches ${pattern}`, 'Check the pattern (quote globs so that phiforge, not the shell, expands them: \'recipes/**/*.yaml\').');
    for (const file of files) matched.add(posix(path.normalize(file)));
  }
  const sources = new Map<string, { name?: unknown; extends?: unknown }>();
  for (const file of [...matched].sort()) sources.set(file, ((await YamlSource.read(file)).data ?? {}) as { name?: unknown; extends?: unknown });
  const extendedBy = new Map<string, string>();
  for (const [file, data] of sources) {
    if (typeof data.extends === 'string') extendedBy.set(posix(path.normalize(path.join(path.dirname(file), data.extends))), file);
  }
  const bases = [...sources].filter(([file, data]) => extendedBy.has(file) && data.name === undefined).map(([file]) => ({ file, extendedBy: extendedBy.get(file)! }));
  const files = [...sources.keys()].filter((file) => !bases.some((base) => base.file === file));
  return { files, bases };
}

/**
 * Steps whose output belongs to the device of the machine that makes it (their keys name the
 * machine): a build with one runs on that device class's runner.
 */
const DEVICE_BOUND_STEPS: Record<string, DeviceClass> = { 'compile-npu-blob': 'npu' };

/** Resolves and plans one recipe: what the matrix needs of it. With `estimate`, doctor's estimate too (a hub model's config.json is fetched). */
export async function recipeFacts(context: Context, file: string, options: { estimate: boolean }): Promise<RecipeFacts> {
  const plan = await planRecipe(context, await resolveRecipe(file));
  const { recipe, backend } = plan.recipe;
  const lockOf = async (name: string): Promise<ToolchainLock> => ({ name, lockDigest: requireLock(await loadToolchain(name)) });
  const deviceClasses = [...new Set(recipe.targets.map((target) => backend.deviceClass(target.device)))];
  const runtimeToolchains: Partial<Record<DeviceClass, ToolchainLock[]>> = {};
  for (const target of recipe.targets) {
    const deviceClass = backend.deviceClass(target.device);
    const locks = await Promise.all(backend.runtimeToolchains(target.device).map(lockOf));
    runtimeToolchains[deviceClass] = [...(runtimeToolchains[deviceClass] ?? []), ...locks];
  }
  const facts: RecipeFacts = {
    file,
    artifact: recipe.name,
    deviceClasses,
    buildToolchains: plan.toolchains.map((toolchain) => ({ name: toolchain.name, lockDigest: requireLock(toolchain) })),
    runtimeToolchains,
    stepKeys: plan.steps.map((step) => step.key),
    cachedStepKeys: plan.steps.filter((step) => !('materialize' in step.work)).map((step) => step.key),
  };
  const bound = plan.steps.map((step) => DEVICE_BOUND_STEPS[step.kind]).find(Boolean);
  if (bound) facts.exportDeviceClass = bound;
  if (options.estimate) {
    const check = await checkResources(context, plan, { download: true });
    // The export job builds (the reference answers included); validation runs on the device runners.
    if (check.estimate) facts.estimate = { exportMemoryBytes: check.estimate.buildMemoryBytes, diskBytes: check.estimate.diskBytes };
    else facts.estimateUnknown = check.unknown;
  }
  return facts;
}

async function allRecipeFacts(context: Context, files: string[], options: { estimate: boolean }): Promise<RecipeFacts[]> {
  const facts: RecipeFacts[] = [];
  for (const file of files) facts.push(await recipeFacts(context, file, options));
  const byArtifact = new Map<string, string[]>();
  for (const recipe of facts) byArtifact.set(recipe.artifact, [...(byArtifact.get(recipe.artifact) ?? []), recipe.file]);
  const clashes = [...byArtifact].filter(([, files]) => files.length > 1);
  if (clashes.length > 0) {
    throw new UsageError(
      `recipes that make artifacts of the same name would overwrite each other's uploads: ${clashes.map(([name, files]) => `${name} (${files.join(', ')})`).join('; ')}`,
      'Give each recipe its own name:.',
    );
  }
  return facts;
}

export interface CiMatrix extends Matrices {
  config: CiConfig;
  configFile?: string;
  recipes: RecipeFacts[];
  bases: FoundRecipes['bases'];
}

/**
 * The pull request this GitHub Actions run is for, from the event GitHub describes in
 * GITHUB_EVENT_NAME and the payload file GITHUB_EVENT_PATH; undefined for any other event, or outside
 * Actions. A payload that cannot be read leaves the pull request's origin unknown, hence foreign.
 */
async function pullRequestOfThisRun(): Promise<PullRequestOrigin | undefined> {
  const file = process.env.GITHUB_EVENT_PATH;
  const payload: unknown = file ? await readFile(file, 'utf8').then((text) => JSON.parse(text) as unknown).catch(() => undefined) : undefined;
  return pullRequestOrigin(process.env.GITHUB_EVENT_NAME, payload);
}

/**
 * `phiforge ci matrix`: every recipe planned and estimated, expanded into the jobs' matrices; for a
 * pull request from a fork, without the legs on self-hosted runners.
 */
export async function ciMatrix(context: Context, patterns: string[] | undefined, configFile: string | undefined): Promise<CiMatrix> {
  const { config, file } = await loadCiConfig(configFile);
  const found = await findRecipes(patterns?.length ? patterns : config.recipes);
  const recipes = await allRecipeFacts(context, found.files, { estimate: true });
  return { ...expandMatrices(config, recipes, await pullRequestOfThisRun()), config, configFile: file, recipes, bases: found.bases };
}

export interface CiWorkflow {
  yaml: string;
  /** Where the workflow is kept (workflow.file). */
  file: string;
  configFile?: string;
  /** What the plan job would expand the recipes to today (it does so again on every run). */
  today: { recipes: number; exports: number; validations: number; deviceClasses: DeviceClass[] };
  bases: FoundRecipes['bases'];
}

/**
 * `phiforge ci github`: the workflow for these recipe patterns. The recipes are resolved and planned
 * now, so a mistake shows here rather than in the first run; the workflow itself depends only on the
 * patterns and the configuration. With `check`, the file there must be exactly this workflow.
 */
export async function ciWorkflow(context: Context, patterns: string[] | undefined, configFile: string | undefined, options: { check?: string } = {}): Promise<CiWorkflow> {
  const { config, file } = await loadCiConfig(configFile);
  const chosen = patterns?.length ? patterns : config.recipes;
  const found = await findRecipes(chosen);
  const recipes = await allRecipeFacts(context, found.files, { estimate: false });
  const matrices = expandMatrices(config, recipes);
  const yaml = workflowYaml({ config, configFile: file, patterns: chosen });
  if (options.check !== undefined) await checkWorkflow(options.check, yaml, chosen, file);
  return {
    yaml,
    file: config.workflow.file,
    configFile: file,
    today: { recipes: recipes.length, exports: matrices.export.include.length, validations: matrices.validate.include.length, deviceClasses: [...new Set(recipes.flatMap((recipe) => recipe.deviceClasses))] },
    bases: found.bases,
  };
}

async function checkWorkflow(file: string, expected: string, patterns: string[], configFile: string | undefined): Promise<void> {
  const actual = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    throw new UsageError(`--check ${file}: cannot read it (${error.code ?? error.message})`, 'Name the workflow file phiforge ci github wrote.');
  });
  if (actual === expected) return;
  const actualLines = actual.split('\n');
  const expectedLines = expected.split('\n');
  const line = expectedLines.findIndex((text, index) => text !== actualLines[index]);
  throw new WorkflowOutOfDateError(file, line + 1, actualLines[line] ?? '(end of file)', expectedLines[line] ?? '(end of file)', ['phiforge ci github', ...patterns.map((pattern) => `'${pattern}'`), ...(configFile ? ['--config', configFile] : []), '--write', file].join(' '));
}

export interface PublishVerdict {
  artifact: string;
  dir: string;
  publish: boolean;
  /** Why not, one line each; empty when it is published. */
  reasons: string[];
  repo?: string;
}

/**
 * `phiforge ci publishable`: which artifacts the publish job may publish. One is publishable when,
 * for every device class of its recipe's targets, a result of these exact files passed and none
 * failed: a class whose runner never reported (its validation failed before measuring, or never ran)
 * keeps it back.
 */
export async function ciPublishable(artifactDirs: string[], configFile: string | undefined): Promise<{ verdicts: PublishVerdict[]; publish: { include: PublishLeg[] }; config: CiConfig }> {
  const { config } = await loadCiConfig(configFile);
  if (!config.publish.enabled) throw new UsageError('publishing is not enabled in the CI configuration', 'Set publish.enabled: true and publish.owner in phiforge-ci.yaml.');
  const verdicts: PublishVerdict[] = [];
  for (const dir of artifactDirs) {
    const { manifest, results } = await readArtifact(dir);
    const backend = findBackend(manifest.backend);
    const reasons: string[] = [];
    if (!backend) reasons.push(`no backend named ${manifest.backend} in this phiforge`);
    else {
      const recipe = parseContract(RecipeSchema, manifest.recipe.resolved, path.join(dir, 'manifest.json'), 'phiforge build') as Recipe;
      const digest = filesDigest(manifest.files);
      const current = results.filter((result) => result.artifact.files_sha256 === digest);
      const classes = [...new Set(recipe.targets.map((target) => backend.deviceClass(target.device)))];
      for (const deviceClass of classes) {
        const mine = current.filter((result) => result.device_class === deviceClass);
        const failed = mine.filter((result) => result.report.status === 'failed');
        if (failed.length > 0) reasons.push(`${deviceClass}: ${failed.map((result) => `${result.device} on ${result.host.name} failed${result.report.failures.length ? ` (${result.report.failures.join('; ')})` : ''}`).join('; ')}`);
        else if (!mine.some((result) => result.report.status === 'passed' && !blobNotUsed(result.report))) {
          // A pass that compiled the IR in place of a shipped blob validated the IR, not what ships.
          const withoutBlob = mine.some((result) => result.report.status === 'passed');
          reasons.push(`${deviceClass}: ${withoutBlob ? 'passed only without the shipped NPU blob (it did not fit the runner; see npu_blob in the result)' : `no passing result of these files in ${VALIDATION_DIR}/`}`);
        }
      }
    }
    verdicts.push({ artifact: manifest.name, dir, publish: reasons.length === 0, reasons, ...(reasons.length === 0 ? { repo: publishLegs(config, [manifest.name]).include[0].repo } : {}) });
  }
  return { verdicts, publish: publishLegs(config, verdicts.filter((verdict) => verdict.publish).map((verdict) => verdict.artifact)), config };
}
