import { existsSync } from 'node:fs';
import { readFile, statfs } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Context } from '../context.js';
import { downloadConfig, resolveCommit } from '../hub/hub.js';
import { PRESET_SHAPES } from '../recipe/model-files.js';
import type { Plan } from '../pipeline/plan.js';
import { estimateBuild, type BuildEstimate, type ModelConfig } from './estimate.js';
import { gib } from './system.js';

export interface ResourceCheck {
  estimate?: BuildEstimate;
  /** Why there is no estimate (the model is not there yet, say). */
  unknown?: string;
  warnings: string[];
}

/** config.json of the plan's model, without running any step: a folder, the HF cache, or the hub (config only). */
async function modelConfig(plan: Plan, download: boolean): Promise<ModelConfig | undefined> {
  const { model } = plan.recipe.recipe;
  // A preset's shape is known before it is generated.
  if (model.synthetic) return PRESET_SHAPES[model.synthetic];
  const modelStep = plan.steps.find((step) => step.kind === 'model-source');
  const local = modelStep && path.join(modelStep.outDir, 'config.json');
  if (local && existsSync(local)) return JSON.parse(await readFile(local, 'utf8')) as ModelConfig;
  if (download && model.id && model.revision) {
    const file = await downloadConfig(model.id, await resolveCommit(model.id, model.revision));
    return JSON.parse(await readFile(file, 'utf8')) as ModelConfig;
  }
  return undefined;
}

/**
 * Compares what the build will need with what the machine has. A shortfall is a warning, not an
 * error: estimates are coarse and swap exists, but a build killed for memory exits silently.
 */
export async function checkResources(context: Context, plan: Plan, options: { download: boolean }): Promise<ResourceCheck> {
  let config: ModelConfig | undefined;
  try {
    config = await modelConfig(plan, options.download);
  } catch (error) {
    return { unknown: `config.json could not be fetched (${(error as Error).message}); pass --model <local folder>`, warnings: [] };
  }
  if (!config) return { unknown: 'the model is not available yet (it is generated or downloaded by the build)', warnings: [] };
  const estimate = estimateBuild(config, plan.recipe.recipe.quantization);
  if (!estimate) return { unknown: 'config.json lacks the sizes the estimate needs', warnings: [] };
  const warnings: string[] = [];
  if (estimate.exportMemoryBytes > os.totalmem()) {
    warnings.push(`the export needs about ${gib(estimate.exportMemoryBytes)} of memory; this machine has ${gib(os.totalmem())}`);
  }
  const disk = await statfs(existsSync(context.cacheRoot) ? context.cacheRoot : process.cwd()).catch(() => undefined);
  if (disk && estimate.diskBytes > disk.bavail * disk.bsize) {
    warnings.push(`the build needs about ${gib(estimate.diskBytes)} of disk; ${gib(disk.bavail * disk.bsize)} is free where the cache is`);
  }
  return { estimate, warnings };
}
