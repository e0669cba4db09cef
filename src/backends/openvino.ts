import { existsSync } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { DATA_AWARE_ALGORITHMS, isDataAware, type BaseRecipe, type Quantization, type Target } from '../recipe/schema.js';
import type { ModelShape, ModelSize } from '../recipe/model-files.js';
import { weightPrecision } from '../artifact/manifest.js';
import { readIrWeightStatistics } from './openvino-weights.js';
import type { Backend, DeviceClass, ReportProblem } from './types.js';

// OpenVINO IR through optimum-intel and NNCF, run with OpenVINO GenAI: its devices, its recipe
// rules (the guide's explicit INT4 options, the NPU's constraints), how optimum-cli is called, what
// NNCF leaves in the IR, and how targets reach the runner.

const NpuSchema = z.strictObject({
  max_prompt_len: z.number().int().positive().default(1024).meta({ description: 'Longest prompt the compiled NPU model accepts (MAX_PROMPT_LEN).' }),
  min_response_len: z.number().int().positive().default(128).meta({ description: 'Tokens always left for the answer (MIN_RESPONSE_LEN).' }),
  weights_in_blob: z
    .boolean()
    .default(true)
    .meta({ description: 'Put the weights into the compiled blob (CACHE_MODE OPTIMIZE_SPEED); false ships a weightless blob loaded with WEIGHTS_PATH.' }),
});

export type NpuSettings = z.output<typeof NpuSchema>;
type OpenVinoRecipe = BaseRecipe & { npu: NpuSettings };

const DEVICE = /^(CPU|GPU(\.\d+)?|NPU|AUTO(:[A-Z0-9.,]+)?)$/;

/** The runtime properties the Phi-3 on AI PC guide loads OpenVINO models with, used unless a target sets its own. */
export const OPENVINO_DEFAULT_PROPERTIES = { PERFORMANCE_HINT: 'LATENCY', NUM_STREAMS: '1' };

export function openVinoProperties(target: Target): Record<string, string> {
  return Object.fromEntries(Object.entries({ ...OPENVINO_DEFAULT_PROPERTIES, ...target.runtime }).map(([key, value]) => [key, String(value)]));
}

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

/** optimum-cli's flags for the data-aware algorithms a recipe turns on, in optimum's own order. */
export function dataAwareFlags(quantization: Quantization): string[] {
  return DATA_AWARE_ALGORITHMS.filter((algorithm) => quantization[algorithm] === true).map((algorithm) => `--${algorithm.replaceAll('_', '-')}`);
}

/**
 * The optimum-cli command a variant is equivalent to: what a user would type by hand. A data-aware
 * variant calibrates on phiforge's text, which optimum-cli cannot take (its --dataset accepts only
 * dataset names it downloads from the Hub); optimum-intel's Python API takes the same texts as a
 * list, which is what phiforge runs. The command names that list as <calibration texts>.
 */
export function equivalentOptimumCli(recipe: BaseRecipe, calibration?: { samples: number }): string {
  const dataAware = calibration ? [...dataAwareFlags(recipe.quantization), '--dataset', '<calibration texts>', '--num-samples', String(calibration.samples), '--quantization-statistics-path', '<statistics>'] : [];
  return ['optimum-cli export openvino --model <model> --task text-generation-with-past', ...compressionFlags(recipe.quantization), ...dataAware, ...(recipe.model.trust_remote_code ? ['--trust-remote-code'] : []), '<out>'].join(' ');
}

export interface ExportPath {
  path: 'shared' | 'direct';
  /** Why, in words for plan and the manifest. */
  why: string;
}

/**
 * One optimum-cli pass, or one shared PyTorch conversion that every variant of the model is derived
 * from (the same weight bytes; the .xml differs in the names NNCF gives its nodes). Decided by the
 * recipe alone, never by what is cached or what else the invocation builds, so one recipe always
 * ships the same bytes: direct by default (the guide's exact command, and less memory than a
 * conversion plus a derivation), shared where the recipe says `export: shared`. Data-aware
 * compression needs the shared IR (optimum-cli takes no calibration text); fp32 is its own trace.
 */
