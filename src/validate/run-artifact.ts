import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { checkArtifact, inspectArtifactFolder } from '../artifact/check.js';
import { filesDigest, MANIFEST_FILE, PHIFORGE_VERSION, readManifest, REFERENCE_FILE, VALIDATION_DIR, type Manifest } from '../artifact/manifest.js';
import { findBackend, RecipeSchema, type Recipe } from '../backends/index.js';
import type { Backend, DeviceClass } from '../backends/types.js';
import { DigestMemo } from '../cache/digest-memo.js';
import { canonicalJson, sha256, sha256File } from '../cache/digest.js';
import { scriptDigests } from '../cache/step-cache.js';
import { parseContract, readContractFile } from '../contract.js';
import { cachePath, inGroup, type Context } from '../context.js';
import { ContractError, UsageError } from '../errors.js';
import { runCommand } from '../exec/command.js';
import { ensureWritableFolder } from '../exec/preflight.js';
import { BUILT_IN_PERPLEXITY_TEXT, perplexityText, promptsWithIds } from '../recipe/schema.js';
import { loadToolchain, scriptEnv, toolchainScript, unmetRequirement, type Toolchain } from '../toolchain/definition.js';
import { ensureVenv, type ReadyVenv } from '../toolchain/venv.js';
import { DeviceResult, ReferenceFile, RunnerRequest, RunsFile, SimilarityFile, SimilarityRequest, type TargetRun } from './contract.js';
import { blobNotUsed, combineReports, evaluateTarget, targetLabel, type ValidationReport } from './evaluate.js';
import { hostFingerprint } from './host.js';
import { readDeviceResults, writeDeviceResult } from './results.js';

export interface ValidateArtifactOptions {
  /** A target whose device is absent fails instead of being skipped (device runners in CI). */
  requireDevice: boolean;
  /** Only the targets of these device classes: what one CI device runner can run. */
  deviceClasses?: DeviceClass[];
  /** Reuse a device result measured earlier on this machine for these exact bytes and settings. */
  reuse: boolean;
  /** A shipped NPU blob that does not fit this runner fails its target instead of the IR being compiled in its place. */
  requireBlob?: boolean;
}

export interface ArtifactValidation {
  report: ValidationReport;
  results: DeviceResult[];
}

/** The latency sweep's prompts are cut from this text, repeated as often as a length needs. */
const SWEEP_TEXT = BUILT_IN_PERPLEXITY_TEXT;

/** The scripts a measurement depends on besides the artifact: a change to any of them measures again. */
const COMMON_RUNNER_SCRIPTS = ['runner.py', 'phiforge_io.py', 'perplexity.py', 'similarity.py', 'npu_blob.py'].map((file) => toolchainScript('common', file));

/**
 * Validates the files of an artifact folder exactly as they are: first every file against the
 * manifest's digests, then each target run with the runtime it was made for (a runtime-only
 * toolchain: no converter, no source model, no hub), its answers compared with the reference answers
 * shipped inside the artifact, and the recipe's checks and gates applied. Each device's result is
 * written beside the artifact (validation/<device>-<host>.json); the shipped files are not touched.
 */
