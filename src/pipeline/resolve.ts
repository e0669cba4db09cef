import path from 'node:path';
import { stringify } from 'yaml';
import { readManifest } from '../artifact/manifest.js';
import { findBackend, RecipeSchema, BACKENDS, type Recipe } from '../backends/index.js';
import type { Backend } from '../backends/types.js';
import { InputError, type InputProblem } from '../errors.js';
import { loadRecipe, withCalibrationFile, withModel, type LoadedRecipe } from '../recipe/load.js';
import { parseWithSchema, YamlSource } from '../yaml/located-yaml.js';
import { loadPipeline, pipelineFile, type PipelineDefinition } from './definition.js';

/** A recipe with the pipeline it names and the backend that pipeline builds for, checked by that backend's rules. */
export interface ResolvedRecipe extends LoadedRecipe<Recipe> {
  pipeline: PipelineDefinition;
  backend: Backend;
}

/** Reads a recipe file, finds its pipeline and backend, and applies the backend's rules: every problem at its key. */
export async function resolveRecipe(file: string, modelOverride?: string): Promise<ResolvedRecipe> {
  return resolveLoaded(await loadRecipe(file, RecipeSchema, modelOverride));
}

async function resolveLoaded(loaded: LoadedRecipe<Recipe>): Promise<ResolvedRecipe> {
  const { recipe, source } = loaded;
  const file = pipelineFile(recipe.pipeline);
  if (!file) {
    throw new InputError(source.file, [source.problemAt(['pipeline'], `no pipeline named "${recipe.pipeline}"`, 'Pipelines live in pipelines/<name>.yaml; the built-in ones are openvino, openvino-npu and ort-genai.')]);
  }
  const pipeline = await loadPipeline(file, recipe.pipeline);
  const backend = findBackend(pipeline.backend);
  if (!backend) {
    throw new InputError(pipeline.source.file, [pipeline.source.problemAt(['backend'], `no backend named "${pipeline.backend}"`, `Known backends: ${BACKENDS.map((each) => each.name).join(', ')}.`)]);
  }
  const problems: InputProblem[] = [];
  const problem = (keyPath: ReadonlyArray<string | number>, message: string, hint?: string) => problems.push(source.problemAt(keyPath, message, hint));
  recipe.targets.forEach((target, index) => {
    if (!backend.acceptsDevice(target.device)) {
      const other = BACKENDS.find((each) => each.acceptsDevice(target.device));
      problem(
        ['targets', index, 'device'],
        other ? `${target.device} is a device of the ${other.name} backend; pipeline ${pipeline.name} builds for ${backend.name}` : `unknown device "${target.device}"`,
        `Use ${backend.devicesHint.replace(/^[^:]*:\s*/, '')}`,
      );
    }
  });
  backend.checkRecipe(recipe, problem);
  if (problems.length > 0) throw new InputError(source.file, problems);
  return { ...loaded, pipeline, backend };
}

/**
 * The recipe an artifact was built from, as its manifest records it (resolved). It is re-read through
 * the schema and the backend's rules, so a manifest written by another phiforge is checked like any recipe.
 */
export async function recipeFromManifest(artifactDir: string): Promise<ResolvedRecipe> {
  const manifest = await readManifest(artifactDir);
  const file = path.join(artifactDir, 'manifest.json');
  const source = YamlSource.parse(`${file} (recipe)`, stringify(manifest.recipe.resolved));
  const recipe = parseWithSchema(source, RecipeSchema);
  // A data-aware artifact names its calibration text by path: a rebuild elsewhere must find it, or say so.
  return resolveLoaded(withModel(withCalibrationFile({ recipe, file: path.resolve(manifest.recipe.file), source })));
}