export function chooseExportPath(recipe: Pick<BaseRecipe, 'export' | 'quantization'>): ExportPath {
  if (recipe.quantization.weight_format === 'fp32') return { path: 'direct', why: 'an fp32 IR is traced in f32, not derived from the checkpoint-dtype conversion' };
  // optimum-cli cannot read a calibration text; the statistics and the compression both start from the shared IR.
  if (isDataAware(recipe.quantization)) return { path: 'shared', why: 'data-aware compression calibrates the shared conversion through optimum-intel' };
  if (recipe.export) return { path: recipe.export, why: `export: ${recipe.export} in the recipe` };
  return { path: 'direct', why: 'a data-free recipe without export: shared exports in one optimum-cli pass' };
}

/** What NNCF wrote into the IR's rt_info about the weight compression it applied. */
export interface AppliedCompression {
  mode?: string;
  group_size?: number;
  ratio?: number;
  backup_mode?: string;
  /** The data-aware algorithms NNCF ran: present (true) only for those rt_info records as True. */
  awq?: boolean;
  scale_estimation?: boolean;
  gptq?: boolean;
  lora_correction?: boolean;
}

// rt_info is the last element of the IR, after the (possibly huge) layer list: read only the tail.
const TAIL_BYTES = 256 * 1024;

export async function readAppliedCompression(xmlFile: string): Promise<AppliedCompression | undefined> {
  const { size } = await stat(xmlFile);
  const handle = await open(xmlFile, 'r');
  let tail: string;
  try {
    const length = Math.min(size, TAIL_BYTES);
    const buffer = Buffer.alloc(length);
    await handle.read(buffer, 0, length, size - length);
    tail = buffer.toString('utf8');
  } finally {
    await handle.close();
  }
  const start = tail.lastIndexOf('<rt_info>');
  const end = tail.lastIndexOf('</rt_info>');
  if (start < 0 || end < start) return undefined;
  const { XMLParser } = await import('fast-xml-parser');
  const parsed = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', parseAttributeValue: false }).parse(tail.slice(start, end + '</rt_info>'.length));
  const section = parsed?.rt_info?.nncf?.weight_compression as Record<string, { value?: string }> | undefined;
  if (!section) return undefined;
  const text = (key: string) => section[key]?.value;
  const number = (key: string) => (text(key) === undefined ? undefined : Number(text(key)));
  return {
    mode: text('mode'),
    group_size: number('group_size'),
    ratio: number('ratio'),
    backup_mode: text('backup_mode'),
    // A data-free optimum-cli export records none of them and a derived one records them as False:
    // only the ones that ran are kept, so both read the same.
    ...Object.fromEntries(DATA_AWARE_ALGORITHMS.filter((algorithm) => text(algorithm) === 'True').map((algorithm) => [algorithm, true])),
  };
}

/** The rt_info NNCF must leave for this recipe, or undefined when no compression may be recorded. */
export function expectedCompression(quantization: Quantization): AppliedCompression | undefined {
  const { weight_format: format } = quantization;
  if (format === 'fp16' || format === 'fp32') return undefined;
  if (format === 'int8') return { mode: quantization.sym ? 'int8_sym' : 'int8_asym' };
  return {
    mode: quantization.sym ? 'int4_sym' : 'int4_asym',
    group_size: quantization.group_size,
    ratio: quantization.ratio,
    ...(quantization.backup_precision ? { backup_mode: quantization.backup_precision } : {}),
    // A data-aware recipe must find each algorithm it asked for recorded as run, and no other.
    ...(isDataAware(quantization) ? Object.fromEntries(DATA_AWARE_ALGORITHMS.map((algorithm) => [algorithm, quantization[algorithm] === true])) : {}),
  };
}

