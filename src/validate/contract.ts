import { z } from 'zod';

// The files validation reads and writes, defined once. Python scripts write the first three; the
// JSON Schemas in schema/ are generated from these (`npm run schema`) and kept in sync by a test.
//
//   reference.json   the source model's answers, shipped inside every artifact (reference step)
//   runs.json        what a backend's runner measured on each target (run_genai.py, run_ortgenai.py)
//   similarity.json  sentence-embedding cosine of answer pairs (common/scripts/similarity.py)
//   validation/<device>-<host>.json   one device's verdict, written beside an artifact by phiforge

const Count = z.number().int().min(0);
const TokenIds = z.array(z.number().int());
const Message = z.strictObject({ role: z.enum(['system', 'user', 'assistant']), content: z.string() });

/** Perplexity of the recipe's perplexity text, and how many tokens it was scored over. */
export const Perplexity = z.strictObject({ value: z.number().positive(), tokens: z.number().int().min(2) });

export const ReferenceFile = z
  .strictObject({
    schema: z.literal('phiforge.reference/1'),
    /** What the answers were asked with; a runner must ask the artifact exactly the same. */
    settings: z.strictObject({
      prompts: z.array(z.strictObject({ id: z.string(), messages: z.array(Message).min(1) })),
      max_new_tokens: z.number().int().positive(),
      perplexity_text: z.string().optional(),
    }),
    answers: z.array(z.strictObject({ id: z.string(), token_ids: TokenIds, text: z.string() })),
    perplexity: Perplexity.optional(),
    /** LongRoPE models only: a prompt past the original context, the source model's answer and next-token logits. */
    long_context: z
      .strictObject({
        id: z.string(),
        messages: z.array(Message).min(1),
        prompt_tokens: z.number().int().positive(),
        original_max_position_embeddings: z.number().int().positive(),
        token_ids: TokenIds,
        text: z.string(),
        logits: z.array(z.number()),
        /** The same prompt cut to stay inside the original context: how closely an artifact follows the source model where LongRoPE's long factors play no part. */
        inside: z.strictObject({ messages: z.array(Message).min(1), prompt_tokens: z.number().int().positive(), logits: z.array(z.number()) }),
      })
      .optional(),
    made_with: z.record(z.string(), z.string()),
  })
  .meta({ title: 'phiforge reference answers', description: "The source model's greedy answers (transformers, FP32) that every artifact is compared against." });

export type ReferenceFile = z.output<typeof ReferenceFile>;

/** One timed generation. */
export const Measurement = z.strictObject({
  ttft_ms: z.number().min(0),
  tpot_ms: z.number().min(0),
  tokens_per_s: z.number().min(0),
  new_tokens: Count,
  generate_ms: z.number().min(0),
  /** The duration of each token after the first (what TPOT averages), for pooling across runs. */
  decode_ms: z.array(z.number().min(0)),
});

export type Measurement = z.output<typeof Measurement>;

export const RunnerTarget = z.looseObject({ device: z.string() });

/**
 * What a compiled NPU blob depends on (toolchains/common/scripts/npu_blob.py): written into npu.json
 * as compiled_for where the blob is compiled, and made by the runner for itself before it imports one.
 * An emulated NPU (NPUW on the CPU) has no NPU compiler or driver: those fields say "emulated".
 */
export const NpuBlobRecord = z.strictObject({
  openvino: z.string(),
  openvino_genai: z.string(),
  /** NPU_COMPILER_VERSION as major.minor, or "emulated". */
  npu_compiler: z.string(),
  /** NPU_DRIVER_VERSION, or "emulated". */
  npu_driver: z.string(),
  /** DEVICE_ARCHITECTURE of the NPU (the CPU's, for an emulated one). */
  device_architecture: z.string(),
  /** FULL_DEVICE_NAME: informative, not compared. */
  device_name: z.string(),
  weightless: z.boolean(),
  /** MAX_PROMPT_LEN, MIN_RESPONSE_LEN and every NPU_* / NPUW_* property the model is compiled with, as strings. */
  properties: z.record(z.string(), z.string()),
});
export type NpuBlobRecord = z.output<typeof NpuBlobRecord>;

