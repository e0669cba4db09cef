import type { Target } from '../recipe/schema.js';
import { toolchainScript } from '../toolchain/definition.js';
import { planRunnerStep } from './runner-step.js';
import type { StepKind } from './types.js';

/** The guide's runtime properties (SEED.md §3), used unless a target sets its own. */
export const OPENVINO_DEFAULT_PROPERTIES = { PERFORMANCE_HINT: 'LATENCY', NUM_STREAMS: '1' };

export function openVinoProperties(target: Target): Record<string, string> {
  return Object.fromEntries(Object.entries({ ...OPENVINO_DEFAULT_PROPERTIES, ...target.runtime }).map(([key, value]) => [key, String(value)]));
}

/** Runs the exported IR with OpenVINO GenAI on every target device (an NPU imports the compiled blob). */
export const validateOpenVino: StepKind = {
  async plan(input) {
    const { targets, npu } = input.recipe.recipe;
    return planRunnerStep(
      input,
      'OpenVINO GenAI',
      toolchainScript(input.toolchain!, 'run_genai.py'),
      targets.map((target) => ({
        device: target.device,
        properties: openVinoProperties(target),
        ...(target.device === 'NPU' ? { npu: { ...npu, weightless: !npu.weights_in_blob, emulate: input.context.emulateNpu } } : {}),
      })),
    );
  },
};
