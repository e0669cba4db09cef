import { z } from 'zod';
import type { ModelSize } from '../recipe/model-files.js';
import { DATA_AWARE_ALGORITHMS, type BaseRecipe } from '../recipe/schema.js';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { weightPrecision } from '../artifact/manifest.js';
import { readOnnxWeightStatistics } from './onnx-weights.js';
import { checkGroupSize } from './openvino.js';
import type { Backend, DeviceClass } from './types.js';

// ONNX Runtime GenAI through onnxruntime-genai's model builder: its section (ort:), its targets (the
// execution providers), the precision/provider pairs the builder makes, and how the builder is called.

const OrtSchema = z.strictObject({
  execution_provider: z.enum(['cpu', 'cuda', 'dml', 'webgpu']).default('cpu').meta({ description: "The model builder's -e: which execution provider the model is built for." }),
  block_size: z
    .number()
    .int()
    .refine((value) => [16, 32, 64, 128, 256].includes(value), 'block_size must be 16, 32, 64, 128 or 256')
    .default(32)
    .meta({ description: "INT4 block (group) size; it must divide the model's hidden sizes.", hint: 'One of 16, 32, 64, 128, 256 that divides the hidden size.' }),
  accuracy_level: z.number().int().min(0).max(4).optional().meta({ description: 'MatMulNBits accuracy level (0-4); the builder defaults to 4 on cpu, 0 elsewhere.' }),
  algo_config: z.enum(['default', 'rtn', 'k_quant', 'rtn_last', 'k_quant_last', 'k_quant_mixed', 'k_quant_linear']).optional(),
  exclude_embeds: z.boolean().optional(),
  exclude_lm_head: z.boolean().optional(),
  shared_embeddings: z.boolean().optional().meta({
    description:
      "The builder's shared_embeddings: one matrix for the embedding and the output projection (GatherBlockQuantized in INT4), for models with tie_word_embeddings (Phi-4-mini). Unset, the builder shares them exactly when the model ties them.",
    hint: 'true only for a model whose config.json has tie_word_embeddings: true; an untied model built with shared embeddings answers gibberish.',
  }),
});

export type OrtSettings = z.output<typeof OrtSchema>;
type OrtRecipe = BaseRecipe & { ort: OrtSettings };

/** ONNX Runtime execution providers a recipe can target. */
export const ORT_PROVIDERS = ['cpu', 'cuda', 'dml'] as const;

/** The precision / execution provider pairs the ONNX Runtime GenAI model builder supports. */
export const ORT_PRECISIONS: Record<string, readonly string[]> = { int4: ['cpu', 'cuda', 'dml', 'webgpu'], int8: ['cpu', 'cuda', 'webgpu'], fp16: ['cuda', 'dml'], fp32: ['cpu', 'cuda'] };

/**
 * The builder's options from the recipe, all in ONE --extra_options: a second --extra_options flag
 * replaces the first instead of adding to it.
 */
export function builderExtraOptions(recipe: BaseRecipe): string[] {
  const { ort, quantization } = recipe as OrtRecipe;
  const options: Record<string, string | number | boolean | undefined> = {
    ...(quantization.weight_format === 'int4'
      ? { block_size: ort.block_size, is_symmetric: quantization.sym ?? true, accuracy_level: ort.accuracy_level, algo_config: ort.algo_config }
      : {}),
    exclude_embeds: ort.exclude_embeds,
    exclude_lm_head: ort.exclude_lm_head,
    shared_embeddings: ort.shared_embeddings,
    // The model is local: the builder must not look for a hub login.
    hf_token: false,
  };
  return Object.entries(options)
    .filter(([, value]) => value !== undefined)
    .map(([key, value]) => `${key}=${String(value)}`);
}

const GiB = 2 ** 30;

/**
 * The ONNX model's weight bytes. The builder quantizes every MatMul of the decoder (and the output
 * projection, unless excluded) to 4 bits with an f32 scale per block, keeps the embedding in the
 * I/O precision (f32 on the CPU), and stores cos/sin caches for every position.
 */
function onnxBytes(recipe: OrtRecipe, model: ModelSize): number {
  const { quantization, ort } = recipe;
  const io = ort.execution_provider === 'cpu' ? 4 : 2;
  const caches = model.maxPositions * (model.headDim / 2) * 2 * io;
  const other = model.parameters - model.embedding - model.lmHead - model.body;
  if (quantization.weight_format !== 'int4') {
    const bytes = quantization.weight_format === 'int8' ? 1 : quantization.weight_format === 'fp16' ? 2 : 4;
    return (model.body + model.lmHead) * bytes + model.embedding * io + other * io + caches;
  }
  const fourBit = 0.5 + 4 / ort.block_size + (quantization.sym ? 0 : 0.5 / ort.block_size);
  return model.body * fourBit + model.lmHead * (ort.exclude_lm_head ? io : fourBit) + model.embedding * io + other * io + caches;
}