/** Files an OpenVINO GenAI artifact cannot work without; optimum only logs a failed tokenizer conversion. */
export const REQUIRED_IR_FILES = ['openvino_model.xml', 'openvino_model.bin', 'openvino_tokenizer.xml', 'openvino_tokenizer.bin', 'openvino_detokenizer.xml', 'openvino_detokenizer.bin', 'config.json'];

/** Every way the exported folder differs from what the recipe asked for. */
export async function checkOpenVinoExport(outDir: string, quantization: Quantization): Promise<string[]> {
  const differences = REQUIRED_IR_FILES.filter((file) => !existsSync(path.join(outDir, file))).map((file) =>
    file.includes('tokenizer') ? `${file} is missing: optimum's tokenizer conversion failed (see the step log)` : `${file} is missing`,
  );
  const xml = path.join(outDir, 'openvino_model.xml');
  if (!existsSync(xml)) return differences;
  const applied = await readAppliedCompression(xml);
  const expected = expectedCompression(quantization);
  if (!expected) {
    if (applied) differences.push(`rt_info records weight compression mode ${applied.mode}, but the recipe asks for ${quantization.weight_format} weights`);
    return differences;
  }
  if (!applied) return [...differences, `rt_info has no nncf/weight_compression section, expected mode ${expected.mode}`];
  for (const [key, want] of Object.entries(expected) as [keyof AppliedCompression, string | number | boolean][]) {
    const got = applied[key];
    const same = typeof want === 'number' ? got !== undefined && Math.abs(Number(got) - want) < 1e-9 : typeof want === 'boolean' ? (got === true) === want : got === want;
    if (!same) differences.push(`rt_info nncf/weight_compression/${key} is ${got ?? 'absent'}, the recipe asks for ${want}`);
  }
  return differences;
}

/** Which keys mean something for NNCF's compression, by weight format. */
function checkQuantization(recipe: BaseRecipe, problem: ReportProblem): void {
  const q = recipe.quantization;
  if (q.weight_format !== 'int4') {
    for (const key of [...DATA_AWARE_ALGORITHMS, 'calibration'] as const) {
      if (q[key] !== undefined) problem(['quantization', key], `${key} does not apply to weight_format ${q.weight_format}`, 'Data-aware compression is for int4 weights (optimum compresses 8-bit weights data-free); remove this key.');
    }
  } else if (q.gptq && q.lora_correction) {
    problem(['quantization', 'lora_correction'], 'gptq and lora_correction cannot be combined (NNCF runs one or the other)', 'Keep one of them; gptq with scale_estimation, or awq with lora_correction, are combinations NNCF accepts.');
  } else if (isDataAware(q) && recipe.export === 'direct') {
    problem(['export'], 'a data-aware recipe cannot export directly: optimum-cli takes no calibration text, only dataset names it downloads', 'Remove export: direct; phiforge derives data-aware variants from the shared conversion through optimum-intel.');
  }
  if (q.weight_format === 'int4') {
    for (const key of ['group_size', 'ratio', 'sym'] as const) {
      if (q[key] === undefined) {
        problem(
          ['quantization', key],
          `int4 needs an explicit ${key}`,
          'phiforge passes every compression option explicitly: a bare --weight-format int4 on Phi-3 switches to a data-aware asymmetric group-64 default that downloads a dataset. The guide uses group_size: 128, ratio: 0.6, sym: true.',
        );
      }
    }
    return;
  }
  const onlyFor4Bit = q.weight_format === 'int8' ? (['group_size', 'ratio', 'backup_precision'] as const) : (['group_size', 'ratio', 'sym', 'backup_precision'] as const);
  for (const key of onlyFor4Bit) {
    if (q[key] !== undefined) {
      problem(['quantization', key], `${key} does not apply to weight_format ${q.weight_format}`, q.weight_format === 'int8' ? 'INT8 weight compression is per channel; remove this key.' : 'Remove this key, or choose weight_format int4.');
    }
  }
}

