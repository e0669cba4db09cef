import { z } from 'zod';
import { ARTIFACT_NAME_HINT, ARTIFACT_NAME_MAX, artifactNameProblem } from '../cache/ownership.js';
import { REPO_ID_PATTERN, repoIdProblem, revisionProblem } from '../hub/names.js';
import { PRESET_NAMES, PRESETS } from './model-files.js';

// The recipe format, as every backend shares it. `hint` metadata is shown next to a schema error at
// that key; `description` reaches editors through the generated JSON Schema (schema/recipe.schema.json).
// What only one backend understands (its own section, its devices, which settings it accepts
// together) is that backend's module's business: see src/backends/.


/** optimum-cli's --weight-format values that phiforge knows how to check in the IR afterwards. */
export const WEIGHT_FORMATS = ['fp32', 'fp16', 'int8', 'int4'] as const;

const SLUG = /^[a-z0-9][a-z0-9._-]*$/;

/**
 * A string check made by one of the rules shared with the command line (hub/names.ts,
 * cache/ownership.ts): one issue, worded by the rule, instead of a pattern's bare "Invalid string".
 */
function ruleCheck(problem: (text: string) => string | undefined, options: { prefix?: string; hint?: string } = {}) {
  return (value: string, ctx: z.RefinementCtx) => {
    const message = problem(value);
    if (message) ctx.addIssue({ code: 'custom', message: `${options.prefix ?? ''}${message}`, ...(options.hint ? { params: { hint: options.hint } } : {}) });
  };
}

const ModelSchema = z
  .strictObject({
    id: z
      .string()
      .superRefine(ruleCheck(repoIdProblem, { prefix: 'expected a Hugging Face model id: ' }))
      .optional()
      .meta({ description: 'Hugging Face model id, downloaded into the standard HF cache.', hint: 'owner/name, as on the model page, with revision: <commit>.', pattern: REPO_ID_PATTERN.source }),
    revision: z
      .string()
      .superRefine(ruleCheck(revisionProblem))
      .optional()
      .meta({
        description: 'Commit (40 lower-case hex characters) to pin; a branch or tag is resolved and the commit recorded.',
        hint: 'Pin the 40-character commit id from the model page\'s "Files and versions" history.',
        minLength: 1,
      }),
    path: z.string().min(1).optional().meta({ description: 'A local Hugging Face model folder, relative to the recipe.' }),
    synthetic: z
      .enum(PRESET_NAMES)
      .optional()
      .meta({
        description: `A model phiforge makes itself, with no model hub: ${Object.entries(PRESETS).map(([name, preset]) => `${name}: ${preset.description}`).join('; ')}.`,
        hint: `One of: ${PRESET_NAMES.join(', ')}.`,
      }),
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
        params: { hint: sources.length === 0 ? 'Add id: owner/name with revision:, path: ./folder, or synthetic: phi3-mini-tiny (made here, no hub).' : `Keep one of ${sources.join(', ')} and remove the other.` },
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
    awq: dataAwareFlag('Activation-aware weight quantization (optimum-cli --awq), run on the calibration text: scales the weights that matter most to the activations before rounding.'),
    scale_estimation: dataAwareFlag('Scale estimation (optimum-cli --scale-estimation): picks each group\'s scale to minimise the layer\'s output error on the calibration text.'),
    gptq: dataAwareFlag('GPTQ (optimum-cli --gptq): rounds the weights layer by layer, correcting the error of each on the calibration text; slow.'),
    lora_correction: dataAwareFlag('LoRA correction (optimum-cli --lora-correction): adds low-rank INT8 adapters that repair the compression error; costs some decode speed.'),
    calibration: z
      .strictObject({
        file: z.string().min(1).optional().meta({
          description: 'A UTF-8 text file, relative to the recipe: its paragraphs (separated by blank lines) are the calibration samples, in file order. Default: the English text phiforge ships (CC0).',
        }),
        num_samples: z.number().int().min(1).max(1024).optional().meta({
          description: 'Use the first N paragraphs (optimum-cli --num-samples). Default: all of them.',
          hint: 'A whole number from 1 to 1024; 32 to 128 is usual.',
        }),
      })
      .optional()
      .meta({
        description: 'The text data-aware INT4 compression runs the model on. With it alone (no algorithm), the 4-bit layers of ratio < 1 are chosen by their activations instead of their weights.',
      }),
  });

