import type { ModelShape } from '../recipe/model-files.js';
import type { Quantization } from '../recipe/schema.js';

/** The config.json fields the estimate reads. */
export type ModelConfig = ModelShape;

export interface BuildEstimate {
  parameters: number;
  exportMemoryBytes: number;
  artifactBytes: number;
  diskBytes: number;
}

/** Bytes a weight takes in the artifact; INT4 groups carry an f16 scale per group, backup layers are INT8. */
function bytesPerWeight(quantization: Quantization): number {
  switch (quantization.weight_format) {
    case 'fp32':
      return 4;
    case 'fp16':
      return 2;
    case 'int8':
      return 1.0;
    case 'int4': {
      const ratio = quantization.ratio ?? 1;
      return ratio * 0.5625 + (1 - ratio) * 1.0;
    }
  }
}

export function countParameters(config: ModelConfig): number | undefined {
  const { vocab_size: vocab, hidden_size: hidden, intermediate_size: intermediate, num_hidden_layers: layers } = config;
  if (!vocab || !hidden || !intermediate || !layers) return undefined;
  const heads = config.num_attention_heads ?? 1;
  const kvHeads = config.num_key_value_heads ?? heads;
  const headDim = hidden / heads;
  const attention = hidden * (hidden + 2 * kvHeads * headDim) + hidden * hidden;
  const mlp = 3 * hidden * intermediate;
  const embeddings = vocab * hidden * (config.tie_word_embeddings ? 1 : 2);
  return embeddings + layers * (attention + mlp + 2 * hidden) + hidden;
}

/**
 * What a build needs. optimum loads the checkpoint in FP32 and traces it, holding about two copies
 * of the weights at the peak, plus a fixed overhead for Python, torch and OpenVINO: the guide's
 * "tens of GB" for a 3.8B model. Disk: the source checkpoint (bf16), the artifact in the step
 * cache and again in dist/.
 */
export function estimateBuild(config: ModelConfig, quantization: Quantization): BuildEstimate | undefined {
  const parameters = countParameters(config);
  if (parameters === undefined) return undefined;
  const artifactBytes = parameters * bytesPerWeight(quantization);
  return {
    parameters,
    exportMemoryBytes: parameters * 4 * 2 + 1.5 * 2 ** 30,
    artifactBytes,
    diskBytes: parameters * 2 + artifactBytes * 2,
  };
}
