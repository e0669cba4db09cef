import { z } from 'zod';

// The recipe format. `hint` metadata is shown next to a schema error at that key; `description`
// reaches editors through the generated JSON Schema (schema/recipe.schema.json).

/**
 * Models phiforge makes itself, with no model hub (toolchains/reference/scripts/): two tiny
 * random-weights Phi-3s, and SmolLM2-135M-Instruct's real weights re-laid as Phi-3.
 */
export const SYNTHETIC_PRESETS = ['phi3-mini-tiny', 'phi3-longrope-tiny', 'phi3-smollm2-135m'] as const;

/** optimum-cli's --weight-format values that phiforge knows how to check in the IR afterwards. */
export const WEIGHT_FORMATS = ['fp32', 'fp16', 'int8', 'int4'] as const;

const HUB_ID = /^[A-Za-z0-9][\w.-]*\/[\w.-]+$/;
const SLUG = /^[a-z0-9][a-z0-9._-]*$/;

const ModelSchema = z
  .strictObject({
    id: z
      .string()
      .regex(HUB_ID, 'expected a Hugging Face model id like "microsoft/Phi-3-mini-4k-instruct"')
      .optional()
      .meta({ description: 'Hugging Face model id, downloaded into the standard HF cache.' }),
    revision: z
      .string()
      .min(1)
      .optional()
      .meta({
        description: 'Commit (40 hex characters) to pin; a branch or tag is resolved and the commit recorded.',
        hint: 'Pin the 40-character commit id from the model page\'s "Files and versions" history.',
      }),
    path: z.string().min(1).optional().meta({ description: 'A local Hugging Face model folder, relative to the recipe.' }),
    synthetic: z
      .enum(SYNTHETIC_PRESETS)
      .optional()
      .meta({ description: 'A small model phiforge generates itself (no model hub needed).', hint: `One of: ${SYNTHETIC_PRESETS.join(', ')}.` }),
    trust_remote_code: z
      .boolean()
      .default(false)
      .meta({ description: 'Pass --trust-remote-code to the converters, as the guide does for Phi-3.' }),
  })
  .superRefine((model, ctx) => {
    const sources = (['id', 'path', 'synthetic'] as const).filter((key) => model[key] !== undefined);
    if (sources.length !== 1) {
      ctx.addIssue({
        code: 'custom',
        path: sources.length > 1 ? [sources[1]] : [],
        message:
          sources.length === 0
            ? 'the model needs exactly one source: id (hub), path (local folder) or synthetic (generated)'
            : `give only one model source, not ${sources.join(' and ')}`,
      });
    }
    if (model.id !== undefined && model.revision === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['id'],
        message: 'a hub model needs a pinned revision; without one the build is not reproducible',
        params: { hint: 'Add `revision: <40-hex commit>` under model.' },
      });
    }
    if (model.id === undefined && model.revision !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['revision'], message: 'revision applies only to a hub model (model.id)' });
    }
  });

const QuantizationSchema = z
  .strictObject({
    weight_format: z.enum(WEIGHT_FORMATS).meta({
      description: 'Weight precision, as optimum-cli --weight-format.',
      hint: `One of ${WEIGHT_FORMATS.join(', ')} (optimum also knows nf4, mxfp4 and cb4; phiforge cannot check those yet).`,
    }),
    group_size: z
      .number()
      .int('group_size must be a whole number')
      .refine((value) => value === -1 || value > 0, 'group_size must be -1 (per channel) or a positive integer')
      .optional()
      .meta({
        description: 'Weights per quantization group; -1 means one group per output channel.',
        hint: 'Use -1 (channel-wise) or a divisor of the hidden size such as 128.',
      }),
    ratio: z
      .number()
      .gt(0, 'ratio must be greater than 0')
      .lte(1, 'ratio must be at most 1')
      .optional()
      .meta({
        description: 'Share of the weights compressed to 4 bits; the rest use backup_precision.',
        hint: 'ratio is a fraction in (0, 1]: the guide uses 0.6 for INT4 on CPU/GPU and 1.0 for the NPU.',
      }),
    sym: z.boolean().optional().meta({
      description: 'Symmetric quantization (no zero point).',
      hint: 'true or false; the NPU needs true.',
    }),
    backup_precision: z.enum(['none', 'int8_sym', 'int8_asym']).optional().meta({
      description: 'Precision of the weights left out of 4-bit compression (optimum defaults to int8_asym).',
    }),
  });

