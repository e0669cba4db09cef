import type { Backend, Footprint } from '../backends/types.js';
import type { ModelSize } from '../recipe/model-files.js';
import type { BaseRecipe } from '../recipe/schema.js';

/** What a build and its validation take, step by step: doctor's answer, and the checks before a build. */
export interface BuildEstimate {
  parameters: number;
  artifactBytes: number;
  /** By step id, plus `runner` for validation. */
  steps: Record<string, Footprint>;
  /** The most any one build step holds (steps run one after another): what an export machine needs. */
  buildMemoryBytes: number;
  /** The most any step or the validation runner holds: what one machine doing both needs. */
  peakMemoryBytes: number;
  /** Disk the build adds: step outputs in the cache (a download included) and the artifact in dist/. */
  diskBytes: number;
}

const GiB = 2 ** 30;

/** Steps every pipeline shares; each backend estimates its own (converters, builders, compilers). */
function sharedStep(kind: string, model: ModelSize, source: 'hub' | 'local' | 'synthetic'): Footprint | undefined {
  const checkpoint = model.parameters * model.checkpointBytesPerWeight;
  if (kind === 'model-source') {
    // A generated model is made in bf16 directly; a download is written to disk, not held.
    if (source === 'synthetic') return { memoryBytes: model.parameters * 2 + 1 * GiB, diskBytes: model.parameters * 2 };
    return { memoryBytes: 0.3 * GiB, diskBytes: source === 'hub' ? checkpoint : 0 };
  }
  // transformers holds the weights in the checkpoint's dtype and each module computes with a float32
  // copy of its own, written into one reused buffer per weight shape (reference_answers.py): the
  // checkpoint, those buffers (the embedding's and one decoder layer's projections), and torch,
  // transformers and the activations: 8.48 GiB for 3.82B bf16 parameters (bench/real-size.mjs). A
  // float32 checkpoint is used as it is.
  if (kind === 'reference-answers') {
    const buffers = model.checkpointBytesPerWeight < 4 ? (Math.max(model.embedding, model.lmHead) + model.body / model.layers) * 4 : 0;
    return { memoryBytes: checkpoint + buffers + 0.75 * GiB, diskBytes: 1e5 };
  }
  return undefined;
}

export function estimateBuild(steps: Array<{ id: string; kind: string; resolves?: Record<string, unknown> }>, planned: BaseRecipe, backend: Backend, model: ModelSize): BuildEstimate {
  // As planning decided it (the export path, say).
  const recipe = { ...planned, ...Object.assign({}, ...steps.map((step) => step.resolves ?? {})) } as BaseRecipe;
  const source = recipe.model.synthetic ? 'synthetic' : recipe.model.path ? 'local' : 'hub';
  const footprints: Record<string, Footprint> = {};
  for (const step of steps) {
    const footprint = sharedStep(step.kind, model, source) ?? backend.estimateStep(step.kind, recipe, model);
    if (footprint) footprints[step.id] = footprint;
  }
  const artifactBytes = backend.artifactBytes(recipe, model);
  const buildMemoryBytes = Math.max(0, ...Object.values(footprints).map((footprint) => footprint.memoryBytes));
  footprints.runner = { memoryBytes: backend.runnerMemoryBytes(recipe, model), diskBytes: 0 };
  return {
    parameters: model.parameters,
    artifactBytes,
    steps: footprints,
    buildMemoryBytes,
    peakMemoryBytes: Math.max(buildMemoryBytes, footprints.runner.memoryBytes),
    diskBytes: Object.values(footprints).reduce((sum, footprint) => sum + footprint.diskBytes, 0) + artifactBytes,
  };
}
