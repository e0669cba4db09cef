// Shapes of what the Python runners and the reference script write. Every backend's runner writes
// runs.json in this one shape, so one evaluator serves them all.

/** Perplexity of the recipe's perplexity text, and how many tokens it was scored over. */
export interface Perplexity {
  value: number;
  tokens: number;
}

export interface ReferenceAnswers {
  answers: Array<{ id: string; token_ids: number[]; text: string }>;
  perplexity?: Perplexity;
}

export interface RunMeasurement {
  ttft_ms: number;
  tpot_ms: number;
  tokens_per_s: number;
  new_tokens: number;
  generate_ms: number;
  /** The duration of each token after the first (what TPOT averages), for pooling across runs. */
  decode_ms: number[];
}

export interface TargetRun {
  device: string;
  status: 'ran' | 'skipped';
  reason?: string;
  /** True when the device was emulated (the NPU through NPUW on CPU): never reported as that device's figures. */
  emulated?: boolean;
  /** A DML build run on the CPU provider because DirectML is absent: proves it loads, says nothing of DML speed. */
  structural?: boolean;
  /** For an emulated NPU: how many prompts got the same tokens as the plain CPU pipeline. */
  cpu_agreement?: { prompts: number; identical: number };
  load_ms?: number;
  peak_rss_mb?: number;
  perplexity?: Perplexity;
  prompts?: Array<{ id: string; token_ids: number[]; text: string; runs: RunMeasurement[] }>;
}

export interface RunnerResult {
  available: Array<{ device: string; name: string }>;
  targets: TargetRun[];
  [runtimeVersion: string]: unknown;
}

export interface SimilarityResult {
  similarities: number[];
  /** Which (device, prompt) each similarity belongs to, in order. */
  pairs: Array<{ device: string; prompt: string }>;
  embedding_model: string;
}
