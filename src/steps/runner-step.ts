import path from 'node:path';
import { perplexityText, promptsWithIds } from '../recipe/schema.js';
import { toolchainScript } from '../toolchain/definition.js';
import { hostFingerprint } from '../validate/host.js';
import { planCommandStep } from './command-step.js';
import type { PlanInput, PlannedStep } from './types.js';

/**
 * Plans a runner: a script that runs the artifact on each target and writes runs.json in the one
 * shape the evaluator reads. Backends differ only in the script and in each target's settings.
 */
export async function planRunnerStep(input: PlanInput, runtime: string, script: string, targets: Array<Record<string, unknown> & { device: string }>): Promise<PlannedStep> {
  const { validate } = input.recipe.recipe;
  const request = {
    model_dir: input.upstream[input.definition.needs[0]].outDir,
    max_new_tokens: validate.max_new_tokens,
    repetitions: validate.repetitions,
    warmup: validate.warmup,
    prompts: promptsWithIds(validate).map(({ id, messages }) => ({ id, messages })),
    ...(perplexityText(validate) && { perplexity_text: perplexityText(validate) }),
    targets,
  };
  return planCommandStep(input, `run on ${targets.map((target) => target.device).join(', ')} with ${runtime}`, {
    kindVersion: 1,
    volatile: true,
    // Figures belong to the machine that measured them: cached ones are reused only there.
    params: { ...request, model_dir: undefined, host: hostFingerprint() },
    // The runners import the shared perplexity module: a change to it is a change to them.
    scripts: [script, toolchainScript('common', 'perplexity.py')],
    env: {},
    requestFiles: () => ({ 'request.json': JSON.stringify(request) }),
    command: ({ python, workDir, outDir }) => ({ argv: [python, script, '--request', path.join(workDir, 'request.json'), '--result', path.join(outDir, 'runs.json')] }),
  });
}