const RecordValue = z.union([z.string(), z.boolean()]).nullable();

/** What became of the blob an artifact ships, on one NPU target: imported, or not and why. */
export const NpuBlobUse = z.strictObject({
  /** The artifact carries openvino_model.blob. */
  shipped: z.boolean(),
  /** The runner imported it; false means the IR was compiled on the spot (or, with require_blob, nothing ran). */
  used: z.boolean(),
  /** npu.json's record, as the artifact has it (absent in artifacts of older phiforge versions). */
  compiled_for: z.record(z.string(), z.unknown()).optional(),
  runner: NpuBlobRecord,
  /** Each compared field that differs: its key (properties.MAX_PROMPT_LEN for a property), the blob's value and the runner's. */
  mismatches: z.array(z.strictObject({ key: z.string(), blob: RecordValue, runner: RecordValue, why: z.string().optional() })),
});
export type NpuBlobUse = z.output<typeof NpuBlobUse>;

export const RunnerRequest = z
  .strictObject({
    model_dir: z.string(),
    max_new_tokens: z.number().int().positive(),
    repetitions: z.number().int().positive(),
    warmup: Count,
    prompts: z.array(z.strictObject({ id: z.string(), messages: z.array(Message).min(1) })),
    /** The latency sweep: prompts of exactly these token counts, cut from sweep_text (repeated as needed). */
    prompt_tokens: z.array(z.number().int().positive()).optional(),
    sweep_text: z.string().optional(),
    perplexity_text: z.string().optional(),
    /** A target that ships a compiled model (an NPU blob) that does not fit this runtime is not run, rather than compiled from the IR. */
    require_blob: z.boolean().optional(),
    /** The reference's long prompt: answered once, its next-token logits correlated with the reference's. */
    long_context: z
      .strictObject({ id: z.string(), messages: z.array(Message).min(1), reference_logits: z.array(z.number()), inside_messages: z.array(Message).min(1), inside_reference_logits: z.array(z.number()) })
      .optional(),
    targets: z.array(RunnerTarget).min(1),
  })
  .meta({ title: 'phiforge runner request', description: "What a backend's runner script is asked to run." });

export type RunnerRequest = z.output<typeof RunnerRequest>;

const SkippedTarget = z.strictObject({
  device: z.string(),
  status: z.literal('skipped'),
  reason: z.string(),
  /** Present when the device was there but its shipped blob did not fit and require_blob forbade compiling the IR. */
  npu_blob: NpuBlobUse.optional(),
  emulated: z.boolean().optional(),
});