const positive = (description: string) => z.number().positive().optional().meta({ description });

const GatesSchema = z
  .strictObject({
    ttft_ms_max: positive('Largest acceptable median time to first token, ms.'),
    tpot_ms_max: positive('Largest acceptable median time per output token, ms.'),
    tokens_per_s_min: positive('Smallest acceptable median decode throughput, tokens/s.'),
    similarity_min: z.number().min(0).max(1).optional().meta({ description: 'Smallest acceptable mean answer similarity to the source model (0..1).' }),
    match_tokens_min: z.number().min(0).optional().meta({ description: 'Smallest acceptable mean count of tokens equal to the source model before the first divergence.' }),
    peak_rss_mb_max: positive('Largest acceptable peak resident memory of the runner, MiB.'),
    perplexity_ratio_max: z.number().min(1).optional().meta({
      description: "Largest acceptable ratio of the artifact's perplexity to the source model's on validate.perplexity's text.",
      hint: 'A ratio of at least 1, e.g. 1.1 for at most 10% worse than the source model; needs validate.perplexity.',
    }),
  })
  .meta({ hint: 'Gates: ttft_ms_max, tpot_ms_max, tokens_per_s_min, similarity_min, match_tokens_min, peak_rss_mb_max, perplexity_ratio_max.' });

export type Gates = z.output<typeof GatesSchema>;

const OPENVINO_DEVICE = /^(CPU|GPU(\.\d+)?|NPU|AUTO(:[A-Z0-9.,]+)?)$/;
/** ONNX Runtime execution providers a recipe can target. */
export const ORT_PROVIDERS = ['cpu', 'cuda', 'dml'] as const;

const TargetSchema = z.strictObject({
  device: z
    .string()
    .refine((device) => OPENVINO_DEVICE.test(device) || (ORT_PROVIDERS as readonly string[]).includes(device), 'expected an OpenVINO device (CPU, GPU, GPU.<n>, NPU, AUTO) or an ONNX Runtime provider (cpu, cuda, dml)')
    .meta({
      description: 'Device the artifact must run on: an OpenVINO device, or an ONNX Runtime execution provider for ort-genai recipes.',
      hint: 'OpenVINO: CPU, GPU, GPU.0, NPU or AUTO. ONNX Runtime GenAI: cpu, cuda or dml.',
    }),
  runtime: z
    .record(z.string(), z.union([z.string(), z.number(), z.boolean()]))
    .optional()
    .meta({ description: 'Runtime properties for this target; OpenVINO defaults to PERFORMANCE_HINT LATENCY, NUM_STREAMS 1.' }),
  gates: GatesSchema.optional(),
});

const MessageSchema = z.strictObject({ role: z.enum(['system', 'user', 'assistant']), content: z.string() });

const ExpectSchema = z.strictObject({
  not_empty: z.boolean().optional().meta({ description: 'The answer has at least one visible character.' }),
  contains: z.union([z.string(), z.array(z.string())]).optional().meta({ description: 'Text(s) the answer must contain (case-insensitive).' }),
  regex: z
    .string()
    .refine((pattern) => {
      try {
        new RegExp(pattern);
        return true;
      } catch {
        return false;
      }
    }, 'regex is not a valid regular expression')
    .optional()
    .meta({ description: 'A JavaScript regular expression the answer must match.', hint: 'Escape backslashes inside double-quoted YAML strings, or use single quotes.' }),
  min_new_tokens: z.number().int().positive().optional().meta({ description: 'The answer has at least this many tokens.' }),
});

