import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import type { z } from 'zod';
import { InputError, UsageError } from '../errors.js';
import { parseWithSchema, type LocatedSource } from '../yaml/located-yaml.js';
import { readRecipeSource } from './extends.js';
import type { BaseRecipe, ModelSpec } from './schema.js';

export interface LoadedRecipe<R extends BaseRecipe = BaseRecipe> {
  recipe: R;
  /** Absolute path of the recipe file. */
  file: string;
  /** Kept so that checks made later (once config.json is known) can still point into the file. */
  source: LocatedSource;
  /** The `--model` the recipe's model was replaced with, as given. */
  modelOverride?: string;
}

/** Reads a recipe (and what it extends) and checks it against `schema`, the whole recipe format. */
export async function loadRecipe<S extends z.ZodType<BaseRecipe>>(file: string, schema: S, modelOverride?: string): Promise<LoadedRecipe<z.output<S>>> {
  const absolute = path.resolve(file);
  const source = await readRecipeSource(absolute);
  const recipe = parseWithSchema(source, schema);
  return withModel(withCalibrationFile({ recipe, file: absolute, source }), modelOverride);
}

/** Makes quantization.calibration.file absolute (relative to the file that wrote it) and checks that it is there. */
export function withCalibrationFile<R extends BaseRecipe>(loaded: LoadedRecipe<R>): LoadedRecipe<R> {
  const { recipe, source } = loaded;
  const calibration = recipe.quantization.calibration;
  if (calibration?.file === undefined) return loaded;
  const keyPath = ['quantization', 'calibration', 'file'];
  const file = path.resolve(path.dirname(source.locate(keyPath).file), calibration.file);
  if (!existsSync(file) || !statSync(file).isFile()) {
    throw new InputError(source.file, [source.problemAt(keyPath, `no calibration text ${calibration.file}: no such file`, 'A UTF-8 text file, relative to the recipe file; leave file out for the built-in text.')]);
  }
  return { ...loaded, recipe: { ...recipe, quantization: { ...recipe.quantization, calibration: { ...calibration, file } } } };
}

/** Applies `--model`, or makes the recipe's own model.path absolute. */
export function withModel<R extends BaseRecipe>(loaded: LoadedRecipe<R>, modelOverride?: string): LoadedRecipe<R> {
  const { recipe, source } = loaded;
  if (modelOverride !== undefined) return { ...loaded, recipe: { ...recipe, model: overrideModel(recipe.model, modelOverride) }, modelOverride };
  if (recipe.model.path === undefined) return loaded;
  // Relative to the file that wrote it, which may be a base recipe this one extends.
  const writer = source.locate(['model', 'path']).file;
  const folder = path.resolve(path.dirname(writer), recipe.model.path);
  if (!existsSync(path.join(folder, 'config.json'))) {
    throw new InputError(source.file, [source.problemAt(['model', 'path'], `no Hugging Face model at ${folder} (config.json missing)`, 'The path is relative to the recipe file.')]);
  }
  return { ...loaded, recipe: { ...recipe, model: { ...recipe.model, path: folder } } };
}

const HUB_ID = /^[\w.-]+\/[\w.-]+$/;

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
  const looksLikePath = override.startsWith('.') || path.isAbsolute(override) || !HUB_ID.test(id);
  if (looksLikePath) {
    throw new UsageError(`--model ${override}: no such folder`, 'Give an existing model folder (the one holding config.json), or a hub id such as microsoft/Phi-3-mini-4k-instruct@<commit>.');
  }
  const pinned = revision ?? (id === model.id ? model.revision : undefined);
  if (!pinned) {
    throw new UsageError(`--model ${override}: a hub model needs a pinned revision`, `Write --model ${id}@<40-hex commit>, or use a local folder.`);
  }
  return { ...base, id, revision: pinned };
}