/** OpenVINO's NPU guide: the NPU runs symmetric INT4 with every layer in 4 bits, group 128 or channel-wise. */
function checkNpu(recipe: BaseRecipe, problem: ReportProblem): void {
  if (!recipe.targets.some((target) => target.device === 'NPU')) return;
  const q = recipe.quantization;
  const hint = 'The NPU needs weight_format int4, sym: true, ratio: 1.0 and group_size 128 or -1 (OpenVINO NPU guide).';
  if (q.weight_format !== 'int4') return problem(['quantization', 'weight_format'], `an NPU target needs int4 weights, not ${q.weight_format}`, hint);
  if (q.sym !== true) problem(['quantization', 'sym'], 'an NPU target needs symmetric weights (sym: true); the NPU has no zero points', hint);
  if (q.ratio !== undefined && q.ratio < 1) problem(['quantization', 'ratio'], `an NPU target needs ratio 1.0 (every layer in 4 bits), not ${q.ratio}`, hint);
  if (q.group_size !== undefined && q.group_size !== 128 && q.group_size !== -1) problem(['quantization', 'group_size'], `an NPU target needs group_size 128 or -1, not ${q.group_size}`, hint);
}

/** The widths every linear layer's input has: a group must divide each of them. */
export function checkGroupSize(groupSize: number | undefined, keyPath: string[], shape: ModelShape, problem: ReportProblem, hintFor: (divisors: number[]) => string): void {
  if (groupSize === undefined || groupSize === -1) return;
  for (const dimension of ['hidden_size', 'intermediate_size'] as const) {
    const width = shape[dimension];
    // Only a real width can be divided: a size that is not a positive whole number is config.json's
    // fault, and the model step refuses it as such (model-layout.ts) before this check runs.
    if (!(typeof width === 'number' && Number.isSafeInteger(width) && width > 0)) continue;
    if (width % groupSize !== 0) {
      const divisors = [16, 32, 64, 128, 256].filter((candidate) => width % candidate === 0);
      problem(keyPath, `${keyPath.at(-1)} ${groupSize} does not divide the model's ${dimension} (${width})`, hintFor(divisors));
    }
  }
}

const GiB = 2 ** 30;

/**
 * A derivation keeps NNCF's compiled buffers (derive_variant.py), which only the mixed-precision
 * ranking (INT4 with ratio below 1) makes large: about four float32 copies of one decoder layer's
 * linear weights, measured 1.7 GiB on Phi-3-mini's layout.
 */
function mixedPrecisionBuffers(quantization: Quantization, model: ModelSize): number {
  const mixed = quantization.weight_format === 'int4' && (quantization.ratio ?? 1) < 1;
  return mixed ? (model.body / model.layers) * 4 * 4 : 0;
}

/** A compiled blob with its weights holds them again, in the layout the NPU (here NPUW) runs: 1.96 times the IR at full size. */
function npuBlobBytes(recipe: OpenVinoRecipe, ir: number): number {
  return recipe.npu.weights_in_blob ? ir * 1.96 : ir * 0.05;
}

/**
 * The IR's weight bytes. NNCF keeps the embedding and the output projection in the backup precision
 * (INT8 unless the recipe says otherwise) and compresses `ratio` of the decoder's linear layers to
 * 4 bits, each group of weights with an f16 scale; the rest go to the backup precision.
 */
function irBytes(quantization: Quantization, model: ModelSize): number {
  const { embedding, lmHead, body, parameters } = model;
  const other = parameters - embedding - lmHead - body;
  switch (quantization.weight_format) {
    case 'fp32':
      return parameters * 4;
    case 'fp16':
      return parameters * 2;
    case 'int8':
      return (embedding + lmHead + body) * 1 + other * 2;
    case 'int4': {
      const backup = quantization.backup_precision === 'none' ? 2 : 1;
      const group = quantization.group_size && quantization.group_size > 0 ? quantization.group_size : model.hidden;
      const fourBit = 0.5 + 2 / group;
      const ratio = quantization.ratio ?? 1;
      return (embedding + lmHead) * backup + body * (ratio * fourBit + (1 - ratio) * backup) + other * 2;
    }
  }
}

