import type { Context } from '../../context.js';
import { formatCommandLine } from '../../engine/command.js';
import { planRecipe } from '../../pipeline/plan.js';
import { loadRecipe } from '../../recipe/load.js';

export async function plan(context: Context, file: string, modelOverride?: string): Promise<void> {
  const planned = await planRecipe(context, await loadRecipe(file, modelOverride));
  const steps = planned.steps.map((step) => ({
    id: step.id,
    kind: step.kind,
    needs: step.needs,
    key: step.key,
    summary: step.summary,
    toolchain: step.toolchain?.name,
    argv: step.command?.argv,
    env: step.command?.env,
    output: step.outDir,
  }));
  if (context.json) {
    process.stdout.write(`${JSON.stringify({ recipe: planned.recipe.recipe.name, pipeline: planned.pipeline.name, artifact: planned.pipeline.artifact, steps }, null, 2)}\n`);
    return;
  }
  const lines = [`recipe ${planned.recipe.recipe.name} · pipeline ${planned.pipeline.name} · artifact from step ${planned.pipeline.artifact}`];
  for (const [index, step] of planned.steps.entries()) {
    lines.push('', `${index + 1}. ${step.id} (${step.kind}${step.toolchain ? `, toolchain ${step.toolchain.name}` : ''})${step.needs.length ? ` after ${step.needs.join(', ')}` : ''}`);
    lines.push(`   ${step.summary}`, `   key ${step.key.slice(0, 16)}`);
    if (step.command) lines.push(`   $ ${formatCommandLine(step.command)}`);
    lines.push(`   output: ${step.outDir}`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}
