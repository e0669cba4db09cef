import path from 'node:path';
import { promptsWithIds, type Target } from '../recipe/schema.js';
import { toolchainScript } from '../toolchain/definition.js';
import { hostFingerprint } from '../validate/host.js';
import { planCommandStep } from './command-step.js';
import type { StepKind } from './types.js';

/** The guide's runtime properties (SEED.md §3), used unless a target sets its own. */
export const OPENVINO_DEFAULT_PROPERTIES = { PERFORMANCE_HINT: 'LATENCY', NUM_STREAMS: '1' };

export function openVinoProperties(target: Target): Record<string, string> {
  return Object.fromEntries(Object.entries({ ...OPENVINO_DEFAULT_PROPERTIES, ...target.runtime }).map(([key, value]) => [key, String(value)]));
}

/** Runs the exported IR with OpenVINO GenAI on every target device; figures and answers go to runs.json. */
export const validateOpenVino: StepKind = {
  async plan(input) {
    const { validate, targets, npu } = input.recipe.recipe;
    const artifactDir = input.upstream[input.definition.needs[0]].outDir;
    const script = toolchainScript(input.toolchain!, 'run_genai.py');
    const request = {
      model_dir: artifactDir,
      max_new_tokens: validate.max_new_tokens,
      repetitions: validate.repetitions,
      warmup: validate.warmup,
      prompts: promptsWithIds(validate).map(({ id, messages }) => ({ id, messages })),
      targets: targets.map((target) => ({
        device: target.device,
        properties: openVinoProperties(target),
        ...(target.device === 'NPU' ? { npu: { ...npu, weightless: !npu.weights_in_blob, emulate: input.context.emulateNpu } } : {}),
      })),
    };
    return planCommandStep(input, `run on ${targets.map((target) => target.device).join(', ')} with OpenVINO GenAI`, {
      kindVersion: 1,
      volatile: true,
      params: { ...request, model_dir: undefined, host: hostFingerprint() },
      scripts: [script],
      env: {},
      requestFiles: () => ({ 'request.json': JSON.stringify(request) }),
      command: ({ python, workDir, outDir }) => ({ argv: [python, script, '--request', path.join(workDir, 'request.json'), '--result', path.join(outDir, 'runs.json')] }),
    });
  },
};
