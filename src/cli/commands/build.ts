import path from 'node:path';
import type { Context } from '../../context.js';
import { executePlan, type BuildResult } from '../../engine/build.js';
import { planRecipe } from '../../pipeline/plan.js';
import { loadRecipe } from '../../recipe/load.js';
import { reportError } from '../report-error.js';

/**
 * Builds each recipe in turn. A failing recipe does not stop the others (a CI matrix wants every
 * verdict); the exit code is the worst of them.
 */
export async function build(context: Context, recipes: string[], options: { model?: string; force?: boolean } = {}): Promise<void> {
  const results: Array<{ recipe: string; ok: boolean; result?: BuildResult }> = [];
  let worst = 0;
  for (const file of recipes) {
    try {
      const loaded = await loadRecipe(file, options.model);
      const plan = await planRecipe(context, loaded);
      const result = await executePlan(context, plan, { force: options.force });
      results.push({ recipe: file, ok: true, result });
      if (!context.json) process.stdout.write(`built ${path.relative(process.cwd(), result.artifactDir) || result.artifactDir}\n`);
    } catch (error) {
      if (recipes.length === 1) throw error;
      worst = Math.max(worst, reportError(error, { json: false, verbose: context.verbose }));
      results.push({ recipe: file, ok: false });
    }
  }
  if (context.json) {
    const summary = results.map(({ recipe, ok, result }) => ({ recipe, ok, artifact: result?.artifactDir, steps: result?.steps.map(({ id, key, reused, durationMs }) => ({ id, key, reused, durationMs })) }));
    process.stdout.write(`${JSON.stringify({ ok: worst === 0, results: summary }, null, 2)}\n`);
  }
  if (worst !== 0) process.exitCode = worst;
}
