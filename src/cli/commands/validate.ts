import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Context } from '../../context.js';
import { recipeFromManifest } from '../../recipe/from-manifest.js';
import { loadRecipe } from '../../recipe/load.js';
import { runRecipes, type BuildOptions } from './build.js';

/**
 * Validates afresh: the runner steps (and what reads their output) run again even when cached, so
 * the figures are measured now, on this machine. Accepts a recipe or an artifact folder, whose
 * manifest names the recipe it was built from.
 */
export async function validate(context: Context, inputs: string[], options: BuildOptions): Promise<void> {
  const loaders = inputs.map((input) => () => (existsSync(path.join(input, 'manifest.json')) ? recipeFromManifest(input) : loadRecipe(input, options.model)));
  await runRecipes(context, loaders, inputs, { ...options, force: (step) => 'volatile' in step.work && step.work.volatile === true });
}
