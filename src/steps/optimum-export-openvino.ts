import path from 'node:path';
import { checkOpenVinoExport, compressionFlags, equivalentOptimumCli, readAppliedCompression } from '../backends/openvino.js';
import { toolchainScript } from '../toolchain/definition.js';
import { planCommandStep } from './command-step.js';
import { linkModel, MODEL_LINK } from './openvino-base-export.js';
import type { PlanInput, PlannedStep, StepKind } from './types.js';

/**
 * The converter's environment: the model is already local, so no network. A data-aware default that
 * wants to download a dataset then fails at once instead of quietly changing the quantization.
 */
const OFFLINE = { HF_HUB_OFFLINE: '1', HF_DATASETS_OFFLINE: '1' };

/**
 * The OpenVINO IR of one variant, checked against the recipe: derived from the shared base IR with
 * NNCF exactly as optimum-cli would compress it, or (export: direct) made by optimum-cli itself.
 */
export const optimumExportOpenVino: StepKind = {
  async plan(input) {
    const { recipe } = input.recipe;
    const [modelStepId, baseStepId] = input.definition.needs;
    const modelDir = input.upstream[modelStepId].outDir;
    // The base step decided the path: a placeholder (no command) means one optimum-cli pass.
    const base = baseStepId ? input.upstream[baseStepId] : undefined;
    if (base && !('materialize' in base.work)) return planDerived(input, base.outDir);
    const task = 'text-generation-with-past';
    return planCommandStep(input, `optimum-cli export openvino (${recipe.quantization.weight_format})`, {
      // 2: --model is a relative link, so openvino_config.json no longer records a machine's path.
      kindVersion: 2,
      params: { task, quantization: recipe.quantization, trust_remote_code: recipe.model.trust_remote_code },
      scripts: [],
      env: OFFLINE,
      // optimum writes the --model argument verbatim into openvino_config.json: a relative link keeps
      // the artifact's bytes independent of where the model and the cache live.
      prepare: (workDir) => linkModel(workDir, modelDir),
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
      // Recorded on both paths, so a manifest always says what a user would type for the same bytes.
      facts: async (outDir) => ({ weight_compression: (await readAppliedCompression(path.join(outDir, 'openvino_model.xml'))) ?? null, equivalent_command: equivalentOptimumCli(recipe) }),
    });
  },
};

/** A variant made from the shared base IR: no PyTorch, seconds instead of a full export. */
async function planDerived(input: PlanInput, baseDir: string): Promise<PlannedStep> {
  const { recipe } = input.recipe;
  const script = toolchainScript(input.toolchain!, 'derive_variant.py');
  const { weight_format, group_size, ratio, sym, backup_precision } = recipe.quantization;
  const quantization = { weight_format, group_size, ratio, sym, backup_precision };
  return planCommandStep(input, `derive the ${weight_format} variant from the shared IR (equivalent to: ${equivalentOptimumCli(recipe)})`, {
    kindVersion: 1,
    params: { derived_from: 'base', quantization },
    scripts: [script],
    env: {},
    // "model" is what the direct export records as the tokenizer source: the same bytes either way.
    requestFiles: (workDir) => ({ 'request.json': JSON.stringify({ base_dir: baseDir, output_dir: path.join(workDir, 'out'), quantization, model: MODEL_LINK }) }),
    command: ({ python, workDir }) => ({ argv: [python, script, '--request', path.join(workDir, 'request.json'), '--result', path.join(workDir, 'result.json')] }),
    verify: (outDir) => checkOpenVinoExport(outDir, recipe.quantization),
    verifyHint: 'The derived variant is not what the recipe asked for; the step log shows what NNCF did.',
    facts: async (outDir) => ({ weight_compression: (await readAppliedCompression(path.join(outDir, 'openvino_model.xml'))) ?? null, equivalent_command: equivalentOptimumCli(recipe) }),
  });
}