function dataAwareFlag(description: string) {
  return z.boolean().optional().meta({ description, hint: 'true or false; needs weight_format int4 and runs on quantization.calibration (phiforge\'s built-in text unless it names a file).' });
}

/** The data-aware INT4 algorithms a recipe may turn on, as optimum-cli names them without the dashes. */
export const DATA_AWARE_ALGORITHMS = ['awq', 'scale_estimation', 'gptq', 'lora_correction'] as const;

/** Whether the recipe's compression runs the model on calibration text (any algorithm, or calibration: alone). */
export function isDataAware(quantization: Pick<z.output<typeof QuantizationSchema>, (typeof DATA_AWARE_ALGORITHMS)[number] | 'calibration'>): boolean {
  return quantization.calibration !== undefined || DATA_AWARE_ALGORITHMS.some((algorithm) => quantization[algorithm] === true);
}

const positive = (description: string) => z.number().positive().optional().meta({ description, hint: 'A number greater than 0.' });

/** A prompt length of the latency sweep, as a mapping key: "1024". */
const PROMPT_LENGTH_KEY = /^[1-9]\d*$/;

const GatesSchema = z
  .strictObject({
    ttft_ms_max: z
      .union([z.number().positive(), z.record(z.string().regex(PROMPT_LENGTH_KEY, 'a prompt length such as 1024'), z.number().positive())])
      .optional()
      .meta({
        description: 'Largest acceptable median time to first token, ms: a number for the recipe\'s prompts, or a mapping from a prompt length of validate.prompt_tokens to its limit.',
        hint: 'A number (e.g. 800), or per prompt length: { 1024: 900, 4096: 4000 }.',
      }),
    tpot_ms_max: positive('Largest acceptable median time per output token, ms.'),
    tokens_per_s_min: positive('Smallest acceptable median decode throughput, tokens/s.'),
    similarity_min: z.number().min(0).max(1).optional().meta({ description: 'Smallest acceptable mean answer similarity to the source model (0..1).', hint: 'A number from 0 to 1, e.g. 0.9.' }),
    match_tokens_min: z.number().min(0).optional().meta({ description: 'Smallest acceptable mean count of tokens equal to the source model before the first divergence.' }),
    peak_rss_mb_max: positive('Largest acceptable peak resident memory of the runner, MiB.'),
    perplexity_ratio_max: z.number().min(1).optional().meta({
      description: "Largest acceptable ratio of the artifact's perplexity to the source model's on validate.perplexity's text.",
      hint: 'A ratio of at least 1, e.g. 1.1 for at most 10% worse than the source model; needs validate.perplexity.',
    }),
    int4_share_min: z.number().gt(0).max(1).optional().meta({
      description: "Smallest acceptable share of the artifact's weight matrices (linear layers and embeddings) stored in 4 bits, as counted in its graph: what the compression achieved, not the ratio it was asked for.",
      hint: 'A fraction in (0, 1], e.g. 0.5; NNCF keeps the embedding and the last layer in 8 bits, so a small model stays well below its ratio.',
    }),
    emulated_agreement_min: z.number().int().min(0).optional().meta({
      description: 'For an emulated device (the NPU through NPUW on the CPU): on how many prompts it must give exactly the plain CPU pipeline\'s tokens. Default: every prompt.',
      hint: 'A whole number of prompts, at most the number of validate.prompts.',
    }),
  })
  .meta({ hint: 'Gates: ttft_ms_max, tpot_ms_max, tokens_per_s_min, similarity_min, match_tokens_min, peak_rss_mb_max, perplexity_ratio_max, int4_share_min, emulated_agreement_min.' });

export type Gates = z.output<typeof GatesSchema>;

/** The devices recipes may name: every backend's, which the backend of the recipe's pipeline then narrows. */
export interface KnownDevices {
  hint: string;
  accepts: (device: string) => boolean;
}

function targetSchema(devices: KnownDevices) {
  return z.strictObject({
    device: z
      .string()
      .refine(devices.accepts, 'not a device phiforge knows')
      .meta({ description: `Device the artifact must run on. ${devices.hint}`, hint: devices.hint }),
    runtime: z
      .record(z.string(), z.union([z.string(), z.number(), z.boolean()]))
      .optional()
      .meta({ description: 'Runtime properties for this target (OpenVINO properties, or ONNX Runtime provider options).' }),
    gates: GatesSchema.optional(),
  });
}

