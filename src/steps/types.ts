import type { Recipe } from '../backends/index.js';
import type { Backend } from '../backends/types.js';
import type { FileDigest } from '../cache/digest.js';
import type { Context } from '../context.js';
import type { CommandSpec } from '../exec/command.js';
import type { LoadedRecipe } from '../recipe/load.js';
import type { Toolchain } from '../toolchain/definition.js';

/** What a step left behind, as later steps, the artifact and the manifest see it. */
export interface StepOutput {
  id: string;
  kind: string;
  key: string;
  /** Folder holding the step's output files. */
  dir: string;
  files: FileDigest[];
  /** Facts the manifest records (the model's commit, the quantization the IR reports...). */
  facts: Record<string, unknown>;
  /** Nothing ran for this step: its output already existed (or, for a placeholder, there was nothing to make). */
  reused: boolean;
  /**
   * What progress says after the title of a reused step. Step-cache entries say "cached" without it;
   * steps whose output lives elsewhere say where it was found, or nothing when nothing was looked up.
   */
  reuseNote?: string;
  commandLine?: string;
  durationMs: number;
}

/** A step whose output is made by one command and kept in the content-addressed step cache. */
export interface CommandWork {
  /**
   * Only for what the command does not show: bumped by hand when the output, or the facts read from
   * it, change although the command, its request files and its scripts stay the same. The key covers those.
   */
  kindVersion?: number;
  /** What the step was asked for, recorded in its cache entry; it enters the key (with what the command does not say, such as a compiling host). */
  params: Record<string, unknown>;
  /** Scripts the command runs; their digests enter the key so editing one rebuilds. */
  scripts: string[];
  /** The environment the command runs with (what command() sets is added); it enters the key, phiforge's folders as placeholders. */
  env: Record<string, string>;
  /** Sets up the work folder before the command runs (links to inputs, for instance). */
  prepare?: (workDir: string) => Promise<void>;
  /** Files written into the work folder before the command runs (JSON requests); their text enters the key, phiforge's folders as placeholders. */
  requestFiles?: (workDir: string) => Record<string, string> | Promise<Record<string, string>>;
  /**
   * The exact command. Called with placeholder folders for the key, as requestFiles is, then with the
   * real ones to run; any other folder of phiforge's it names (an input's output, the cache, the
   * package's scripts) is replaced by its placeholder in the key (steps/command-step.ts).
   */
  command: (paths: { python: string; bin: string; workDir: string; outDir: string }) => CommandSpec;
  /** Differences between what the command made and what the recipe asked for; empty when all is well. */
  verify?: (outDir: string, tools: { python: string }) => Promise<string[]>;
  verifyHint?: string;
  /** Facts read from the finished output (fresh or reused), for the manifest. */
  facts?: (outDir: string, workDir: string) => Promise<Record<string, unknown>>;
}

/** A step whose output lives outside the step cache: a model in the HF cache or a local folder. */
export interface DirectWork {
  materialize: (run: { context: Context }) => Promise<Omit<StepOutput, 'id' | 'kind' | 'key'>>;
}

export interface PlannedStep {
  id: string;
  kind: string;
  needs: string[];
  key: string;
  /** One line for people: what the step does. */
  summary: string;
  toolchain?: Toolchain;
  /** Where the output will be once the step is done. */
  outDir: string;
  /** The exact command, as `plan` prints it; absent for work done inside phiforge (downloads). */
  command?: CommandSpec;
  work: CommandWork | DirectWork;
  /** Checks that need the output (a model's config.json), run whether the output was made or reused. */
  afterOutput?: (output: StepOutput) => Promise<void>;
  /** A placeholder for work this recipe does not need: it enters no later step's key. */
  inert?: boolean;
  /** Recipe settings this step decided (which export path, say): the manifest records them, so a rebuild decides the same. */
  resolves?: Record<string, unknown>;
}

/** A step as a pipeline file declares it. */
export interface StepDefinition {
  id: string;
  uses: string;
  toolchain?: string;
  needs: string[];
}

export interface PlanInput {
  context: Context;
  recipe: LoadedRecipe<Recipe>;
  /** The backend the recipe's pipeline builds for: its rules and runtime. */
  backend: Backend;
  definition: StepDefinition;
  toolchain?: Toolchain;
  upstream: Record<string, PlannedStep>;
}

export interface StepKind {
  /** Plans the step without running anything: key, exact command, output location. */
  plan(input: PlanInput): Promise<PlannedStep>;
}
