import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { InputError, UsageError, type InputProblem } from '../errors.js';
import { RecipeSchema, type ModelSpec, type Recipe } from './schema.js';
import { readRecipeSource } from './extends.js';
import { parseWithSchema, type LocatedSource } from './yaml-source.js';

export interface LoadedRecipe {
  recipe: Recipe;
  /** Absolute path of the recipe file. */
  file: string;
  /** Kept so that checks made later (once config.json is known) can still point into the file. */
  source: LocatedSource;
}

export async function loadRecipe(file: string, modelOverride?: string): Promise<LoadedRecipe> {
  const absolute = path.resolve(file);
  const source = await readRecipeSource(absolute);
  const recipe = parseWithSchema(source, RecipeSchema);
  const loaded: LoadedRecipe = { recipe, file: absolute, source };
  if (modelOverride !== undefined) loaded.recipe = { ...recipe, model: overrideModel(recipe.model, modelOverride) };
  else if (recipe.model.path !== undefined) {
    // Relative to the file that wrote it, which may be a base recipe this one extends.
    const writer = source.locate(['model', 'path']).file;
    loaded.recipe = { ...recipe, model: { ...recipe.model, path: path.resolve(path.dirname(writer), recipe.model.path) } };
    checkLocalModel(source, loaded.recipe.model.path!, ['model', 'path']);
  }
  return loaded;
}

/**
 * `--model` replaces the recipe's model source: a local folder (pre-downloaded checkpoints, tests)
 * or a hub id, optionally `id@revision`. Quantization and targets stay as the recipe says.
 */
function overrideModel(model: ModelSpec, override: string): ModelSpec {
  const base = { trust_remote_code: model.trust_remote_code };
  if (existsSync(override)) {
    const folder = path.resolve(override);
    if (!statSync(folder).isDirectory() || !existsSync(path.join(folder, 'config.json'))) {
      throw new UsageError(`--model ${override}: not a Hugging Face model folder (no config.json)`, 'Point --model at the folder that holds config.json and the weights.');
    }
    return { ...base, path: folder };
  }
  const [id, revision] = override.split('@');
  if (!/^[\w.-]+\/[\w.-]+$/.test(id)) {
    throw new UsageError(`--model ${override}: neither an existing folder nor a hub id`, 'Give a local model folder or a hub id such as microsoft/Phi-3-mini-4k-instruct@<commit>.');
  }
  const pinned = revision ?? (id === model.id ? model.revision : undefined);
  if (!pinned) {
    throw new UsageError(`--model ${override}: a hub model needs a pinned revision`, `Write --model ${id}@<40-hex commit>.`);
  }
  return { ...base, id, revision: pinned };
}

function checkLocalModel(source: LocatedSource, folder: string, keyPath: string[]): void {
  if (!existsSync(path.join(folder, 'config.json'))) {
    throw new InputError(source.file, [
      source.problemAt(keyPath, `no Hugging Face model at ${folder} (config.json missing)`, 'The path is relative to the recipe file.'),
    ]);
  }
}

/** The few config.json fields the recipe checks need. */
export interface ModelShape {
  model_type?: string;
  hidden_size?: number;
  intermediate_size?: number;
}

/**
 * Checks that need the model's config.json, made before any export: a group size that does not
 * divide the width of every linear layer's input makes NNCF fail late or fall back silently.
 */
export function checkRecipeAgainstModel(loaded: LoadedRecipe, shape: ModelShape): void {
  const problems: InputProblem[] = [];
  const { recipe } = loaded;
  // The ONNX Runtime builder quantizes in blocks too; a block that does not divide a width builds without error and answers garbage.
  const ort = recipe.pipeline.startsWith('ort-genai');
  const groupSize = ort ? (recipe.quantization.weight_format === 'int4' ? recipe.ort.block_size : undefined) : recipe.quantization.group_size;
  const keyPath = ort ? ['ort', 'block_size'] : ['quantization', 'group_size'];
  const name = ort ? 'block_size' : 'group_size';
  if (groupSize !== undefined && groupSize !== -1) {
    for (const dimension of ['hidden_size', 'intermediate_size'] as const) {
      const width = shape[dimension];
      if (width !== undefined && width % groupSize !== 0) {
        const divisors = [16, 32, 64, 128, 256].filter((candidate) => width % candidate === 0);
        problems.push(
          loaded.source.problemAt(
            keyPath,
            `${name} ${groupSize} does not divide the model's ${dimension} (${width})`,
            ort ? `Use one of ${divisors.join(', ') || '16'}.` : `Use -1 (channel-wise)${divisors.length ? ` or one of ${divisors.join(', ')}` : ''}.`,
          ),
        );
      }
    }
  }
  if (problems.length > 0) throw new InputError(loaded.source.file, problems);
}
