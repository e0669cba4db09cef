import { loadToolchain, toolchainScript, unmetRequirement } from '../toolchain/definition.js';
import { planRunnerStep } from './runner-step.js';
import type { StepKind } from './types.js';

/**
 * Runs the ONNX Runtime GenAI artifact on every target provider with onnxruntime-genai. A DML build
 * on a machine without DirectML also runs on the CPU provider, as a structural check only.
 */
export const validateOrtGenai: StepKind = {
  async plan(input) {
    const { targets } = input.recipe.recipe;
    // onnxruntime-genai-cuda runs every provider, CPU included; it is fetched only where it can run,
    // elsewhere the CPU runtime reports a cuda target as skipped.
    const cuda = await loadToolchain('ort-genai-cuda');
    const wantsCuda = targets.some((target) => target.device === 'cuda') && !unmetRequirement(cuda);
    const toolchain = wantsCuda ? cuda : input.toolchain!;
    return planRunnerStep(
      { ...input, toolchain },
      'onnxruntime-genai',
      toolchainScript(await loadToolchain('ort-genai'), 'run_ortgenai.py'),
      targets.map((target) => ({ device: target.device, ...(target.runtime ? { properties: target.runtime } : {}), ...(target.device === 'dml' ? { structural_fallback: true } : {}) })),
    );
  },
};
