import path from 'node:path';
import { promptsWithIds } from '../recipe/schema.js';
import { toolchainScript } from '../toolchain/definition.js';
import { planCommandStep } from './command-step.js';
import type { StepKind } from './types.js';

/**
 * The source model's own greedy answers to the validation prompts, in transformers FP32: made once
 * per model + prompts + settings (the step cache key), then compared with every artifact's answers.
 */
export const referenceAnswers: StepKind = {
  async plan(input) {
    const { validate } = input.recipe.recipe;
    const modelDir = input.upstream[input.definition.needs[0]].outDir;
    const script = toolchainScript(input.toolchain!, 'reference_answers.py');
    const prompts = promptsWithIds(validate).map(({ id, messages }) => ({ id, messages }));
    const env = { HF_HUB_OFFLINE: '1', PYTHONHASHSEED: '0' };
    return planCommandStep(input, `answer ${prompts.length} prompt(s) with the source model (transformers, FP32, greedy)`, {
      kindVersion: 1,
      params: { prompts, max_new_tokens: validate.max_new_tokens, enabled: validate.reference.enabled },
      scripts: [script],
      env,
      requestFiles: () => ({ 'request.json': JSON.stringify({ model_dir: modelDir, prompts: validate.reference.enabled ? prompts : [], max_new_tokens: validate.max_new_tokens }) }),
      command: ({ python, workDir, outDir }) => ({ argv: [python, script, '--request', path.join(workDir, 'request.json'), '--result', path.join(outDir, 'answers.json')], env }),
    });
  },
};
