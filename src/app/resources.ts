import { existsSync } from 'node:fs';
import { readFile, statfs } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Context } from '../context.js';
import { downloadConfig, resolveCommit } from '../hub/hub.js';
import type { Plan } from '../pipeline/plan.js';
import { modelSize, PRESETS, type ModelShape } from '../recipe/model-files.js';
import { estimateBuild, type BuildEstimate } from './estimate.js';
import { gib } from './system.js';

export interface ResourceCheck {
  estimate?: BuildEstimate;
  /** Why there is no estimate (the model is not there yet, say). */
  unknown?: string;
  warnings: string[];
}

/** config.json of the plan's model, without running any step: a preset's known shape, a folder, the HF cache, or the hub (config only). */
async function modelConfig(plan: Plan, download: boolean): Promise<ModelShape | undefined> {
  const { model } = plan.recipe.recipe;
  if (model.synthetic) return PRESETS[model.synthetic].shape;
  const modelStep = plan.steps.find((step) => step.kind === 'model-source');
  const local = modelStep && path.join(modelStep.outDir, 'config.json');
  if (local && existsSync(local)) return JSON.parse(await readFile(local, 'utf8')) as ModelShape;
  if (download && model.id && model.revision) {
    const file = await downloadConfig(model.id, await resolveCommit(model.id, model.revision));
    return JSON.parse(await readFile(file, 'utf8')) as ModelShape;
  }
  return undefined;
}

/**
 * Compares what the build will need with what the machine has. A shortfall is a warning, not an
 * error: estimates are coarse and swap exists, but a build killed for memory exits silently.
 */
export async function checkResources(context: Context, plan: Plan, options: { download: boolean }): Promise<ResourceCheck> {
  let config: ModelShape | undefined;
  try {
    config = await modelConfig(plan, options.download);
  } catch (error) {
    return { unknown: `config.json could not be fetched (${(error as Error).message}); pass --model <local folder>`, warnings: [] };
  }
  if (!config) return { unknown: 'the model is not available yet (it is generated or downloaded by the build)', warnings: [] };
  const size = modelSize(config);
  if (!size) return { unknown: 'config.json lacks the sizes the estimate needs', warnings: [] };
  const estimate = estimateBuild(plan.steps, plan.recipe.recipe, plan.recipe.backend, size);
  const warnings: string[] = [];
  if (estimate.peakMemoryBytes > os.totalmem()) {
    const [heaviest] = Object.entries(estimate.steps).sort((a, b) => b[1].memoryBytes - a[1].memoryBytes);
    warnings.push(`step ${heaviest[0]} needs about ${gib(estimate.peakMemoryBytes)} of memory; this machine has ${gib(os.totalmem())}`);
  }
  const disk = await statfs(existsSync(context.cacheRoot) ? context.cacheRoot : process.cwd()).catch(() => undefined);
  if (disk && estimate.diskBytes > disk.bavail * disk.bsize) {
    warnings.push(`the build needs about ${gib(estimate.diskBytes)} of disk; ${gib(disk.bavail * disk.bsize)} is free where the cache is`);
  }
  return { estimate, warnings };
}
