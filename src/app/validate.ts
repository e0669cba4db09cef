import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { MANIFEST_FILE } from '../artifact/manifest.js';
import type { DeviceClass } from '../backends/types.js';
import type { Context } from '../context.js';
import { UsageError } from '../errors.js';
import { validateArtifact } from '../validate/run-artifact.js';
import { buildRecipes, type Outcome } from './build.js';

export interface ValidateOptions {
  model?: string;
  requireDevice?: boolean;
  deviceClasses?: DeviceClass[];
}

/**
 * Measures afresh. An artifact folder is validated exactly as it is (its files against the manifest,
 * then its own bytes run); a recipe is built first if needed, without measuring, and its artifact
 * then validated the same way.
 */
export async function validateInputs(context: Context, inputs: string[], options: ValidateOptions = {}): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  for (const input of inputs) {
    try {
      let artifactDir = input;
      if (!isArtifactFolder(input)) {
        if (options.model === undefined && existsSync(input) && statSync(input).isDirectory()) {
          throw new UsageError(`${input} is a folder without ${MANIFEST_FILE}: not an artifact`, 'Give an artifact folder made by phiforge build (dist/<name>), or a recipe file.');
        }
        const [built] = await buildRecipes(context, [input], { model: options.model, validate: false });
        artifactDir = built.artifact!;
      } else if (options.model !== undefined) {
        throw new UsageError(`--model applies to recipes; ${input} is an artifact, validated as built`, 'Leave --model out, or give the recipe instead.');
      }
      const { report } = await validateArtifact(context, artifactDir, { requireDevice: options.requireDevice ?? false, deviceClasses: options.deviceClasses, reuse: false });
      outcomes.push({ recipe: input, ok: report.passed, artifact: path.resolve(artifactDir), validation: report });
    } catch (error) {
      if (inputs.length === 1) throw error;
      outcomes.push({ recipe: input, ok: false, error });
    }
  }
  return outcomes;
}

function isArtifactFolder(input: string): boolean {
  return existsSync(path.join(input, MANIFEST_FILE));
}
