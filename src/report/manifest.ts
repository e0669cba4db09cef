import { readFileSync } from 'node:fs';
import path from 'node:path';
import { formatCommandLine } from '../engine/command.js';
import type { FileDigest } from '../cache/digest.js';
import { PACKAGE_ROOT } from '../context.js';
import type { Plan } from '../pipeline/plan.js';
import type { StepOutput } from '../steps/types.js';
import type { ValidationReport } from '../validate/evaluate.js';

export const PHIFORGE_VERSION: string = (JSON.parse(readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version;

export interface ToolchainRecord {
  lockDigest: string;
  python: string;
  installed: Record<string, string>;
}

/**
 * manifest.json: everything needed to know what an artifact is and to rebuild it. Tokens never reach
 * it: the hub token lives only in the hub client's requests.
 */
export function buildManifest(plan: Plan, outputs: StepOutput[], toolchains: Record<string, ToolchainRecord>, files: FileDigest[], validation?: ValidationReport) {
  const model = outputs.find((output) => output.kind === 'model-source');
  return {
    phiforge: { version: PHIFORGE_VERSION },
    recipe: { file: path.relative(process.cwd(), plan.recipe.file) || plan.recipe.file, resolved: plan.recipe.recipe },
    pipeline: plan.pipeline.name,
    model: model ? { ...model.facts, key: model.key, files: model.files } : undefined,
    toolchains,
    steps: outputs.map((output) => ({
      id: output.id,
      kind: output.kind,
      key: output.key,
      reused: output.reused,
      ...commandsOf(plan, output),
      durationMs: Math.round(output.durationMs),
      exitCode: output.commandLine ? 0 : undefined,
      facts: output.kind === 'model-source' ? undefined : output.facts,
    })),
    files,
    // The summary; validation.json next to the manifest has every answer and check.
    validation: validation && {
      passed: validation.passed,
      failures: validation.failures,
      targets: validation.targets.map(({ device, status, reason, emulated, figures, agreement, perplexity, gates }) => ({ device, status, reason, emulated, figures, agreement, perplexity, gates })),
    },
  };
}

/**
 * The command as this build would run it. A reused output may have been made by a build that named
 * other folders (another checkout, another copy of the same model files): that command is kept too,
 * as `cached_command`, since it is the one that produced the bytes.
 */
function commandsOf(plan: Plan, output: StepOutput): { command?: string; cached_command?: string } {
  const planned = plan.steps.find((step) => step.id === output.id)?.command;
  const command = planned ? formatCommandLine(planned) : output.commandLine;
  return output.commandLine && output.commandLine !== command ? { command, cached_command: output.commandLine } : { command };
}