export async function validateArtifact(context: Context, artifactDir: string, options: ValidateArtifactOptions): Promise<ArtifactValidation> {
  // Walked before anything in it is read: a manifest.json that is a FIFO or a link out of the folder is refused, not read through.
  await inspectArtifactFolder(artifactDir);
  const manifest = await readManifest(artifactDir);
  await checkArtifact(artifactDir, manifest.files, DigestMemo.of(context.cacheRoot));
  // Results go beside the artifact: a folder no one may write to is found out before measuring.
  await ensureWritableFolder(path.join(artifactDir, VALIDATION_DIR), 'the artifact\'s results folder');
  const manifestFile = path.join(artifactDir, MANIFEST_FILE);
  const backend = findBackend(manifest.backend);
  if (!backend) throw new ContractError(manifestFile, 'phiforge build', [{ field: 'backend', message: `no backend named "${manifest.backend}" in this phiforge` }]);
  const recipe = parseContract(RecipeSchema, manifest.recipe.resolved, manifestFile, 'phiforge build') as Recipe;
  const reference = manifest.files.some((file) => file.path === REFERENCE_FILE) ? await readContractFile(ReferenceFile, path.join(artifactDir, REFERENCE_FILE), 'reference_answers.py') : undefined;
  const targets = recipe.targets.filter((target) => !options.deviceClasses || options.deviceClasses.includes(backend.deviceClass(target.device)));
  if (targets.length === 0) {
    throw new UsageError(
      `--device ${options.deviceClasses?.join(',')}: ${manifest.name} has no target of that class (its targets: ${recipe.targets.map((target) => `${target.device} (${backend.deviceClass(target.device)})`).join(', ')})`,
      'Validate it on a runner of one of its targets\' device classes.',
    );
  }
  const request = { ...runnerRequest(artifactDir, recipe, reference), ...(options.requireBlob ? { require_blob: true } : {}) };
  const host = hostFingerprint();
  const earlier = options.reuse ? await readDeviceResults(artifactDir) : [];
  const artifact = { name: manifest.name, backend: backend.name, files_sha256: filesDigest(manifest.files), manifest_sha256: await sha256File(manifestFile) };

  const results: DeviceResult[] = [];
  const measured: ValidationReport['measured'] = [];
  for (const [toolchain, group] of await groupByToolchain(backend, targets)) {
    const settings = await settingsDigests(backend, recipe, toolchain, group, request, context.emulateNpu);
    const reusable = new Map(
      group.flatMap((target, index) => {
        const match = earlier.find((result) => result.device === target.device && result.artifact.files_sha256 === artifact.files_sha256 && result.settings_sha256 === settings[index] && canonicalJson(result.host) === canonicalJson(host));
        return match ? [[index, match] as const] : [];
      }),
    );
    const toRun = group.filter((_, index) => !reusable.has(index));
    const fresh =
      toRun.length > 0
        ? await inGroup(context, `validate ${manifest.name} on ${toRun.map((target) => target.device).join(', ')} (${toolchain.name})`, () => measure(context, manifest, backend, recipe, toolchain, toRun, request, reference))
        : undefined;
    for (const [index, target] of group.entries()) {
      const gates = target.gates ?? {};
      const earlierResult = reusable.get(index);
      const run = earlierResult?.run ?? fresh!.runs.targets[toRun.indexOf(target)];
      const similarity = earlierResult ? earlierResult.similarity : fresh!.similarity[toRun.indexOf(target)];
      const report = evaluateTarget({ run, gates, settings: recipe.validate, reference, similarity: similarity?.by_prompt, requireDevice: options.requireDevice, int4Share: manifest.weights?.int4_share });
      // A refused target (--require-blob) compiled nothing: its failure says so instead.
      if (run.status === 'ran' && blobNotUsed(report)) {
        context.say(`${targetLabel(report)}: ${report.npu_blob!.detail}; the IR was compiled here instead. This result does not validate openvino_model.blob and cannot make it publishable (--require-blob fails instead)`);
      }
      const result: DeviceResult = {
        schema: 'phiforge.validation/1',
        artifact,
        device: target.device,
        device_class: backend.deviceClass(target.device),
        host,
        measured_at: earlierResult?.measured_at ?? new Date().toISOString(),
        phiforge: PHIFORGE_VERSION,
        runtime: earlierResult?.runtime ?? { toolchain: toolchain.name, lock_sha256: fresh!.venv.lockDigest, packages: fresh!.runs.runtime },
        settings_sha256: settings[index],
        run,
        ...(similarity ? { similarity } : {}),
        report,
      };
      // A skipped device measured nothing: there is nothing to keep beside the artifact.
      if (run.status === 'ran') await writeDeviceResult(artifactDir, result);
      results.push(result);
      measured.push({ device: targetLabel({ device: target.device, emulated: run.status === 'ran' && run.emulated, structural: run.status === 'ran' && run.structural }), at: result.measured_at, host: host.name, reused: Boolean(earlierResult) });
    }
  }
  return { report: combineReports(manifest.name, backend.name, results.map((result) => result.report), measured), results };
}

/** Targets grouped by the runtime toolchain that runs them here (the first this machine can use), in recipe order. */
async function groupByToolchain(backend: Backend, targets: Recipe['targets']): Promise<Map<Toolchain, Recipe['targets']>> {
  const groups = new Map<string, { toolchain: Toolchain; targets: Recipe['targets'] }>();
  for (const target of targets) {
    const candidates = await Promise.all(backend.runtimeToolchains(target.device).map((name) => loadToolchain(name)));
    // None usable: the last one runs it and reports the device absent, with the reason.
    const toolchain = candidates.find((candidate) => !unmetRequirement(candidate)) ?? candidates[candidates.length - 1];
    const group = groups.get(toolchain.name) ?? { toolchain, targets: [] };
    group.targets.push(target);
    groups.set(toolchain.name, group);
  }
  return new Map([...groups.values()].map((group) => [group.toolchain, group.targets]));
}

function runnerRequest(artifactDir: string, recipe: Recipe, reference: ReferenceFile | undefined): Omit<RunnerRequest, 'targets'> {
  const { validate } = recipe;
  // The reference answers were asked with these prompts; the artifact must be asked exactly the same.
  const prompts = reference && reference.settings.prompts.length > 0 ? reference.settings.prompts : promptsWithIds(validate).map(({ id, messages }) => ({ id, messages }));
  const text = reference?.settings.perplexity_text ?? perplexityText(validate);
  return {
    model_dir: path.resolve(artifactDir),
    max_new_tokens: reference?.settings.max_new_tokens ?? validate.max_new_tokens,
    repetitions: validate.repetitions,
    warmup: validate.warmup,
    prompts,
    ...(validate.prompt_tokens ? { prompt_tokens: validate.prompt_tokens, sweep_text: SWEEP_TEXT } : {}),
    ...(text ? { perplexity_text: text } : {}),
    ...(reference?.long_context ? {
          long_context: {
            id: reference.long_context.id,
            messages: reference.long_context.messages,
            reference_logits: reference.long_context.logits,
            inside_messages: reference.long_context.inside.messages,
            inside_reference_logits: reference.long_context.inside.logits,
          },
        } : {}),
  };
}

