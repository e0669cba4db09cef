import path from 'node:path';
import { readContractFile } from '../contract.js';
import { REFERENCE_FILE } from '../artifact/manifest.js';
import { perplexityText, promptsWithIds } from '../recipe/schema.js';
import { toolchainScript } from '../toolchain/definition.js';
import { ReferenceFile } from '../validate/contract.js';
import { planCommandStep } from './command-step.js';
import type { StepKind } from './types.js';

/**
 * The source model's own greedy answers to the validation prompts, in transformers FP32: made once
 * per model + prompts + settings (the step cache key). They ship inside the artifact as
 * reference.json, so any machine can compare the artifact with its source without the source. The
 * weights stay in the checkpoint's dtype and each module computes with float32 copies of its own
 * (reference_answers.py): the same bytes as a float32 model, in about the checkpoint's memory.
 */
export const referenceAnswers: StepKind = {
  async plan(input) {
    const { validate } = input.recipe.recipe;
    const modelDir = input.upstream[input.definition.needs[0]].outDir;
    const script = toolchainScript(input.toolchain!, 'reference_answers.py');
    const enabled = validate.reference.enabled;
    const prompts = enabled ? promptsWithIds(validate).map(({ id, messages }) => ({ id, messages })) : [];
    const env = { HF_HUB_OFFLINE: '1', PYTHONHASHSEED: '0' };
    // The source model's perplexity is what each artifact's is divided by.
    const text = enabled ? perplexityText(validate) : undefined;
    const settings = { prompts, max_new_tokens: validate.max_new_tokens, ...(text ? { perplexity_text: text } : {}) };
    const summary = enabled ? `answer ${prompts.length} prompt(s)${text ? ' and score the perplexity text' : ''} with the source model (transformers, FP32 compute on the checkpoint's weights, greedy)` : 'record that the recipe compares with no reference (validate.reference.enabled: false)';
    return planCommandStep(input, summary, {
      kindVersion: 2,
      params: settings,
      scripts: [script, toolchainScript('common', 'perplexity.py')],
      env,
      requestFiles: () => ({ 'request.json': JSON.stringify({ model_dir: modelDir, ...settings }) }),
      command: ({ python, workDir, outDir }) => ({ argv: [python, script, '--request', path.join(workDir, 'request.json'), '--result', path.join(outDir, REFERENCE_FILE)], env }),
      // Checked here, where it is made, rather than on some device runner later.
      verify: async (outDir) => {
        await readContractFile(ReferenceFile, path.join(outDir, REFERENCE_FILE), 'reference_answers.py');
        return [];
      },
    });
  },
};