export const ortGenai: Backend = {
  name: 'ort-genai',
  runtime: 'onnxruntime-genai',
  library: 'onnxruntime-genai',
  sections: { ort: OrtSchema.prefault({}).meta({ description: 'How the ONNX Runtime GenAI model builder runs (pipeline ort-genai).' }) },
  devicesHint: 'ONNX Runtime GenAI: cpu, cuda or dml.',
  acceptsDevice: (device) => (ORT_PROVIDERS as readonly string[]).includes(device),
  deviceClass: (device) => device as DeviceClass,
  checkRecipe(recipe, problem) {
    const { quantization: q, ort } = recipe as OrtRecipe;
    for (const key of ['group_size', 'ratio', 'backup_precision'] as const) {
      if (q[key] !== undefined) problem(['quantization', key], `${key} is an OpenVINO (NNCF) setting; the ONNX Runtime GenAI builder does not take it`, key === 'group_size' ? 'Set ort.block_size instead.' : 'Remove it: the builder quantizes every MatMul it can.');
    }
    if (recipe.export !== undefined) problem(['export'], 'export is an OpenVINO setting; the ONNX Runtime GenAI builder always builds in one pass', 'Remove it.');
    if (ort.shared_embeddings && (ort.exclude_embeds || ort.exclude_lm_head)) {
      // The builder drops the sharing without a word when either end is left out of the graph.
      problem(['ort', 'shared_embeddings'], `shared_embeddings cannot apply with ${ort.exclude_embeds ? 'exclude_embeds' : 'exclude_lm_head'}: the shared matrix would have no ${ort.exclude_embeds ? 'embedding' : 'output projection'} to serve`, 'Remove one of the two settings.');
    }
    // The builder's INT4 methods (RTN, k-quant) look at the weights alone: it has no calibration step.
    for (const key of [...DATA_AWARE_ALGORITHMS, 'calibration'] as const) {
      if (q[key] !== undefined) problem(['quantization', key], `${key} is data-aware NNCF compression; the ONNX Runtime GenAI builder quantizes from the weights alone`, 'Remove it; ort.algo_config: k_quant (or k_quant_mixed) is the builder\'s more accurate data-free INT4.');
    }
    const allowed = ORT_PRECISIONS[q.weight_format] ?? [];
    if (!allowed.includes(ort.execution_provider)) {
      problem(
        ['quantization', 'weight_format'],
        `the model builder cannot make ${q.weight_format} for the ${ort.execution_provider} execution provider`,
        `${q.weight_format} is built for: ${allowed.join(', ') || 'no provider'}. Supported pairs: ${Object.entries(ORT_PRECISIONS).map(([precision, providers]) => `${precision} (${providers.join(', ')})`).join('; ')}.`,
      );
    }
  },
  checkAgainstModel(recipe, shape, problem) {
    const { ort, quantization } = recipe as OrtRecipe;
    // A block that does not divide a width builds without error and answers garbage.
    if (quantization.weight_format === 'int4') checkGroupSize(ort.block_size, ['ort', 'block_size'], shape, problem, (divisors) => `Use one of ${divisors.join(', ') || '16'}.`);
    // onnxruntime-genai #2306: an untied model built with one matrix for both ends answers gibberish.
    if (ort.shared_embeddings && !shape.tie_word_embeddings) {
      problem(
        ['ort', 'shared_embeddings'],
        "shared_embeddings needs a model that ties its embedding and output projection, and this model's config.json has tie_word_embeddings: false",
        'Remove shared_embeddings (the builder then keeps both matrices); sharing them would make the model answer gibberish.',
      );
    }
  },
  // onnxruntime-genai-cuda runs every provider, CPU included, but is installed only where an NVIDIA
  // driver is; elsewhere the CPU runtime reports a cuda target as skipped.
  runtimeToolchains: (device) => (device === 'cuda' ? ['ort-genai-cuda', 'ort-genai-runtime'] : ['ort-genai-runtime']),
  runnerScript: { toolchain: 'ort-genai-runtime', file: 'run_ortgenai.py' },
  // A DML build on a machine without DirectML also runs on the CPU provider, as a structural check only.
  runnerTarget: (_recipe, target) => ({ device: target.device, ...(target.runtime ? { properties: target.runtime } : {}), ...(target.device === 'dml' ? { structural_fallback: true } : {}) }),
  emulates: () => false,
  async readWeights(dir) {
    const model = path.join(dir, 'model.onnx');
    if (!existsSync(model)) return undefined;
    const statistics = await readOnnxWeightStatistics(model);
    return weightPrecision({ fourBit: statistics.fourBitParameters, eightBit: statistics.eightBitParameters, other: statistics.floatParameters });
  },
  // Constants measured with bench/real-size.mjs on Phi-3-mini's full layout (see README, Performance).
  estimateStep(kind, recipe, model) {
    if (kind !== 'ort-genai-build') return undefined;
    // The builder loads the checkpoint as stored and converts it to f32 before quantizing layer by
    // layer, and both copies are alive at the peak: 22.9 GiB for 3.82B bf16 parameters
    // (bench/real-size.mjs), about checkpoint + f32 copy + 0.45 bytes a parameter.
    return { memoryBytes: model.parameters * (model.checkpointBytesPerWeight + 4.45), diskBytes: onnxBytes(recipe as OrtRecipe, model) };
  },
  artifactBytes: (recipe, model) => onnxBytes(recipe as OrtRecipe, model),
  // 3.28 GiB for a 2.54 GiB INT4 model at full size (bench/real-size.mjs).
  runnerMemoryBytes: (recipe, model) => onnxBytes(recipe as OrtRecipe, model) * 1.1 + 0.5 * GiB,
};
