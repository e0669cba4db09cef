import { existsSync, statSync, type Stats } from 'node:fs';
import path from 'node:path';
import type { z } from 'zod';
import { InputError, UsageError } from '../errors.js';
import { fileKind } from '../exec/preflight.js';
import { repoIdProblem, revisionProblem } from '../hub/names.js';
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

/**
 * The largest calibration text phiforge reads: 1024 samples (num_samples' limit) of long paragraphs
 * are a few MiB; a file far larger is not a calibration text.
 */
export const MAX_CALIBRATION_BYTES = 16 * 2 ** 20;

/**
 * Makes quantization.calibration.file absolute (relative to the file that wrote it) and checks that it
 * is a regular file of a sensible size: a FIFO or a device would block or never end the read at plan time.
 */
export function withCalibrationFile<R extends BaseRecipe>(loaded: LoadedRecipe<R>): LoadedRecipe<R> {
  const { recipe, source } = loaded;
  const calibration = recipe.quantization.calibration;
  if (calibration?.file === undefined) return loaded;
  const keyPath = ['quantization', 'calibration', 'file'];
  const file = path.resolve(path.dirname(source.locate(keyPath).file), calibration.file);
  const hint = 'A UTF-8 text file, relative to the recipe file; leave file out for the built-in text.';
  let info: Stats | undefined;
  try {
    info = statSync(file, { throwIfNoEntry: false });
  } catch {
    info = undefined; // ENOTDIR, ELOOP: no such file either
  }
  if (!info) throw new InputError(source.file, [source.problemAt(keyPath, `no calibration text ${calibration.file}: no such file`, hint)]);
  if (!info.isFile()) throw new InputError(source.file, [source.problemAt(keyPath, `the calibration text ${calibration.file} is ${fileKind(info)}, not a regular file`, hint)]);
  if (info.size > MAX_CALIBRATION_BYTES) {
    throw new InputError(source.file, [source.problemAt(keyPath, `the calibration text ${calibration.file} is ${(info.size / 2 ** 20).toFixed(1)} MiB; phiforge reads at most ${MAX_CALIBRATION_BYTES / 2 ** 20} MiB`, 'Calibration uses at most 1024 paragraphs: keep the ones you want in a smaller file.')]);
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

/**
 * `--model` replaces the recipe's model source: a local folder (pre-downloaded checkpoints, tests)
 * or a hub id, optionally `id@revision`. Quantization and targets stay as the recipe says. A hub id
 * and its revision pass the same rules as the recipe's model.id and model.revision (hub/names.ts).
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
  // A hub id holds no "@", so the first one starts the revision (which may itself hold one: git allows it).
  const at = override.indexOf('@');
  const id = at < 0 ? override : override.slice(0, at);
  const revision = at < 0 ? undefined : override.slice(at + 1);
  const example = 'Give an existing model folder (the one holding config.json), or a hub id such as microsoft/Phi-3-mini-4k-instruct@<commit>.';
  if (override.startsWith('.') || path.isAbsolute(override) || id.split('/').length !== 2) {
    throw new UsageError(`--model ${override}: no such folder`, example);
  }
  const idProblem = repoIdProblem(id);
  if (idProblem) throw new UsageError(`--model ${override}: no such folder, and not a Hugging Face model id: ${idProblem}`, example);
  if (revision !== undefined) {
    const problem = revisionProblem(revision);
    if (problem) throw new UsageError(`--model ${override}: ${problem}`, `Write --model ${id}@<40-hex commit> (the model page's "Files and versions" history), or a branch or tag of the model.`);
  }
  const pinned = revision ?? (id === model.id ? model.revision : undefined);
  if (!pinned) {
    throw new UsageError(`--model ${override}: a hub model needs a pinned revision`, `Write --model ${id}@<40-hex commit>, or use a local folder.`);
  }
  return { ...base, id, revision: pinned };
}