const RanTarget = z.strictObject({
  device: z.string(),
  status: z.literal('ran'),
  /** Why a structural run stands in for the device (a DML build on the CPU provider). */
  reason: z.string().optional(),
  /** The device was emulated (the NPU through NPUW on the CPU): never reported as that device's figures. */
  emulated: z.boolean().optional(),
  /** A DML build run on the CPU provider because DirectML is absent: proves it loads, says nothing of DML speed. */
  structural: z.boolean().optional(),
  /** For an emulated device: how many prompts got exactly the plain CPU pipeline's tokens. */
  cpu_agreement: z.strictObject({ prompts: Count, identical: Count }).optional(),
  provider: z.string().optional(),
  chat_template: z.string().optional(),
  load_ms: z.number().min(0),
  peak_rss_mb: z.number().min(0),
  perplexity: Perplexity.optional(),
  /** The first prompt's next-token logits, counted: nan or inf ones mean a broken model. Absent where the device cannot give logits (NPU). */
  logit_check: z.strictObject({ prompt: z.string(), values: Count, nonfinite: Count }).optional(),
  /** The long prompt's answer, once, and how its next-token logits correlate with the reference's (null: not comparable). */
  long_context: z
    .strictObject({
      id: z.string(),
      prompt_tokens: Count,
      token_ids: TokenIds.optional(),
      text: z.string().optional(),
      logit_correlation: z.number().nullable().optional(),
      /** The same for the prompt that stays inside the original context. */
      inside_correlation: z.number().nullable().optional(),
      /** Why the target could not take the prompt (an NPU compiled for shorter prompts). */
      skipped: z.string().optional(),
    })
    .optional(),
  prompts: z.array(z.strictObject({ id: z.string(), token_ids: TokenIds, text: z.string(), runs: z.array(Measurement).min(1) })),
  sweep: z.array(z.strictObject({ prompt_tokens: z.number().int().positive(), runs: z.array(Measurement).min(1) })).optional(),
  /** An NPU target: whether the artifact's compiled blob was imported, or the IR compiled here instead. */
  npu_blob: NpuBlobUse.optional(),
  /** OpenVINO GenAI's own PerfMetrics sum over the measured prompt runs, to check phiforge's pooling against. */
  genai_aggregate: z.strictObject({ ttft_ms: z.number(), tpot_ms: z.number(), tokens_per_s: z.number() }).optional(),
});

export const TargetRun = z.discriminatedUnion('status', [RanTarget, SkippedTarget]);
export type TargetRun = z.output<typeof TargetRun>;
export type RanTargetRun = z.output<typeof RanTarget>;

export const RunsFile = z
  .strictObject({
    /** The runtime's packages and versions, e.g. { openvino: "2026.4.1-...", openvino_genai: "2026.4.1.0" }. */
    runtime: z.record(z.string(), z.string()),
    available: z.array(z.strictObject({ device: z.string(), name: z.string() })),
    targets: z.array(TargetRun),
  })
  .meta({ title: 'phiforge runs', description: "What a backend's runner measured on each target." });

export type RunsFile = z.output<typeof RunsFile>;

export const SimilarityRequest = z
  .strictObject({
    pairs: z.array(z.tuple([z.string(), z.string()])),
    embedding_model: z.string().nullable(),
  })
  .meta({ title: 'phiforge similarity request' });

export const SimilarityFile = z
  .strictObject({
    similarities: z.array(z.number().min(-1).max(1)),
    embedding_model: z.string(),
  })
  .meta({ title: 'phiforge similarity', description: 'Cosine similarity of sentence embeddings, one per pair asked.' });

export type SimilarityFile = z.output<typeof SimilarityFile>;

/**
 * Median and range across the measured runs (robust to a stray slow run, so gates use the median),
 * plus mean and standard deviation pooled over every sample the way OpenVINO GenAI aggregates its
 * PerfMetrics: the figures benchmark_genai would print for the same runs.
 */
export const Spread = z.strictObject({ median: z.number(), min: z.number(), max: z.number(), mean: z.number(), std: z.number() });
export type Spread = z.output<typeof Spread>;

const CheckResult = z.strictObject({ name: z.string(), passed: z.boolean(), detail: z.string() });
export type CheckResult = z.output<typeof CheckResult>;

export const GATE_NAMES = ['ttft_ms_max', 'tpot_ms_max', 'tokens_per_s_min', 'similarity_min', 'match_tokens_min', 'peak_rss_mb_max', 'perplexity_ratio_max', 'int4_share_min', 'emulated_agreement_min'] as const;

const GateResult = z.strictObject({
  gate: z.enum(GATE_NAMES),
  /** For a gate on the latency sweep: the prompt length it applies to. */
  prompt_tokens: z.number().int().positive().optional(),
  limit: z.number(),
  value: z.number().nullable(),
  unit: z.string(),
  passed: z.boolean(),
});
export type GateResult = z.output<typeof GateResult>;

