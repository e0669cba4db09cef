import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { toolchainScript } from '../toolchain/definition.js';
import { hostFingerprint } from '../validate/host.js';
import { planCommandStep } from './command-step.js';
import type { StepKind } from './types.js';

/**
 * Compiles the exported IR for the NPU with OpenVINO GenAI and ships the blob with the artifact
 * (EXPORT_BLOB / BLOB_PATH). With --emulate-npu and no NPU, the same path runs through NPUW on the CPU.
 */
export const compileNpuBlob: StepKind = {
  async plan(input) {
    const { npu } = input.recipe.recipe;
    const irDir = input.upstream[input.definition.needs[0]].outDir;
    const script = toolchainScript(input.toolchain!, 'compile_npu.py');
    const emulate = input.context.emulateNpu;
    return planCommandStep(input, `compile for the NPU and export the blob${emulate ? ' (emulated through NPUW on the CPU when no NPU is present)' : ''}`, {
      kindVersion: 1,
      // The blob depends on the device and driver that compiled it, so the machine is part of the key.
      params: { ...npu, emulate, host: hostFingerprint() },
      scripts: [script],
      env: {},
      requestFiles: (workDir) => ({
        'request.json': JSON.stringify({ model_dir: irDir, output_dir: path.join(workDir, 'out'), max_prompt_len: npu.max_prompt_len, min_response_len: npu.min_response_len, weights_in_blob: npu.weights_in_blob, emulate }),
      }),
      command: ({ python, workDir }) => ({ argv: [python, script, '--request', path.join(workDir, 'request.json'), '--result', path.join(workDir, 'result.json')] }),
      facts: async (outDir) => ({ npu: JSON.parse(await readFile(path.join(outDir, 'npu.json'), 'utf8')) }),
    });
  },
};
