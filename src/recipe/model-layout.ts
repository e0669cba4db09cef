import { ModelFileProblem } from './model-problem.js';

// The one model layout phiforge's pipelines build: transformers' Phi3ForCausalLM (model_type phi3),
// which Phi-3-mini/medium (4k and 128k), Phi-3.5-mini, Phi-4 and Phi-4-mini all use; every synthetic
// preset is written in it (make_synthetic.py, make_smollm2_phi3.py). A config.json of another
// architecture, or weights laid out for another, converts with exit 0: the converter fills what it
// cannot find with random values, and the artifact answers gibberish. So both are checked before
// anything runs, against what transformers' modeling_phi3.py builds from the config.

/** Phi3Config's defaults: a config.json that leaves a size out gets these from transformers, so the checks assume them too. */
const PHI3_DEFAULTS = { vocab_size: 32064, hidden_size: 3072, intermediate_size: 8192, num_hidden_layers: 32, num_attention_heads: 32 };

/** Other Phi models, by model_type: named in the refusal so that a user knows why "Phi" is not enough. */
const OTHER_PHI_LAYOUTS: Record<string, string> = {
  phi: 'Phi-1, Phi-1.5 and Phi-2 (PhiForCausalLM)',
  phi3small: 'Phi-3-small (Phi3SmallForCausalLM)',
  phimoe: 'Phi-3.5-MoE (PhiMoEForCausalLM)',
  phi3_v: 'Phi-3-vision (Phi3VForCausalLM)',
  phi4mm: 'Phi-4-multimodal (Phi4MMForCausalLM)',
  phi4flash: 'Phi-4-mini-flash (Phi4FlashForCausalLM)',
};

const SUPPORTED = 'model_type "phi3", architectures ["Phi3ForCausalLM"]: Phi-3-mini, Phi-3-medium, Phi-3.5-mini, Phi-4 and Phi-4-mini';

/** The sizes the Phi-3 layout's tensors are made of, as transformers reads them from config.json. */
export interface Phi3Layout {
  vocab: number;
  hidden: number;
  intermediate: number;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  /** lm_head is the embedding (tie_word_embeddings): the checkpoint need not store it. */
  tied: boolean;
}

const positiveInteger = (value: unknown): value is number => typeof value === 'number' && Number.isSafeInteger(value) && value > 0;

/**
 * The Phi-3 layout `config` describes, or a ModelFileProblem naming `file` (the config.json) and what
 * in it phiforge cannot build: another architecture, a pre-quantized checkpoint, a size that is not a
 * positive whole number, sizes that do not fit together, RoPE settings transformers would refuse.
 */
export function phi3Layout(config: Record<string, unknown>, file: string): Phi3Layout {
  const refuse = (what: string, hint: string) => new ModelFileProblem(file, `${file}: ${what}`, hint);
  const sameConfigHint = 'Use the config.json that came with these weights; an edited or hand-written one describes another model.';

  const type = config.model_type;
  if (type !== 'phi3') {
    const other = typeof type === 'string' ? OTHER_PHI_LAYOUTS[type] : undefined;
    throw refuse(
      type === undefined ? 'model_type is missing' : `model_type is ${JSON.stringify(type)}; phiforge builds the Phi-3 layout (${SUPPORTED})`,
      other
        ? `${other} has another layout, which phiforge's pipelines do not build; use a Phi-3 family checkpoint.`
        : 'Point at a Phi-3 family checkpoint. The converters would read a model of another architecture with its weights misplaced, filling what they cannot find with random values.',
    );
  }
  const architectures = config.architectures;
  if (architectures !== undefined && architectures !== null && !(Array.isArray(architectures) && architectures.length === 1 && architectures[0] === 'Phi3ForCausalLM')) {
    throw refuse(
      `architectures is ${JSON.stringify(architectures)} with model_type "phi3"; the Phi-3 layout is ["Phi3ForCausalLM"]`,
      "The ONNX Runtime GenAI builder picks the model by architectures and optimum by model_type: with the two disagreeing, one of them builds another model from these weights. Use the checkpoint's own config.json.",
    );
  }
  const quantization = config.quantization_config as { quant_method?: unknown } | null | undefined;
  if (quantization !== undefined && quantization !== null) {
    throw refuse(
      `it has a quantization_config${typeof quantization.quant_method === 'string' ? ` (${quantization.quant_method})` : ''}: these weights are quantized already`,
      'phiforge quantizes from the floating-point checkpoint (F32, F16 or BF16 weights); start from the unquantized model.',
    );
  }

  const size = (key: keyof typeof PHI3_DEFAULTS | 'num_key_value_heads' | 'head_dim' | 'max_position_embeddings' | 'original_max_position_embeddings'): number | undefined => {
    const value = config[key];
    if (value === undefined || value === null) return undefined;
    if (!positiveInteger(value)) throw refuse(`${key} is ${JSON.stringify(value)}; it must be a positive whole number`, sameConfigHint);
    return value;
  };
  for (const key of ['max_position_embeddings', 'original_max_position_embeddings'] as const) size(key);
  const vocab = size('vocab_size') ?? PHI3_DEFAULTS.vocab_size;
  const hidden = size('hidden_size') ?? PHI3_DEFAULTS.hidden_size;
  const intermediate = size('intermediate_size') ?? PHI3_DEFAULTS.intermediate_size;
  const layers = size('num_hidden_layers') ?? PHI3_DEFAULTS.num_hidden_layers;
  const heads = size('num_attention_heads') ?? PHI3_DEFAULTS.num_attention_heads;
  const kvHeads = size('num_key_value_heads') ?? heads;
  const explicitHeadDim = size('head_dim');
  if (heads % kvHeads !== 0) throw refuse(`num_attention_heads (${heads}) is not a multiple of num_key_value_heads (${kvHeads})`, sameConfigHint);
  // modeling_phi3.py takes head_dim from the config when it has one, else hidden_size // heads.
  if (explicitHeadDim === undefined && hidden % heads !== 0) throw refuse(`hidden_size (${hidden}) is not divisible by num_attention_heads (${heads})`, sameConfigHint);
  const headDim = explicitHeadDim ?? hidden / heads;

  const tied = config.tie_word_embeddings;
  if (tied !== undefined && typeof tied !== 'boolean') throw refuse(`tie_word_embeddings is ${JSON.stringify(tied)}; it must be true or false`, sameConfigHint);
  checkRope(config, Math.floor(hidden / heads), refuse, sameConfigHint);
  return { vocab, hidden, intermediate, layers, heads, kvHeads, headDim, tied: tied === true };
}

