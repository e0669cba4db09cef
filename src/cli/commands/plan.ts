import { checkResources, memoryBudgetOption } from '../../app/resources.js';
import { gib } from '../../app/system.js';
import type { Context } from '../../context.js';
import { formatCommandLine } from '../../exec/command.js';
import { planRecipe } from '../../pipeline/plan.js';
import { resolveRecipe } from '../../pipeline/resolve.js';
import type { Arguments } from '../arguments.js';
import { resourceLines } from './doctor.js';

export async function run(context: Context, args: Arguments): Promise<number> {
  const memoryBudgetBytes = memoryBudgetOption(args['memory-budget']);
  const plan = await planRecipe(context, await resolveRecipe(args.recipe as string, args.model as string | undefined));
  // Only with a budget: plan fetches nothing, and a hub model it has not downloaded is estimated from known dimensions or not at all.
  const resources = memoryBudgetBytes === undefined ? undefined : await checkResources(context, plan, { download: false, knownShapes: true, memoryBudgetBytes });
  const { recipe: resolved } = plan;
  const { recipe, backend } = resolved;
  // Where each target runs and with what: an emulated device is never presented as the device itself.
  const targets = recipe.targets.map((target) => ({
    device: target.device,
    device_class: backend.deviceClass(target.device),
    runtime: backend.runtime,
    toolchains: backend.runtimeToolchains(target.device),
    emulated: backend.emulates(target.device, { emulateNpu: context.emulateNpu, present: [] }),
  }));
  const steps = plan.steps.map((step) => ({
    id: step.id,
    kind: step.kind,
    needs: step.needs,
    key: step.key,
    summary: step.summary,
    toolchain: step.toolchain?.name,
    argv: step.command?.argv,
    env: step.command?.env,
    // The command runs in cwd, where links name its inputs (`model` -> the model folder).
    cwd: step.command?.cwd,
    links: step.command?.links,
    output: step.outDir,
    // False for a step that only decides or points (a local model, a lone variant's skipped base): nothing of its own is kept.
    stepCache: !('materialize' in step.work),
  }));
  if (context.json) {
    context.print(JSON.stringify({ recipe: recipe.name, pipeline: resolved.pipeline.name, backend: backend.name, artifact: resolved.pipeline.artifact, steps, targets, ...(resources ? { resources } : {}) }, null, 2));
    return 0;
  }
  const lines = [`recipe ${recipe.name} · pipeline ${resolved.pipeline.name} (${backend.name}) · artifact from step ${resolved.pipeline.artifact}`];
  for (const [index, step] of plan.steps.entries()) {
    lines.push('', `${index + 1}. ${step.id} (${step.kind}${step.toolchain ? `, toolchain ${step.toolchain.name}` : ''})${step.needs.length ? ` after ${step.needs.join(', ')}` : ''}`);
    lines.push(`   ${step.summary}`, `   key ${step.key.slice(0, 16)}`);
    if (step.command) lines.push(`   $ ${formatCommandLine(step.command)}`);
    lines.push(`   output: ${step.outDir}`);
  }
  lines.push('', 'validation (after the build, on the artifact as published):');
  for (const target of targets) {
    lines.push(
      target.emulated
        ? `   ${target.device}: EMULATED through NPUW on the CPU where no NPU is present (--emulate-npu), with ${target.runtime}; its latency is the CPU's and its answers must equal the plain CPU pipeline's`
        : `   ${target.device}: run with ${target.runtime} (${target.toolchains[0]}) on a ${target.device_class} device; skipped where absent unless --require-device`,
    );
  }
  if (resources) {
    lines.push('', `memory (against --memory-budget ${gib(memoryBudgetBytes!)}):`);
    lines.push(...(resources.estimate ? resourceLines(resources) : [`   no estimate: ${resources.unknown}`]));
  }
  context.print(lines.join('\n'));
  return 0;
}