const MessageSchema = z.strictObject({
  role: z.enum(['system', 'user', 'assistant']).meta({ hint: 'One of system, user, assistant.' }),
  content: z.string(),
});

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

/** The guide's own prompt: the Phi-3 on AI PC guide asks every path this first. */
const DEFAULT_PROMPT = { messages: [{ role: 'user' as const, content: 'Can you introduce yourself?' }], expect: { not_empty: true } };

/** The longest prompt-length sweep phiforge builds: longer than every Phi context it ships recipes for. */
export const MAX_SWEEP_TOKENS = 131_072;

const ValidateSchema = z.strictObject({
  max_new_tokens: z.number().int().min(1).max(4096).default(32).meta({
    description: 'Tokens each answer may have (greedy decoding).',
    hint: 'A whole number from 1 to 4096; 32 to 128 is usual for validation.',
  }),
  repetitions: z.number().int().min(1).max(100).default(3).meta({
    description: 'Measured generations per prompt after the warm-up.',
    hint: 'A whole number from 1 to 100; figures are medians over them.',
  }),
  warmup: z.number().int().min(0).max(10).default(1).meta({ hint: 'A whole number from 0 to 10.' }),
  prompts: z
    .array(
      z.strictObject({
        id: z.string().regex(SLUG).optional().meta({ description: 'Name in reports; defaults to p1, p2, ...' }),
        messages: z.array(MessageSchema).min(1),
        expect: ExpectSchema.optional(),
      }),
    )
    .min(1)
    .default([DEFAULT_PROMPT])
    .meta({
      description: 'Chat prompts every target answers; compared with the source model and checked.',
      hint: 'At least one prompt: - messages: [{ role: user, content: "Can you introduce yourself?" }]. Leave the key out for the guide\'s prompt.',
    }),
  prompt_tokens: z
    .array(z.number().int().min(8).max(MAX_SWEEP_TOKENS))
    .optional()
    .meta({
      description: 'Latency sweep: prompts of exactly these lengths (in the artifact\'s tokens, cut from a fixed text), each timed for TTFT with a full prefill.',
      hint: 'Prompt lengths in tokens, e.g. [128, 1024, 4096].',
    }),
  reference: z
    .strictObject({
      enabled: z.boolean().default(true).meta({ description: "Compare answers with the source model's own greedy answers." }),
      embedding_model: z.string().optional().meta({ description: 'Local sentence-transformers folder (BERT family, mean pooling) for similarity; default all-MiniLM-L6-v2 as packaged on PyPI.' }),
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

/**
 * The keys every recipe has, whatever its backend; `sections` are the backends' own blocks (npu:,
 * ort:), accepted in any recipe so that a base recipe can serve several backends.
 */
function recipeFields(devices: KnownDevices) {
  return {
    // The same rule as --name and every path made from a name (cache/ownership.ts): a name the build
    // cannot make a folder of is refused here, not after the build as an internal error.
    name: z.string().superRefine(ruleCheck(artifactNameProblem, { hint: ARTIFACT_NAME_HINT })).meta({
      description: 'Artifact name: the build writes dist/<name>/.',
      hint: 'For example phi3-mini-4k-int4-ov.',
      pattern: SLUG.source,
      maxLength: ARTIFACT_NAME_MAX,
    }),
    description: z.string().optional(),
    extends: z.string().optional().meta({
      description: 'A base recipe (path relative to this file) whose settings this one starts from: mappings merge key by key, this file winning; lists and other values are replaced whole.',
    }),
    model: ModelSchema,
    pipeline: z.string().regex(SLUG).meta({ description: 'Pipeline definition to use: pipelines/<pipeline>.yaml.', hint: 'For example openvino, openvino-npu or ort-genai.' }),
    quantization: QuantizationSchema,
    export: z.enum(['shared', 'direct']).optional().meta({
      description: 'OpenVINO: how the IR is made, decided by the recipe alone, so it ships the same bytes however it is built. direct (the default) runs optimum-cli export openvino for this recipe, the guide\'s exact command in one pass; shared converts the PyTorch model once per model and derives each variant from that IR with NNCF (the same weights as optimum-cli, other node names in the .xml), for builds of several variants of one model. Data-aware recipes always use shared, fp32 always direct.',
    }),
    targets: z
      .array(targetSchema(devices))
      .min(1)
      .default([{ device: 'CPU' }])
      .meta({ hint: `A list of targets, each a mapping: targets: [{ device: CPU }]. ${devices.hint}` }),
    validate: ValidateSchema.prefault({}),
  };
}

export type RecipeSections = Record<string, z.ZodType>;

/** The whole recipe format: the shared keys plus every backend's section. */
export function recipeSchema<S extends RecipeSections>(sections: S, devices: KnownDevices) {
  return z
    .strictObject({ ...recipeFields(devices), ...sections })
    .superRefine((recipe, ctx) => {
      checkOneTargetPerDevice(recipe as unknown as BaseRecipe, ctx);
      checkGatesAgainstValidation(recipe as unknown as BaseRecipe, ctx);
    })
    .meta({ title: 'phiforge recipe', description: 'What phiforge builds: model, pipeline, quantization, targets, validation.', hint: 'A recipe is a mapping with name, model, pipeline, quantization and targets.' });
}

/**
 * A device's validation is written to validation/<device>-<host>.json, so two targets on one device
 * would overwrite each other's verdict (a failing gate hidden by a passing one). "The same device" is
 * the same device string: names are case-sensitive and each backend has its own (OpenVINO CPU, ONNX
 * Runtime cpu), and the result file is named by the string. OpenVINO's GPU and GPU.0 usually name the
 * same card, but they write separate files and lose nothing, so both stay allowed.
 */
function checkOneTargetPerDevice(recipe: Pick<BaseRecipe, 'targets'>, ctx: z.RefinementCtx): void {
  const first = new Map<string, number>();
  recipe.targets.forEach((target, index) => {
    const earlier = first.get(target.device);
    if (earlier === undefined) {
      first.set(target.device, index);
      return;
    }
    ctx.addIssue({
      code: 'custom',
      path: ['targets', index, 'device'],
      message: `${target.device} is already the device of targets[${earlier}]: both would write validation/${target.device}-<host>.json, and the later result would replace the earlier`,
      params: { hint: `Merge the two into one target: one entry per device, with all its gates in one gates: mapping.`, alsoAt: ['targets', earlier, 'device'] },
    });
  });
}

/** Gates that name what validation does not measure would fail with "not measured" only after a whole build. */
function checkGatesAgainstValidation(recipe: Pick<BaseRecipe, 'targets' | 'validate'>, ctx: z.RefinementCtx): void {
  const lengths = new Set(recipe.validate.prompt_tokens ?? []);
  recipe.targets.forEach((target, index) => {
    const ttft = target.gates?.ttft_ms_max;
    if (ttft !== undefined && typeof ttft === 'object') {
      for (const length of Object.keys(ttft)) {
        if (!lengths.has(Number(length))) {
          ctx.addIssue({
            code: 'custom',
            path: ['targets', index, 'gates', 'ttft_ms_max', length],
            message: `a TTFT gate at ${length} prompt tokens, but validate.prompt_tokens does not measure that length`,
            params: { hint: `Add ${length} to validate.prompt_tokens${lengths.size ? ` (now ${[...lengths].join(', ')})` : ''}, or gate one of its lengths.` },
          });
        }
      }
    }
    const agreement = target.gates?.emulated_agreement_min;
    if (agreement !== undefined && agreement > recipe.validate.prompts.length) {
      ctx.addIssue({
        code: 'custom',
        path: ['targets', index, 'gates', 'emulated_agreement_min'],
        message: `${agreement} prompts must agree, but validate.prompts has ${recipe.validate.prompts.length}`,
        params: { hint: `At most ${recipe.validate.prompts.length}; leave the gate out to require every prompt.` },
      });
    }
  });
}

/** A recipe as every backend sees it; each backend adds its own section's type. */
export type BaseRecipe = z.output<z.ZodObject<ReturnType<typeof recipeFields>>>;
export type Quantization = BaseRecipe['quantization'];
export type ModelSpec = BaseRecipe['model'];
export type Target = BaseRecipe['targets'][number];

/** Stable ids for prompts in reports: the recipe's, or p1, p2, ... by position. */
export function promptsWithIds(settings: ValidateSettings) {
  return settings.prompts.map((prompt, index) => ({ ...prompt, id: prompt.id ?? `p${index + 1}` }));
}