async function settingsDigests(backend: Backend, recipe: Recipe, toolchain: Toolchain, targets: Recipe['targets'], request: Omit<RunnerRequest, 'targets'>, emulateNpu: boolean): Promise<string[]> {
  const scripts = await scriptDigests([toolchainScript(backend.runnerScript.toolchain, backend.runnerScript.file), ...COMMON_RUNNER_SCRIPTS]);
  const { model_dir: _folder, ...settings } = request;
  return targets.map((target) =>
    sha256(canonicalJson({ target: backend.runnerTarget(recipe, target, { emulateNpu }), settings, embedding_model: recipe.validate.reference.embedding_model ?? null, lock: toolchain.lockDigest, scripts })),
  );
}

interface Measured {
  venv: ReadyVenv;
  runs: RunsFile;
  /** Per target of the run, in order: the similarity of each prompt's answer to the reference answer. */
  similarity: Array<DeviceResult['similarity']>;
}

/** Runs the backend's runner over `targets` in `toolchain`, then scores the answers against the reference. */
async function measure(
  context: Context,
  manifest: Manifest,
  backend: Backend,
  recipe: Recipe,
  toolchain: Toolchain,
  targets: Recipe['targets'],
  base: Omit<RunnerRequest, 'targets'>,
  reference: ReferenceFile | undefined,
): Promise<Measured> {
  const venv = await ensureVenv(context, toolchain);
  const scratch = cachePath(context, 'runs', `${manifest.name}-${process.pid}-${Date.now()}`);
  await mkdir(scratch, { recursive: true });
  const request: RunnerRequest = { ...base, targets: targets.map((target) => backend.runnerTarget(recipe, target, { emulateNpu: context.emulateNpu })) };
  const script = toolchainScript(backend.runnerScript.toolchain, backend.runnerScript.file);
  const runsFile = path.join(scratch, 'runs.json');
  await writeFile(path.join(scratch, 'request.json'), JSON.stringify(request, null, 1));
  const logPath = cachePath(context, 'logs', manifest.name, `validate-${toolchain.name}.log`);
  await rm(logPath, { force: true });
  context.say(`running ${manifest.name} on ${targets.map((target) => target.device).join(', ')} with ${backend.runtime} (${toolchain.name})`);
  await runCommand(`validate ${manifest.name}`, { argv: [venv.python, script, '--request', path.join(scratch, 'request.json'), '--result', runsFile], env: scriptEnv() }, logPath, { echo: context.verbose });
  const runs = await readContractFile(RunsFile, runsFile, path.basename(script));
  if (runs.targets.length !== targets.length || runs.targets.some((run, index) => run.device !== targets[index].device)) {
    throw new ContractError(runsFile, path.basename(script), [{ field: 'targets', message: `expected one entry per requested target (${targets.map((target) => target.device).join(', ')}), in order` }]);
  }
  const similarity = await scoreSimilarity(context, venv, scratch, runs.targets, reference, recipe.validate.reference.embedding_model);
  await rm(scratch, { recursive: true, force: true });
  return { venv, runs, similarity };
}

async function scoreSimilarity(context: Context, venv: ReadyVenv, scratch: string, runs: TargetRun[], reference: ReferenceFile | undefined, embeddingModel: string | undefined): Promise<Array<DeviceResult['similarity']>> {
  const answers = new Map((reference?.answers ?? []).map((answer) => [answer.id, answer.text]));
  const pairs = runs.flatMap((run, index) => (run.status === 'ran' ? run.prompts.filter((prompt) => answers.has(prompt.id)).map((prompt) => ({ index, prompt: prompt.id, texts: [answers.get(prompt.id)!, prompt.text] as [string, string] })) : []));
  if (pairs.length === 0) return runs.map(() => undefined);
  const script = toolchainScript('common', 'similarity.py');
  const requestFile = path.join(scratch, 'similarity-request.json');
  const resultFile = path.join(scratch, 'similarity.json');
  await writeFile(requestFile, JSON.stringify(parseContract(SimilarityRequest, { pairs: pairs.map((pair) => pair.texts), embedding_model: embeddingModel ?? null }, requestFile, 'phiforge')));
  await runCommand('similarity', { argv: [venv.python, script, '--request', requestFile, '--result', resultFile], env: { ...scriptEnv(), HF_HUB_OFFLINE: '1' } }, path.join(scratch, 'similarity.log'), { echo: context.verbose });
  const scored = await readContractFile(SimilarityFile, resultFile, 'similarity.py');
  if (scored.similarities.length !== pairs.length) throw new ContractError(resultFile, 'similarity.py', [{ field: 'similarities', message: `expected ${pairs.length} values, one per pair` }]);
  return runs.map((_, index) => {
    const mine = pairs.flatMap((pair, position) => (pair.index === index ? [[pair.prompt, scored.similarities[position]] as const] : []));
    return mine.length ? { embedding_model: scored.embedding_model, by_prompt: Object.fromEntries(mine) } : undefined;
  });
}