const DEVICE_CLASS: Array<[RegExp, DeviceClass]> = [
  [/^CPU$/, 'cpu'],
  [/^GPU/, 'gpu'],
  [/^NPU$/, 'npu'],
];

export const openVino: Backend = {
  name: 'openvino',
  runtime: 'OpenVINO GenAI',
  library: 'openvino',
  sections: { npu: NpuSchema.prefault({}).meta({ description: 'How the NPU blob is compiled (pipeline openvino-npu).' }) },
  devicesHint: 'OpenVINO: CPU, GPU, GPU.0, NPU or AUTO.',
  acceptsDevice: (device) => DEVICE.test(device),
  // AUTO picks a device at run time; a CPU runner can always run it.
  deviceClass: (device) => DEVICE_CLASS.find(([pattern]) => pattern.test(device))?.[1] ?? 'cpu',
  checkRecipe(recipe, problem) {
    checkQuantization(recipe, problem);
    checkNpu(recipe, problem);
    // A compiled NPU model takes prompts up to its MAX_PROMPT_LEN and no longer.
    const { npu } = recipe as OpenVinoRecipe;
    if (recipe.targets.some((target) => target.device === 'NPU')) {
      (recipe.validate.prompt_tokens ?? []).forEach((length, index) => {
        if (length > npu.max_prompt_len) problem(['validate', 'prompt_tokens', index], `a ${length}-token prompt is longer than the NPU model's max_prompt_len (${npu.max_prompt_len})`, `Raise npu.max_prompt_len to at least ${length}, or sweep shorter prompts.`);
      });
    }
  },
  checkAgainstModel(recipe, shape, problem) {
    checkGroupSize(recipe.quantization.group_size, ['quantization', 'group_size'], shape, problem, (divisors) => `Use -1 (channel-wise)${divisors.length ? ` or one of ${divisors.join(', ')}` : ''}.`);
  },
  runtimeToolchains: () => ['openvino-runtime'],
  runnerScript: { toolchain: 'openvino-runtime', file: 'run_genai.py' },
  runnerTarget(recipe, target, options) {
    const { npu } = recipe as OpenVinoRecipe;
    return {
      device: target.device,
      properties: openVinoProperties(target),
      ...(target.device === 'NPU' ? { npu: { ...npu, weightless: !npu.weights_in_blob, emulate: options.emulateNpu } } : {}),
    };
  },
  emulates: (device, { emulateNpu, present }) => device === 'NPU' && emulateNpu && !present.includes('NPU'),
  async readWeights(dir) {
    const xml = path.join(dir, 'openvino_model.xml');
    if (!existsSync(xml)) return undefined;
    const statistics = await readIrWeightStatistics(xml);
    return weightPrecision({
      fourBit: statistics.fourBitParameters,
      eightBit: statistics.eightBitParameters,
      other: statistics.floatParameters,
      ratioAchieved: statistics.fourBitParameters > 0 ? statistics.achievedRatio : undefined,
    });
  },
  // Constants fitted to bench/real-size.mjs on Phi-3-mini's full layout (3.82B parameters, bf16):
  // direct INT4 export 10.4 GiB (ratio 0.6) and 12.0 GiB (ratio 1.0), direct FP16 export 23.8 GiB,
  // CPU runner 5.4 GiB (INT4) and 14.2 GiB (FP16), emulated NPU runner 20.3 GiB, emulated NPU compile
  // 22.1 GiB with a 4.05 GB blob beside a 2.07 GB IR. The shared path, same model: conversion 8.1 GiB,
  // derivations 14.4 GiB (FP16) and 11.7 GiB (INT4 ratio 0.6, NNCF's buffers kept) in the bench's
  // process tree, 9.0 GiB (INT4 channel-wise) for the script alone.
  estimateStep(kind, recipe, model) {
    const checkpoint = model.parameters * model.checkpointBytesPerWeight;
    const ir = irBytes(recipe.quantization, model);
    // optimum-cli holds part of the torch model while the IR is built and serialized; the IR's
    // weights are held about three times over (traced constants, compressed copy, serializer).
    const conversion = (irWeights: number) => checkpoint * 0.31 + irWeights * 2.97 + 0.5 * GiB;
    // An INT4 export peaks while NNCF compresses the traced weights, not while it holds the result:
    // a smaller IR (ratio 1.0) peaked higher than a larger one (ratio 0.6), so the ratio is left out.
    const int4Conversion = checkpoint * 0.31 + model.parameters * 2.4 + 0.5 * GiB;
    const uncompressed = model.parameters * 2;
    switch (kind) {
      // `export` is what planning decided (the base step resolves it).
      case 'optimum-export-openvino':
        if (recipe.export !== 'shared') return { memoryBytes: recipe.quantization.weight_format === 'int4' ? int4Conversion : conversion(ir), diskBytes: ir };
        // Derived from the shared base: the uncompressed IR is mapped in whole and the variant's
        // weights are built beside it. Data-aware, it also compiles the uncompressed IR to run it on
        // the samples (torch and optimum-intel loaded besides): not measured at full size.
        if (isDataAware(recipe.quantization)) return { memoryBytes: uncompressed * 2.5 + ir + 1 * GiB, diskBytes: ir };
        return { memoryBytes: uncompressed + ir + 0.5 * GiB + mixedPrecisionBuffers(recipe.quantization, model), diskBytes: ir };
      case 'openvino-calibration-statistics':
        // The uncompressed IR compiled and run on each sample; the statistics hold a vector per sample
        // for each of a layer's four distinct MatMul inputs (at most 128 samples are kept).
        return isDataAware(recipe.quantization) ? { memoryBytes: uncompressed * 2 + 1 * GiB, diskBytes: model.layers * 4 * 128 * model.hidden * 4 } : { memoryBytes: 0, diskBytes: 0 };
      case 'openvino-base-export':
        // Traced in the checkpoint's dtype and saved uncompressed, the IR's constants share the torch
        // tensors' memory: little more than the checkpoint is held.
        return recipe.export !== 'shared' ? { memoryBytes: 0, diskBytes: 0 } : { memoryBytes: checkpoint + 1 * GiB, diskBytes: uncompressed };
      case 'compile-npu-blob':
        // Measured through NPUW on the CPU (the emulated compile unpacks the weights, as its runner
        // does); a real NPU's compile was not measured, and this is the figure phiforge can vouch for.
        return { memoryBytes: model.parameters * 6.2, diskBytes: npuBlobBytes(recipe as OpenVinoRecipe, ir) };
      default:
        return undefined;
    }
  },
  artifactBytes(recipe, model) {
    const ir = irBytes(recipe.quantization, model);
    const npu = recipe.pipeline.includes('npu') || recipe.targets.some((target) => target.device === 'NPU');
    return ir + (npu ? npuBlobBytes(recipe as OpenVinoRecipe, ir) : 0);
  },
  runnerMemoryBytes(recipe, model) {
    // The CPU plugin repacks the weights for its kernels: about twice the IR.
    const cpu = irBytes(recipe.quantization, model) * 1.95 + 0.3 * GiB;
    // NPUW emulating an NPU on the CPU unpacks the weights (5.7 bytes a parameter at full size). A real
    // NPU host's memory was not measured; this is the figure phiforge can vouch for.
    const npu = recipe.targets.some((target) => target.device === 'NPU') ? model.parameters * 5.7 : 0;
    return Math.max(cpu, npu);
  },
};
