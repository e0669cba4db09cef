import path from 'node:path';
import { perplexityText, promptsWithIds } from '../recipe/schema.js';
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
    // The source model's perplexity is what each artifact's is divided by.
    const perplexity = validate.reference.enabled && perplexityText(validate) ? { perplexity_text: perplexityText(validate) } : {};
    const summary = `answer ${prompts.length} prompt(s)${perplexity.perplexity_text ? ' and score the perplexity text' : ''} with the source model (transformers, FP32, greedy)`;
    return planCommandStep(input, summary, {
      kindVersion: 1,
      params: { prompts, max_new_tokens: validate.max_new_tokens, enabled: validate.reference.enabled, ...perplexity },
      scripts: [script, toolchainScript('common', 'perplexity.py')],
      env,
      requestFiles: () => ({ 'request.json': JSON.stringify({ model_dir: modelDir, prompts: validate.reference.enabled ? prompts : [], max_new_tokens: validate.max_new_tokens, ...perplexity }) }),
      command: ({ python, workDir, outDir }) => ({ argv: [python, script, '--request', path.join(workDir, 'request.json'), '--result', path.join(outDir, 'answers.json')], env }),
    });
  },
};
