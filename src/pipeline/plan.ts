import type { Context } from '../context.js';
import { InputError } from '../errors.js';
import type { LoadedRecipe } from '../recipe/load.js';
import { STEP_KINDS } from '../steps/registry.js';
import type { PlannedStep } from '../steps/types.js';
import { loadToolchain, type Toolchain } from '../toolchain/definition.js';
import { loadPipeline, pipelineFile, type PipelineDefinition } from './definition.js';

export interface Plan {
  recipe: LoadedRecipe;
  pipeline: PipelineDefinition;
  /** In execution order: every step comes after the steps it needs. */
  steps: PlannedStep[];
  toolchains: Toolchain[];
}

/** Recipe + pipeline -> concrete steps with keys and exact commands. Runs nothing. */
export async function planRecipe(context: Context, recipe: LoadedRecipe): Promise<Plan> {
  const name = recipe.recipe.pipeline;
  const file = pipelineFile(name);
  if (!file) {
    throw new InputError(recipe.source.file, [recipe.source.problemAt(['pipeline'], `no pipeline named "${name}"`, 'Pipelines live in pipelines/<name>.yaml; the built-in one is openvino.')]);
  }
  const pipeline = await loadPipeline(file, name);
  const toolchains = new Map<string, Toolchain>();
  const planned: Record<string, PlannedStep> = {};
  for (const definition of pipeline.steps) {
    let toolchain: Toolchain | undefined;
    if (definition.toolchain) {
      toolchain = toolchains.get(definition.toolchain) ?? (await loadToolchain(definition.toolchain));
      toolchains.set(definition.toolchain, toolchain);
    }
    planned[definition.id] = await STEP_KINDS[definition.uses].plan({ context, recipe, definition, toolchain, upstream: planned });
  }
  const steps = Object.values(planned);
  const used = new Set(steps.map((step) => step.toolchain?.name).filter(Boolean));
  return { recipe, pipeline, steps, toolchains: [...toolchains.values()].filter((toolchain) => used.has(toolchain.name)) };
}
