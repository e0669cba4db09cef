import { rm, symlink } from 'node:fs/promises';
import path from 'node:path';
import { checkOpenVinoExport, readAppliedCompression } from './openvino-ir.js';
import type { Quantization } from '../recipe/schema.js';
import { planCommandStep } from './command-step.js';
import type { StepKind } from './types.js';

/**
 * The converter's environment: the model is already local, so no network. A data-aware default that
 * wants to download a dataset then fails at once instead of quietly changing the quantization.
 */
const OFFLINE = { HF_HUB_OFFLINE: '1', HF_DATASETS_OFFLINE: '1' };

const MODEL_LINK = 'model';

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
      // 2: --model is a relative link, so openvino_config.json no longer records a machine's path.
      kindVersion: 2,
      params: { task, quantization: recipe.quantization, trust_remote_code: recipe.model.trust_remote_code },
      scripts: [],
      env: OFFLINE,
      // optimum writes the --model argument verbatim into openvino_config.json: a relative link keeps
      // the artifact's bytes independent of where the model and the cache live.
      prepare: async (workDir) => {
        await rm(path.join(workDir, MODEL_LINK), { force: true });
        await symlink(modelDir, path.join(workDir, MODEL_LINK));
      },
      command: ({ bin, workDir }) => ({
        argv: [
          path.join(bin, 'optimum-cli'), 'export', 'openvino',
          '--model', MODEL_LINK,
          '--task', task,
          ...compressionFlags(recipe.quantization),
          ...(recipe.model.trust_remote_code ? ['--trust-remote-code'] : []),
          'out',
        ],
        env: OFFLINE,
        cwd: workDir,
        links: { [MODEL_LINK]: modelDir },
      }),
      verify: (outDir) => checkOpenVinoExport(outDir, recipe.quantization),
      verifyHint: 'The export finished but is not what the recipe asked for; the step log shows what optimum did.',
      facts: async (outDir) => ({ weight_compression: (await readAppliedCompression(path.join(outDir, 'openvino_model.xml'))) ?? null }),
    });
  },
};