/** The guide's own prompt (SEED.md §1). */
const DEFAULT_PROMPT = { messages: [{ role: 'user' as const, content: 'Can you introduce yourself?' }], expect: { not_empty: true } };

const ValidateSchema = z.strictObject({
  max_new_tokens: z.number().int().min(1).max(4096).default(32),
  repetitions: z.number().int().min(1).max(100).default(3).meta({ description: 'Measured generations per prompt after the warm-up.' }),
  warmup: z.number().int().min(0).max(10).default(1),
  prompts: z
    .array(
      z.strictObject({
        id: z.string().regex(SLUG).optional().meta({ description: 'Name in reports; defaults to p1, p2, ...' }),
        messages: z.array(MessageSchema).min(1),
        expect: ExpectSchema.optional(),
      }),
    )
    .min(1)
    .default([DEFAULT_PROMPT]),
  reference: z
    .strictObject({
      enabled: z.boolean().default(true).meta({ description: "Compare answers with the source model's own greedy answers." }),
      embedding_model: z.string().optional().meta({ description: 'Local sentence-transformers folder for similarity; default all-MiniLM-L6-v2 as packaged on PyPI.' }),
    })
    .prefault({}),
  perplexity: z
    .union([
      z.boolean(),
      z.strictObject({
        text: z
          .string()
          .refine((text) => text.trim().split(/\s+/).length >= 2, {
            message: 'the perplexity text needs at least two words',
            params: { hint: 'A few sentences of plain prose; a short text gives a noisy ratio.' },
          })
          .meta({ description: 'The text to score; at least a few sentences.' }),
      }),
    ])
    .default(false)
    .meta({
      description: "Also score a text's perplexity with the source model and with each artifact (true: a built-in English paragraph). Off by default: it runs the model once more.",
      hint: 'true, false, or { text: "..." }.',
    }),
});

/** An original English paragraph: plain prose, so a model that still works scores it well. */
export const BUILT_IN_PERPLEXITY_TEXT =
  'The river rises in the hills to the north, where snow lingers until late spring. For most of the year it is ' +
  'shallow enough to cross on foot, but after the thaw it fills its banks and carries branches, stones and ' +
  'sometimes whole trees down to the valley. The town grew up where the water slows and widens. Its first ' +
  'houses were built of timber from the forest on the eastern slope, and its first bridge was little more than ' +
  'a row of planks laid across flat rocks. Today the bridge is made of stone, the mill has become a museum, and ' +
  'children spend summer afternoons watching the fish that rest in the shade beneath the arches.';

/** The text to score for perplexity, or undefined when the recipe does not ask for it. */
export function perplexityText(settings: ValidateSettings): string | undefined {
  if (settings.perplexity === false) return undefined;
  return settings.perplexity === true ? BUILT_IN_PERPLEXITY_TEXT : settings.perplexity.text;
}

export type ValidateSettings = z.output<typeof ValidateSchema>;

const OrtSchema = z.strictObject({
  execution_provider: z.enum(['cpu', 'cuda', 'dml', 'webgpu']).default('cpu').meta({ description: 'The model builder\'s -e: which execution provider the model is built for.' }),
  block_size: z
    .number()
    .int()
    .refine((value) => [16, 32, 64, 128, 256].includes(value), 'block_size must be 16, 32, 64, 128 or 256')
    .default(32)
    .meta({ description: 'INT4 block (group) size; it must divide the model\'s hidden sizes.', hint: 'One of 16, 32, 64, 128, 256 that divides the hidden size.' }),
  accuracy_level: z.number().int().min(0).max(4).optional().meta({ description: 'MatMulNBits accuracy level (0-4); the builder defaults to 4 on cpu, 0 elsewhere.' }),
  algo_config: z.enum(['default', 'rtn', 'k_quant', 'rtn_last', 'k_quant_last', 'k_quant_mixed', 'k_quant_linear']).optional(),
  exclude_embeds: z.boolean().optional(),
  exclude_lm_head: z.boolean().optional(),
});