/** RoPE as Phi3Config.validate_rope checks it: plain, or LongRoPE with one factor per rotary frequency pair. */
function checkRope(config: Record<string, unknown>, headDim: number, refuse: (what: string, hint: string) => ModelFileProblem, hint: string): void {
  const key = config.rope_scaling !== undefined && config.rope_scaling !== null ? 'rope_scaling' : 'rope_parameters';
  const rope = config[key];
  const fraction = (value: unknown, where: string) => {
    if (value === undefined) return 1;
    if (typeof value !== 'number' || !(value > 0 && value <= 1)) throw refuse(`${where} is ${JSON.stringify(value)}; it must be a fraction in (0, 1]`, hint);
    return value;
  };
  let partial = fraction(config.partial_rotary_factor, 'partial_rotary_factor');
  if (rope === undefined || rope === null) return;
  if (typeof rope !== 'object' || Array.isArray(rope)) throw refuse(`${key} is ${JSON.stringify(rope)}; it must be a mapping or null`, hint);
  const settings = rope as Record<string, unknown>;
  if (settings.partial_rotary_factor !== undefined) partial = fraction(settings.partial_rotary_factor, `${key}.partial_rotary_factor`);
  const type = settings.rope_type ?? settings.type ?? 'default';
  // transformers reads the older names "su" and "yarn" as LongRoPE.
  if (typeof type !== 'string' || !['default', 'longrope', 'su', 'yarn'].includes(type)) throw refuse(`${key} has type ${JSON.stringify(type)}; Phi-3 takes plain RoPE or longrope`, hint);
  if (type === 'default') return;
  const pairs = Math.floor(Math.floor(headDim * partial) / 2);
  for (const factor of ['short_factor', 'long_factor']) {
    const values = settings[factor];
    if (!Array.isArray(values) || !values.every((value) => typeof value === 'number' && Number.isFinite(value))) throw refuse(`${key}.${factor} is missing or not a list of numbers; LongRoPE needs one factor per rotary frequency pair`, hint);
    if (values.length !== pairs) throw refuse(`${key}.${factor} has ${values.length} factors; this layout's heads rotate ${pairs} frequency pairs (head size ${headDim} x partial_rotary_factor ${partial} / 2)`, hint);
  }
}

/** A tensor as the checkpoint stores it, and where. */
export interface StoredTensor {
  dtype: string;
  shape: number[];
  /** The file that holds it (a shard of a sharded checkpoint). */
  file: string;
}

/** Every tensor Phi3ForCausalLM loads, with its shape: modeling_phi3.py's modules, named as save_pretrained writes them. */
export function phi3Tensors(layout: Phi3Layout): Array<{ name: string; shape: number[]; optional?: boolean }> {
  const { vocab, hidden, intermediate, layers, heads, kvHeads, headDim } = layout;
  const tensors: Array<{ name: string; shape: number[]; optional?: boolean }> = [{ name: 'model.embed_tokens.weight', shape: [vocab, hidden] }];
  for (let index = 0; index < layers; index++) {
    const prefix = `model.layers.${index}`;
    tensors.push(
      { name: `${prefix}.self_attn.qkv_proj.weight`, shape: [(heads + 2 * kvHeads) * headDim, hidden] },
      { name: `${prefix}.self_attn.o_proj.weight`, shape: [hidden, heads * headDim] },
      { name: `${prefix}.mlp.gate_up_proj.weight`, shape: [2 * intermediate, hidden] },
      { name: `${prefix}.mlp.down_proj.weight`, shape: [hidden, intermediate] },
      { name: `${prefix}.input_layernorm.weight`, shape: [hidden] },
      { name: `${prefix}.post_attention_layernorm.weight`, shape: [hidden] },
    );
  }
  tensors.push({ name: 'model.norm.weight', shape: [hidden] }, { name: 'lm_head.weight', shape: [vocab, hidden], optional: layout.tied });
  return tensors;
}

