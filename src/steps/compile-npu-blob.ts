import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { openVinoProperties } from '../backends/openvino.js';
import { toolchainScript } from '../toolchain/definition.js';
import { hostFingerprint } from '../validate/host.js';
import { planCommandStep } from './command-step.js';
import type { StepKind } from './types.js';

/** Target properties of the NPU plugin (NPU_*) and of NPUW (NPUW_*): they shape the compiled model, so the blob is compiled with them. */
const COMPILE_PROPERTY = /^NPUW?_/;

/**
 * Compiles the exported IR for the NPU with OpenVINO GenAI and ships the blob with the artifact
 * (EXPORT_BLOB / BLOB_PATH). With --emulate-npu and no NPU, the same path runs through NPUW on the CPU.
 * npu.json records what the blob was compiled for (OpenVINO, the NPU compiler and driver, the device's
 * architecture, the compile properties: common/scripts/npu_blob.py); it is the step's facts, so the
 * manifest carries the same record, and validation imports the blob only where it matches.
 */
export const compileNpuBlob: StepKind = {
  async plan(input) {
    const { npu, targets } = input.recipe.recipe;
    const irDir = input.upstream[input.definition.needs[0]].outDir;
    const script = toolchainScript(input.toolchain!, 'compile_npu.py');
    const emulate = input.context.emulateNpu;
    // The runner loads the blob with the NPU target's properties: the ones that shape the compiled model go into the compile too.
    const npuTarget = targets.find((target) => target.device === 'NPU');
    const properties = npuTarget ? Object.fromEntries(Object.entries(openVinoProperties(npuTarget)).filter(([key]) => COMPILE_PROPERTY.test(key))) : {};
    return planCommandStep(input, `compile for the NPU and export the blob${emulate ? ' (emulated through NPUW on the CPU when no NPU is present)' : ''}`, {
      // The blob depends on the device and driver that compiled it, so the machine is part of the key.
      params: { ...npu, emulate, host: hostFingerprint() },
      scripts: [script, toolchainScript('common', 'npu_blob.py')],
      env: {},
      requestFiles: (workDir) => ({
        'request.json': JSON.stringify({ model_dir: irDir, output_dir: path.join(workDir, 'out'), max_prompt_len: npu.max_prompt_len, min_response_len: npu.min_response_len, weights_in_blob: npu.weights_in_blob, emulate, properties }),
      }),
      command: ({ python, workDir }) => ({ argv: [python, script, '--request', path.join(workDir, 'request.json'), '--result', path.join(workDir, 'result.json')] }),
      facts: async (outDir) => ({ npu: JSON.parse(await readFile(path.join(outDir, 'npu.json'), 'utf8')) }),
    });
  },
};
