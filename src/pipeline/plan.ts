import type { Context } from '../context.js';
import { STEP_KINDS } from '../steps/registry.js';
import type { PlannedStep } from '../steps/types.js';
import { InputError } from '../errors.js';
import { loadToolchain, type Toolchain } from '../toolchain/definition.js';
import type { ResolvedRecipe } from './resolve.js';

export interface Plan {
  recipe: ResolvedRecipe;
  /** In execution order: every step comes after the steps it needs. */
  steps: PlannedStep[];
  toolchains: Toolchain[];
}

/** Recipe + pipeline -> concrete steps with keys and exact commands. Runs nothing; the recipe alone decides the plan, never the cache or the other recipes of an invocation. */
export async function planRecipe(context: Context, recipe: ResolvedRecipe): Promise<Plan> {
  const { pipeline } = recipe;
  const unknown = pipeline.steps.flatMap((step, index) => (step.uses in STEP_KINDS ? [] : [pipeline.source.problemAt(['steps', index, 'uses'], `unknown step kind "${step.uses}"`, `Known kinds: ${Object.keys(STEP_KINDS).join(', ')}.`)]));
  if (unknown.length > 0) throw new InputError(pipeline.source.file, unknown);
  const toolchains = new Map<string, Toolchain>();
  const planned: Record<string, PlannedStep> = {};
  for (const definition of pipeline.steps) {
    let toolchain: Toolchain | undefined;
    if (definition.toolchain) {
      toolchain = toolchains.get(definition.toolchain) ?? (await loadToolchain(definition.toolchain));
      toolchains.set(definition.toolchain, toolchain);
    }
    planned[definition.id] = await STEP_KINDS[definition.uses].plan({ context, recipe, backend: recipe.backend, definition, toolchain, upstream: planned });
  }
  const steps = Object.values(planned);
  const used = new Set(steps.map((step) => step.toolchain?.name).filter(Boolean));
  return { recipe, steps, toolchains: [...toolchains.values()].filter((toolchain) => used.has(toolchain.name)) };
}
