import path from 'node:path';
import { checkOpenVinoExport, compressionFlags, equivalentOptimumCli, readAppliedCompression } from '../backends/openvino.js';
import { DATA_AWARE_ALGORITHMS, isDataAware } from '../recipe/schema.js';
import { calibrationTexts, STATISTICS_LINK } from './openvino-calibration.js';
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
    const [modelStepId, baseStepId, calibrationStepId] = input.definition.needs;
    const modelDir = input.upstream[modelStepId].outDir;
    // The base step decided the path: a placeholder (no command) means one optimum-cli pass.
    const base = baseStepId ? input.upstream[baseStepId] : undefined;
    const statistics = calibrationStepId ? input.upstream[calibrationStepId] : undefined;
    if (base && !('materialize' in base.work)) return planDerived(input, base.outDir, statistics && !statistics.inert ? path.join(statistics.outDir, 'statistics') : undefined);
    const task = 'text-generation-with-past';
    return planCommandStep(input, `optimum-cli export openvino (${recipe.quantization.weight_format})`, {
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
async function planDerived(input: PlanInput, baseDir: string, statisticsDir: string | undefined): Promise<PlannedStep> {
  const { recipe } = input.recipe;
  const script = toolchainScript(input.toolchain!, 'derive_variant.py');
  const { weight_format, group_size, ratio, sym, backup_precision } = recipe.quantization;
  const quantization = { weight_format, group_size, ratio, sym, backup_precision };
  if (isDataAware(recipe.quantization) && statisticsDir) return planDataAware(input, script, baseDir, statisticsDir, quantization);
  return planCommandStep(input, `derive the ${weight_format} variant from the shared IR (equivalent to: ${equivalentOptimumCli(recipe)})`, {
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

/**
 * A data-aware variant: optimum-intel compresses the shared IR with the calibration texts as its
 * dataset and loads the statistics step's output instead of collecting it again. NNCF records the
 * statistics path in the IR's rt_info, so it is a relative link: the bytes do not depend on where
 * the cache lives.
 */
async function planDataAware(input: PlanInput, script: string, baseDir: string, statisticsDir: string, quantization: Record<string, unknown>): Promise<PlannedStep> {
  const { recipe } = input.recipe;
  const calibration = await calibrationTexts(recipe.quantization);
  const algorithms = Object.fromEntries(DATA_AWARE_ALGORITHMS.map((algorithm) => [algorithm, recipe.quantization[algorithm] === true]));
  const equivalent = equivalentOptimumCli(recipe, { samples: calibration.texts.length });
  const used = DATA_AWARE_ALGORITHMS.filter((algorithm) => algorithms[algorithm]);
  const env = { HF_HUB_OFFLINE: '1', HF_DATASETS_OFFLINE: '1' };
  return planCommandStep(
    input,
    `derive the data-aware ${quantization.weight_format} variant (${used.length ? used.join(' + ') : 'data-aware mixed precision'}, ${calibration.texts.length} samples of the ${calibration.source} text) from the shared IR through optimum-intel's Python API, which takes the texts as a list; otherwise equivalent to: ${equivalent}`,
    {
      params: { derived_from: 'base', quantization, data_aware: { ...algorithms, calibration: { sha256: calibration.sha256, samples: calibration.texts.length } } },
      scripts: [script, toolchainScript(input.toolchain!, 'calibration.py')],
      env,
      prepare: (workDir) => linkModel(workDir, statisticsDir, STATISTICS_LINK),
      requestFiles: (workDir) => ({
        'request.json': JSON.stringify({ base_dir: baseDir, output_dir: path.join(workDir, 'out'), quantization, model: MODEL_LINK, calibration: { texts: calibration.texts, statistics_dir: STATISTICS_LINK, ...algorithms } }),
      }),
      command: ({ python, workDir }) => ({ argv: [python, script, '--request', 'request.json', '--result', 'result.json'], env, cwd: workDir, links: { [STATISTICS_LINK]: statisticsDir } }),
      verify: (outDir) => checkOpenVinoExport(outDir, recipe.quantization),
      verifyHint: 'The data-aware variant is not what the recipe asked for; the step log shows what NNCF did.',
      facts: async (outDir) => ({
        weight_compression: (await readAppliedCompression(path.join(outDir, 'openvino_model.xml'))) ?? null,
        calibration: { source: calibration.source, samples: calibration.texts.length, sha256: calibration.sha256 },
        equivalent_command: equivalent,
      }),
    },
  );
}
