import { existsSync } from 'node:fs';
import { loadToolchain, toolchainScript } from '../toolchain/definition.js';
import { planRunnerStep } from './runner-step.js';
import type { StepKind } from './types.js';

/** Whether an NVIDIA driver is loaded: without one, a CUDA target is skipped without fetching the CUDA runtime. */
function nvidiaDriverPresent(): boolean {
  return existsSync('/proc/driver/nvidia/version');
}

/**
 * Runs the ONNX Runtime GenAI artifact on every target provider with onnxruntime-genai. A DML build
 * on a machine without DirectML also runs on the CPU provider, as a structural check only.
 */
export const validateOrtGenai: StepKind = {
  async plan(input) {
    const { targets } = input.recipe.recipe;
    const wantsCuda = targets.some((target) => target.device === 'cuda') && nvidiaDriverPresent();
    // onnxruntime-genai-cuda runs every provider, CPU included; it is fetched only where it can run.
    const toolchain = wantsCuda ? await loadToolchain('ort-genai-cuda') : input.toolchain!;
    return planRunnerStep(
      { ...input, toolchain },
      'onnxruntime-genai',
      toolchainScript(await loadToolchain('ort-genai'), 'run_ortgenai.py'),
      targets.map((target) => ({ device: target.device, ...(target.runtime ? { properties: target.runtime } : {}), ...(target.device === 'dml' ? { structural_fallback: true } : {}) })),
    );
  },
};
