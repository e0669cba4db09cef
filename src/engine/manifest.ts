import path from 'node:path';
import { PHIFORGE_VERSION, type Manifest, type ToolchainRecord, type WeightPrecision } from '../artifact/manifest.js';
import type { FileDigest } from '../cache/digest.js';
import { formatCommandLine } from '../exec/command.js';
import type { Plan } from '../pipeline/plan.js';
import type { StepOutput } from '../steps/types.js';

/**
 * manifest.json (src/artifact/manifest.ts defines it): everything needed to know what an artifact is
 * and to rebuild it. Tokens never reach it: the hub token lives only in the hub client's requests.
 */
export function buildManifest(plan: Plan, outputs: StepOutput[], toolchains: Record<string, ToolchainRecord>, files: FileDigest[], weights?: WeightPrecision): Manifest {
  const { recipe: loaded } = plan;
  const { recipe } = loaded;
  const model = outputs.find((output) => output.kind === 'model-source')!;
  const source = model.facts.source as Manifest['model']['source'];
  return {
    schema: 'phiforge.manifest/1',
    phiforge: { version: PHIFORGE_VERSION },
    name: recipe.name,
    ...(describe(plan, model) ? { description: describe(plan, model) } : {}),
    backend: loaded.backend.name,
    pipeline: loaded.pipeline.name,
    // What the steps decided (the export path, say) is part of the recipe a rebuild must follow.
    recipe: { file: path.relative(process.cwd(), loaded.file) || loaded.file, resolved: { ...recipe, ...Object.assign({}, ...plan.steps.map((step) => step.resolves ?? {})) } as Record<string, unknown> },
    model: { ...model.facts, source, key: model.key, files: model.files, ...(loaded.modelOverride ? { override: loaded.modelOverride } : {}) },
    toolchains,
    steps: outputs.map((output) => ({
      id: output.id,
      kind: output.kind,
      key: output.key,
      reused: output.reused,
      ...commandsOf(plan, output),
      durationMs: Math.round(output.durationMs),
      ...(output.kind === 'model-source' ? {} : { facts: output.facts }),
    })),
    ...(weights ? { weights } : {}),
    files,
  };
}

/** The model an artifact was made from, in words: what descriptions and reports name. */
export function modelLabel(facts: Record<string, unknown>): string {
  if (facts.source === 'hub') return `${facts.id}@${String(facts.commit).slice(0, 12)}`;
  if (facts.source === 'local') return `the local model ${facts.path}`;
  return `the generated model ${facts.preset}`;
}

/** With --model, the recipe's own description names another model: say which one was used. */
function describe(plan: Plan, model: StepOutput): string | undefined {
  const { recipe, modelOverride } = plan.recipe;
  if (!modelOverride) return recipe.description;
  return `${modelLabel(model.facts)} (--model), with the settings of recipe ${recipe.name}`;
}

/**
 * The command as this build would run it. A reused output may have been made by a build that named
 * other folders (another checkout, another copy of the same model files): that command is kept too,
 * as `cached_command`, since it is the one that produced the bytes.
 */
function commandsOf(plan: Plan, output: StepOutput): { command?: string; cached_command?: string } {
  const planned = plan.steps.find((step) => step.id === output.id)?.command;
  const command = planned ? formatCommandLine(planned) : output.commandLine;
  if (command === undefined) return {};
  return output.commandLine && output.commandLine !== command ? { command, cached_command: output.commandLine } : { command };
}