export type OrtSettings = z.output<typeof OrtSchema>;

const NpuSchema = z.strictObject({
  max_prompt_len: z.number().int().positive().default(1024).meta({ description: 'Longest prompt the compiled NPU model accepts (MAX_PROMPT_LEN).' }),
  min_response_len: z.number().int().positive().default(128).meta({ description: 'Tokens always left for the answer (MIN_RESPONSE_LEN).' }),
  weights_in_blob: z
    .boolean()
    .default(true)
    .meta({ description: 'Put the weights into the compiled blob (CACHE_MODE OPTIMIZE_SPEED); false ships a weightless blob loaded with WEIGHTS_PATH.' }),
});

export const RecipeSchema = z
  .strictObject({
    name: z.string().regex(SLUG, 'name must be lower-case letters, digits, ".", "_" or "-"').meta({
      description: 'Artifact name: the build writes dist/<name>/.',
      hint: 'For example phi3-mini-4k-int4-ov.',
    }),
    description: z.string().optional(),
    extends: z.string().optional().meta({
      description: 'A base recipe (path relative to this file) whose settings this one starts from: mappings merge key by key, this file winning; lists and other values are replaced whole.',
    }),
    model: ModelSchema,
    pipeline: z.string().regex(SLUG).meta({ description: 'Pipeline definition to use: pipelines/<pipeline>.yaml.', hint: 'For example openvino.' }),
    quantization: QuantizationSchema,
    export: z.enum(['shared', 'direct']).default('shared').meta({
      description: 'OpenVINO: shared converts the PyTorch model once per model and derives every variant from that IR with NNCF (the same bytes as optimum-cli); direct runs optimum-cli export openvino for this recipe alone.',
    }),
    targets: z.array(TargetSchema).min(1).default([{ device: 'CPU' }]),
    validate: ValidateSchema.prefault({}),
    npu: NpuSchema.prefault({}).meta({ description: 'How the NPU blob is compiled (pipeline openvino-npu).' }),
    ort: OrtSchema.prefault({}).meta({ description: 'How the ONNX Runtime GenAI model builder runs (pipeline ort-genai).' }),
  })
  .superRefine(checkQuantizationForBackend)
  .superRefine((recipe, ctx) => {
    // OpenVINO's NPU guide: the NPU runs symmetric INT4 with every layer in 4 bits, group 128 or channel-wise.
    if (!recipe.targets.some((target) => target.device === 'NPU')) return;
    const { quantization: q } = recipe;
    const hint = 'The NPU needs weight_format int4, sym: true, ratio: 1.0 and group_size 128 or -1 (OpenVINO NPU guide).';
    const refuse = (key: string, message: string) => ctx.addIssue({ code: 'custom', path: ['quantization', key], message, params: { hint } });
    if (q.weight_format !== 'int4') refuse('weight_format', `an NPU target needs int4 weights, not ${q.weight_format}`);
    else {
      if (q.sym !== true) refuse('sym', 'an NPU target needs symmetric weights (sym: true); the NPU has no zero points');
      if (q.ratio !== undefined && q.ratio < 1) refuse('ratio', `an NPU target needs ratio 1.0 (every layer in 4 bits), not ${q.ratio}`);
      if (q.group_size !== undefined && q.group_size !== 128 && q.group_size !== -1) refuse('group_size', `an NPU target needs group_size 128 or -1, not ${q.group_size}`);
    }
  })
  .meta({ title: 'phiforge recipe', description: 'What phiforge builds: model, pipeline, quantization, targets.' });

export type Recipe = z.output<typeof RecipeSchema>;

