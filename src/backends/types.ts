import type { WeightPrecision } from '../artifact/manifest.js';
import type { ModelShape, ModelSize } from '../recipe/model-files.js';
import type { BaseRecipe, RecipeSections, Target } from '../recipe/schema.js';
import type { KeyPath } from '../yaml/located-yaml.js';

/**
 * The device classes CI runners are labelled by (`phiforge validate --device <class>`); every backend
 * maps its own device names onto them.
 */
export const DEVICE_CLASSES = ['cpu', 'gpu', 'npu', 'cuda', 'dml'] as const;
export type DeviceClass = (typeof DEVICE_CLASSES)[number];

/** Records a problem with the recipe at a key; the caller turns them into a located InputError. */
export type ReportProblem = (keyPath: KeyPath, message: string, hint?: string) => void;

/** What one step (or the runner) takes: its peak resident memory and the disk it leaves behind. */
export interface Footprint {
  memoryBytes: number;
  diskBytes: number;
}

/** One target as the backend's runner script receives it in its request. */
export interface RunnerTarget {
  device: string;
  [setting: string]: unknown;
}

/**
 * Everything that is one backend's own: its recipe section and rules, its device names, how a target
 * is handed to its runner, which toolchain runs an artifact on which device. Adding a backend means
 * adding a module like this (registered in ./index.ts), a pipeline and its toolchains; nothing else
 * switches on backend names.
 */
export interface Backend {
  /** As pipelines name it in `backend:`. */
  name: string;
  /** The runtime its artifacts run with, for people: "OpenVINO GenAI". */
  runtime: string;
  /** The Hub's library_name for its artifacts. */
  library: string;
  /** The recipe sections only this backend reads (npu:, ort:); part of every recipe's schema. */
  sections: RecipeSections;
  /** Its device names, for hints and the schema's description. */
  devicesHint: string;
  acceptsDevice(device: string): boolean;
  deviceClass(device: string): DeviceClass;
  /** Settings that do not go together for this backend, reported at their keys. */
  checkRecipe(recipe: BaseRecipe, problem: ReportProblem): void;
  /** Checks that need the model's config.json: group or block sizes against its widths. */
  checkAgainstModel(recipe: BaseRecipe, shape: ModelShape, problem: ReportProblem): void;
  /**
   * The toolchains that can run an artifact on this device (the runtime alone, no converter), best
   * first: the first whose `requires:` this machine meets runs it.
   */
  runtimeToolchains(device: string): string[];
  /** The runner script (toolchain name, file) that every runtime toolchain of this backend runs. */
  runnerScript: { toolchain: string; file: string };
  /** A target as the runner script's request carries it. */
  runnerTarget(recipe: BaseRecipe, target: Target, options: { emulateNpu: boolean }): RunnerTarget;
  /** What one of this backend's own step kinds takes at this size; undefined for kinds it does not own. */
  estimateStep(kind: string, recipe: BaseRecipe, model: ModelSize): Footprint | undefined;
  /** The artifact's size on disk. */
  artifactBytes(recipe: BaseRecipe, model: ModelSize): number;
  /** The runner's peak while validating: the artifact loaded, its caches, the runtime itself. */
  runnerMemoryBytes(recipe: BaseRecipe, model: ModelSize): number;
  /** The artifact's weights by precision, read from the graph in its folder; undefined when it has none. */
  readWeights(dir: string): Promise<WeightPrecision | undefined>;
  /** Whether a target's device is only emulated here (the NPU through NPUW): labelled so everywhere. */
  emulates(device: string, options: { emulateNpu: boolean; present: string[] }): boolean;
}