const PromptReport = z.strictObject({
  id: z.string(),
  text: z.string(),
  new_tokens: Count,
  checks: z.array(CheckResult),
  reference: z
    .strictObject({ text: z.string(), reference_tokens: Count, match_tokens: Count, identical: z.boolean(), similarity: z.number().nullable() })
    .optional(),
});
export type PromptReport = z.output<typeof PromptReport>;

export const TargetReport = z.strictObject({
  device: z.string(),
  status: z.enum(['passed', 'failed', 'skipped']),
  reason: z.string().optional(),
  emulated: z.boolean(),
  structural: z.boolean(),
  cpu_agreement: z.strictObject({ prompts: Count, identical: Count }).optional(),
  /** An NPU target: was the shipped blob what ran? A result of a blob not used says nothing of the blob, and never makes it publishable. */
  npu_blob: z.strictObject({ shipped: z.boolean(), used: z.boolean(), detail: z.string() }).optional(),
  figures: z
    .strictObject({
      ttft_ms: Spread,
      tpot_ms: Spread,
      tokens_per_s: Spread,
      load_ms: z.number(),
      peak_rss_mb: z.number(),
      runs: Count,
      sweep: z.array(z.strictObject({ prompt_tokens: z.number().int().positive(), ttft_ms: Spread, tpot_ms: Spread, runs: Count })).optional(),
    })
    .optional(),
  agreement: z.strictObject({ prompts: Count, identical: Count, match_tokens_mean: z.number(), similarity_mean: z.number().nullable() }).optional(),
  /** With validate.perplexity: the artifact's and the source model's perplexity on the text, and their ratio. */
  perplexity: z.strictObject({ artifact: z.number(), reference: z.number(), ratio: z.number().nullable(), problem: z.string().optional() }).optional(),
  prompts: z.array(PromptReport),
  /** Checks of the model as a whole: finite logits, no runaway repetition, the long context. */
  checks: z.array(CheckResult).optional(),
  long_context: z
    .strictObject({
      prompt_tokens: Count,
      original_max_position_embeddings: Count,
      text: z.string().optional(),
      match_tokens: Count.optional(),
      reference_tokens: Count,
      logit_correlation: z.number().nullable().optional(),
      inside_correlation: z.number().nullable().optional(),
      skipped: z.string().optional(),
    })
    .optional(),
  gates: z.array(GateResult),
  /** One line per failed check or gate: what, measured value, limit. */
  failures: z.array(z.string()),
});
export type TargetReport = z.output<typeof TargetReport>;

/** The machine a device result was measured on. */
export const Host = z.strictObject({ name: z.string(), cpu: z.string(), cores: z.number().int(), memory_gib: z.number(), platform: z.string() });
export type Host = z.output<typeof Host>;

export const DeviceResult = z
  .strictObject({
    schema: z.literal('phiforge.validation/1'),
    artifact: z.strictObject({
      name: z.string(),
      backend: z.string(),
      files_sha256: z.string().regex(/^[0-9a-f]{64}$/),
      /** The sha256 of the manifest.json measured against (its recipe, gates included): what a result's signature names. Absent in results of earlier versions. */
      manifest_sha256: z.string().regex(/^[0-9a-f]{64}$/).optional(),
    }),
    device: z.string(),
    device_class: z.string(),
    host: Host,
    measured_at: z.string(),
    phiforge: z.string(),
    runtime: z.strictObject({ toolchain: z.string(), lock_sha256: z.string(), packages: z.record(z.string(), z.string()) }),
    /** Digest of what the measurement depended on besides the artifact: a different one is measured again. */
    settings_sha256: z.string().regex(/^[0-9a-f]{64}$/),
    run: TargetRun,
    similarity: z.strictObject({ embedding_model: z.string(), by_prompt: z.record(z.string(), z.number()) }).optional(),
    report: TargetReport,
  })
  .meta({ title: 'phiforge device validation', description: "One device's validation of an artifact: its raw measurements and the verdict of the recipe's checks and gates." });

export type DeviceResult = z.output<typeof DeviceResult>;