/** The precision / execution provider pairs the ONNX Runtime GenAI model builder supports. */
export const ORT_PRECISIONS: Record<string, readonly string[]> = { int4: ['cpu', 'cuda', 'dml', 'webgpu'], int8: ['cpu', 'cuda', 'webgpu'], fp16: ['cuda', 'dml'], fp32: ['cpu', 'cuda'] };

type RecipeShape = { pipeline: string; quantization: z.output<typeof QuantizationSchema>; targets: Array<{ device: string }>; ort: OrtSettings };

/** Which keys mean something depends on the backend the pipeline uses. */
function checkQuantizationForBackend(recipe: RecipeShape, ctx: z.RefinementCtx): void {
  const q = recipe.quantization;
  const issue = (path: (string | number)[], message: string, hint?: string) => ctx.addIssue({ code: 'custom', path, message, params: hint ? { hint } : undefined });
  const ort = recipe.pipeline.startsWith('ort-genai');
  recipe.targets.forEach((target, index) => {
    const providerTarget = (ORT_PROVIDERS as readonly string[]).includes(target.device);
    if (ort !== providerTarget) {
      issue(['targets', index, 'device'], ort ? `${target.device} is an OpenVINO device; an ort-genai recipe targets execution providers` : `${target.device} is an ONNX Runtime provider; an OpenVINO recipe targets OpenVINO devices`, ort ? 'Use cpu, cuda or dml.' : 'Use CPU, GPU, GPU.0, NPU or AUTO.');
    }
  });
  if (ort) {
    for (const key of ['group_size', 'ratio', 'backup_precision'] as const) {
      if (q[key] !== undefined) issue(['quantization', key], `${key} is an OpenVINO (NNCF) setting; the ONNX Runtime GenAI builder does not take it`, key === 'group_size' ? 'Set ort.block_size instead.' : 'Remove it: the builder quantizes every MatMul it can.');
    }
    const allowed = ORT_PRECISIONS[q.weight_format] ?? [];
    if (!allowed.includes(recipe.ort.execution_provider)) {
      issue(
        ['quantization', 'weight_format'],
        `the model builder cannot make ${q.weight_format} for the ${recipe.ort.execution_provider} execution provider`,
        `${q.weight_format} is built for: ${allowed.join(', ') || 'no provider'}. Supported pairs: ${Object.entries(ORT_PRECISIONS).map(([precision, providers]) => `${precision} (${providers.join(', ')})`).join('; ')}.`,
      );
    }
    return;
  }
  if (q.weight_format === 'int4') {
    for (const key of ['group_size', 'ratio', 'sym'] as const) {
      if (q[key] === undefined) {
        issue(['quantization', key], `int4 needs an explicit ${key}`, 'phiforge passes every compression option explicitly: a bare --weight-format int4 on Phi-3 switches to a data-aware asymmetric group-64 default that downloads a dataset. The guide uses group_size: 128, ratio: 0.6, sym: true.');
      }
    }
    return;
  }
  const onlyFor4Bit = q.weight_format === 'int8' ? (['group_size', 'ratio', 'backup_precision'] as const) : (['group_size', 'ratio', 'sym', 'backup_precision'] as const);
  for (const key of onlyFor4Bit) {
    if (q[key] !== undefined) issue(['quantization', key], `${key} does not apply to weight_format ${q.weight_format}`, q.weight_format === 'int8' ? 'INT8 weight compression is per channel; remove this key.' : 'Remove this key, or choose weight_format int4.');
  }
}
export type Quantization = Recipe['quantization'];
export type ModelSpec = Recipe['model'];
export type Target = Recipe['targets'][number];

/** Stable ids for prompts in reports: the recipe's, or p1, p2, ... by position. */
export function promptsWithIds(settings: ValidateSettings) {
  return settings.prompts.map((prompt, index) => ({ ...prompt, id: prompt.id ?? `p${index + 1}` }));
}

export function recipeJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(RecipeSchema, { io: 'input', target: 'draft-2020-12' }) as Record<string, unknown>;
}
