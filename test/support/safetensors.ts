// Tiny model folders for tests, written in TypeScript: a safetensors file whose header says anything a
// test wants (true or lying), and a Phi-3 checkpoint small enough for the unit lane (about 250 KB).
// Files come back as strings of ASCII characters only (the header is padded with spaces, which
// safetensors allows, until every byte of its length is below 0x80; the tensor data are zeros), so
// they survive the utf8 writes of test/support/cli.ts's workspace() byte for byte.

export interface RawTensor {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

const BYTES: Record<string, number> = { BF16: 2, F16: 2, F32: 4, I8: 1, U8: 1, F64: 8, I64: 8 };

/** A safetensors file with exactly this header (any JSON value) and `dataBytes` zero bytes after it. */
export function rawSafetensors(header: unknown, dataBytes: number): string {
  let json = JSON.stringify(header);
  while (Buffer.byteLength(json) & 0x8080) json += ' ';
  const length = Buffer.byteLength(json);
  if (length >= 0x10000) throw new Error('test header too large for an ASCII-safe length');
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(length));
  return prefix.toString('latin1') + json + '\0'.repeat(dataBytes);
}

/** A well-formed safetensors file: the tensors packed in order, their offsets computed. */
export function safetensors(tensors: Array<{ name: string; shape: number[]; dtype?: string }>): string {
  const header: Record<string, RawTensor> = {};
  let offset = 0;
  for (const { name, shape, dtype = 'BF16' } of tensors) {
    const size = shape.reduce((product, dimension) => product * dimension, 1) * BYTES[dtype];
    header[name] = { dtype, shape, data_offsets: [offset, offset + size] };
    offset += size;
  }
  return rawSafetensors({ __metadata__: { format: 'pt' }, ...header }, offset);
}

/** The layout of the tiny test Phi-3: every width a multiple of 128, so the recipes' group 128 divides it. */
/** Phi-3-mini-4k-instruct's config.json, as a local folder of the real model holds it. */
export const PHI3_MINI_CONFIG = {
  architectures: ['Phi3ForCausalLM'],
  model_type: 'phi3',
  vocab_size: 32064,
  hidden_size: 3072,
  intermediate_size: 8192,
  num_hidden_layers: 32,
  num_attention_heads: 32,
  num_key_value_heads: 32,
  max_position_embeddings: 4096,
  original_max_position_embeddings: 4096,
  rope_scaling: null,
  tie_word_embeddings: false,
  torch_dtype: 'bfloat16',
};

export const TINY_PHI3_CONFIG = {
  architectures: ['Phi3ForCausalLM'],
  model_type: 'phi3',
  hidden_size: 128,
  intermediate_size: 128,
  num_hidden_layers: 1,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  vocab_size: 128,
  max_position_embeddings: 4096,
  original_max_position_embeddings: 4096,
  rope_scaling: null,
  tie_word_embeddings: false,
  torch_dtype: 'bfloat16',
};

/** The tensors Phi3ForCausalLM loads for TINY_PHI3_CONFIG, named and shaped as save_pretrained writes them. */
export function tinyPhi3Tensors(): Array<{ name: string; shape: number[]; dtype?: string }> {
  const { hidden_size: hidden, intermediate_size: intermediate, num_attention_heads: heads, num_key_value_heads: kv, vocab_size: vocab } = TINY_PHI3_CONFIG;
  const head = hidden / heads;
  return [
    { name: 'lm_head.weight', shape: [vocab, hidden] },
    { name: 'model.embed_tokens.weight', shape: [vocab, hidden] },
    { name: 'model.layers.0.input_layernorm.weight', shape: [hidden] },
    { name: 'model.layers.0.mlp.down_proj.weight', shape: [hidden, intermediate] },
    { name: 'model.layers.0.mlp.gate_up_proj.weight', shape: [2 * intermediate, hidden] },
    { name: 'model.layers.0.post_attention_layernorm.weight', shape: [hidden] },
    { name: 'model.layers.0.self_attn.o_proj.weight', shape: [hidden, hidden] },
    { name: 'model.layers.0.self_attn.qkv_proj.weight', shape: [(heads + 2 * kv) * head, hidden] },
    { name: 'model.norm.weight', shape: [hidden] },
  ];
}

/**
 * The files of a tiny Phi-3 folder under `folder`: config.json (TINY_PHI3_CONFIG with `config` merged
 * in) and model.safetensors (tinyPhi3Tensors, or what `tensors` makes of them).
 */
export function tinyPhi3Folder(
  folder: string,
  options: { config?: Record<string, unknown>; tensors?: (tensors: ReturnType<typeof tinyPhi3Tensors>) => ReturnType<typeof tinyPhi3Tensors> } = {},
): Record<string, string> {
  const tensors = (options.tensors ?? ((all) => all))(tinyPhi3Tensors());
  return { [`${folder}/config.json`]: JSON.stringify({ ...TINY_PHI3_CONFIG, ...options.config }, null, 2), [`${folder}/model.safetensors`]: safetensors(tensors) };
}
