import { checkOpenVinoExport, readAppliedCompression } from './openvino-ir.js';
import path from 'node:path';
import type { Quantization } from '../recipe/schema.js';
import { planCommandStep } from './command-step.js';
import type { StepKind } from './types.js';

/**
 * The converter's environment: the model is already local, so no network. A data-aware default that
 * wants to download a dataset then fails at once instead of quietly changing the quantization.
 */
const OFFLINE = { HF_HUB_OFFLINE: '1', HF_DATASETS_OFFLINE: '1' };

/** optimum-cli's compression flags for a recipe: always explicit, in the guide's order. */
export function compressionFlags(quantization: Quantization): string[] {
  const flags = ['--weight-format', quantization.weight_format];
  if (quantization.weight_format === 'int4') {
    flags.push('--group-size', String(quantization.group_size), '--ratio', String(quantization.ratio));
  }
  if (quantization.sym) flags.push('--sym');
  if (quantization.backup_precision) flags.push('--backup-precision', quantization.backup_precision);
  return flags;
}

/** Hugging Face checkpoint -> OpenVINO IR with optimum-cli, then checked against the recipe. */
export const optimumExportOpenVino: StepKind = {
  async plan(input) {
    const { recipe } = input.recipe;
    const modelDir = input.upstream[input.definition.needs[0]].outDir;
    const task = 'text-generation-with-past';
    return planCommandStep(input, `optimum-cli export openvino (${recipe.quantization.weight_format})`, {
      kindVersion: 1,
      params: { task, quantization: recipe.quantization, trust_remote_code: recipe.model.trust_remote_code },
      scripts: [],
      env: OFFLINE,
      command: ({ bin, outDir }) => ({
        argv: [
          path.join(bin, 'optimum-cli'), 'export', 'openvino',
          '--model', modelDir,
          '--task', task,
          ...compressionFlags(recipe.quantization),
          ...(recipe.model.trust_remote_code ? ['--trust-remote-code'] : []),
          outDir,
        ],
        env: OFFLINE,
      }),
      verify: (outDir) => checkOpenVinoExport(outDir, recipe.quantization),
      verifyHint: 'The export finished but is not what the recipe asked for; the step log shows what optimum did.',
      facts: async (outDir) => ({ weight_compression: (await readAppliedCompression(path.join(outDir, 'openvino_model.xml'))) ?? null }),
    });
  },
};
