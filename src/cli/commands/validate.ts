import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { stringify } from 'yaml';
import type { Context } from '../../context.js';
import { UsageError } from '../../errors.js';
import { loadRecipe, type LoadedRecipe } from '../../recipe/load.js';
import { RecipeSchema } from '../../recipe/schema.js';
import { parseWithSchema, YamlSource } from '../../recipe/yaml-source.js';
import { runRecipes, type BuildOptions } from './build.js';

/**
 * Validates afresh: the runner steps (and what reads their output) run again even when cached, so
 * the figures are measured now, on this machine. Accepts a recipe or an artifact folder, whose
 * manifest names the recipe it was built from.
 */
export async function validate(context: Context, inputs: string[], options: BuildOptions): Promise<void> {
  const loaders = inputs.map((input) => () => (isArtifact(input) ? recipeFromManifest(input) : loadRecipe(input, options.model)));
  await runRecipes(context, loaders, inputs, { ...options, force: (step) => 'volatile' in step.work && step.work.volatile === true });
}

function isArtifact(input: string): boolean {
  return existsSync(path.join(input, 'manifest.json'));
}

async function recipeFromManifest(dir: string): Promise<LoadedRecipe> {
  const file = path.join(dir, 'manifest.json');
  const manifest = JSON.parse(await readFile(file, 'utf8')) as { recipe?: { resolved?: unknown; file?: string } };
  if (!manifest.recipe?.resolved) throw new UsageError(`${file} records no recipe`, 'Validate the recipe file instead.');
  // The resolved recipe is re-read through the schema, so a manifest from another version is checked like any recipe.
  const source = YamlSource.parse(`${file} (recipe)`, stringify(manifest.recipe.resolved));
  return { recipe: parseWithSchema(source, RecipeSchema), file: path.resolve(manifest.recipe.file ?? file), source };
}