/** Weights the converters load as weights; integer or 8-bit tensors are a quantized checkpoint's. */
const WEIGHT_DTYPES = ['F32', 'F16', 'BF16'];

/** Buffers older checkpoints saved that transformers drops on load (its own ignore rule). */
const IGNORED = /rotary_emb\.inv_freq$/;

/**
 * Compares the checkpoint's tensors with the ones the Phi-3 layout of config.json needs: every one
 * present, in its shape and a floating-point dtype, and nothing else. `checkpoint` names the
 * checkpoint in messages (model.safetensors, or the shard index).
 */
export function checkPhi3Tensors(layout: Phi3Layout, tensors: Map<string, StoredTensor>, checkpoint: string, configFile: string): void {
  const expected = phi3Tensors(layout);
  const names = new Set(expected.map((tensor) => tensor.name));
  const describeLayout = `config.json's Phi-3 layout (hidden_size ${layout.hidden}, ${layout.layers} layer${layout.layers === 1 ? '' : 's'}, ${layout.heads} heads, ${layout.kvHeads} KV heads, intermediate_size ${layout.intermediate}, vocab_size ${layout.vocab})`;
  const mismatchHint = `${configFile} and the weights describe different models: use the config.json that came with these weights.`;

  const unexpected = [...tensors.keys()].filter((name) => !names.has(name) && !IGNORED.test(name));
  const missing = expected.filter((tensor) => !tensor.optional && !tensors.has(tensor.name)).map((tensor) => tensor.name);
  if (missing.length > 0 || unexpected.length > 0) {
    const parts = [
      ...(missing.length ? [`lacks ${missing.length} tensor${missing.length === 1 ? '' : 's'} ${describeLayout} needs: ${summarizeNames(missing)}`] : []),
      ...(unexpected.length ? [`holds ${unexpected.length} tensor${unexpected.length === 1 ? '' : 's'} no Phi-3 model has: ${summarizeNames(unexpected)}`] : []),
    ];
    const llamaStyle = unexpected.some((name) => /\.(q_proj|k_proj|v_proj|gate_proj|up_proj)\.weight$/.test(name));
    throw new ModelFileProblem(
      checkpoint,
      `${checkpoint} ${parts.join('; it ')}`,
      llamaStyle
        ? "Separate q_proj/k_proj/v_proj and gate_proj/up_proj are Llama's layout; Phi-3 fuses them into qkv_proj and gate_up_proj. These weights are not a Phi-3 checkpoint: convert them to Phi-3's layout or use a Phi-3 model."
        : `${mismatchHint} A converter would fill missing weights with random values.`,
    );
  }
  for (const { name, shape } of expected) {
    const stored = tensors.get(name);
    if (!stored) continue;
    if (stored.shape.length !== shape.length || stored.shape.some((size, axis) => size !== shape[axis])) {
      throw new ModelFileProblem(stored.file, `${stored.file}: tensor ${name} has shape [${stored.shape.join(', ')}], but ${describeLayout} needs [${shape.join(', ')}]`, mismatchHint);
    }
    if (!WEIGHT_DTYPES.includes(stored.dtype)) {
      throw new ModelFileProblem(stored.file, `${stored.file}: tensor ${name} is stored as ${stored.dtype}; phiforge converts floating-point checkpoints (${WEIGHT_DTYPES.join(', ')})`, 'Start from the unquantized model: its weights are F32, F16 or BF16.');
    }
  }
}

/**
 * Tensor names as a user can read them: each layer's tensors once, with the layer numbers folded
 * (model.layers.{0..31}.mlp.down_proj.weight), at most a few, and how many more there are.
 */
export function summarizeNames(names: string[], shown = 6): string {
  const groups = new Map<string, number[]>();
  const plain: string[] = [];
  for (const name of names) {
    const match = /^(.*?\.)(\d+)(\..*)$/.exec(name);
    if (!match) {
      plain.push(name);
      continue;
    }
    const pattern = `${match[1]}\0${match[3]}`;
    groups.set(pattern, [...(groups.get(pattern) ?? []), Number(match[2])]);
  }
  const folded = [
    ...[...groups].map(([pattern, indices]) => {
      const [before, after] = pattern.split('\0');
      const sorted = [...new Set(indices)].sort((a, b) => a - b);
      const contiguous = sorted.length > 2 && sorted.at(-1)! - sorted[0] === sorted.length - 1;
      const which = sorted.length === 1 ? String(sorted[0]) : contiguous ? `{${sorted[0]}..${sorted.at(-1)}}` : `{${sorted.join(', ')}}`;
      return `${before}${which}${after}`;
    }),
    ...plain,
  ];
  return folded.length > shown ? `${folded.slice(0, shown).join(', ')} and ${folded.length - shown} more` : folded.join(', ');
}
