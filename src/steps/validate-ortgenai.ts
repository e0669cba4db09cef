import { existsSync } from 'node:fs';
import path from 'node:path';
import { promptsWithIds } from '../recipe/schema.js';
import { loadToolchain, toolchainScript } from '../toolchain/definition.js';
import { hostFingerprint } from '../validate/host.js';
import { planCommandStep } from './command-step.js';
import type { StepKind } from './types.js';

/** Whether an NVIDIA driver is loaded: without one, a CUDA target is skipped without fetching the CUDA runtime. */
function nvidiaDriverPresent(): boolean {
  return existsSync('/proc/driver/nvidia/version');
}

/**
 * Runs the ONNX Runtime GenAI artifact on every target provider with onnxruntime-genai, writing the
 * same runs.json as the OpenVINO runner so one evaluator serves both. A DML build on a machine
 * without DirectML also runs on the CPU provider, as a structural check only.
 */
export const validateOrtGenai: StepKind = {
  async plan(input) {
    const { validate, targets } = input.recipe.recipe;
    const artifactDir = input.upstream[input.definition.needs[0]].outDir;
    const wantsCuda = targets.some((target) => target.device === 'cuda') && nvidiaDriverPresent();
    const toolchain = wantsCuda ? await loadToolchain('ort-genai-cuda') : input.toolchain!;
    const script = toolchainScript(await loadToolchain('ort-genai'), 'run_ortgenai.py');
    const request = {
      model_dir: artifactDir,
      max_new_tokens: validate.max_new_tokens,
      repetitions: validate.repetitions,
      warmup: validate.warmup,
      prompts: promptsWithIds(validate).map(({ id, messages }) => ({ id, messages })),
      targets: targets.map((target) => ({ device: target.device, ...(target.runtime ? { properties: target.runtime } : {}), ...(target.device === 'dml' ? { structural_fallback: true } : {}) })),
    };
    return planCommandStep({ ...input, toolchain }, `run on ${targets.map((target) => target.device).join(', ')} with onnxruntime-genai`, {
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
