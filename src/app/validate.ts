import { existsSync, lstatSync, statSync } from 'node:fs';
import path from 'node:path';
import { MANIFEST_FILE } from '../artifact/manifest.js';
import type { DeviceClass } from '../backends/types.js';
import type { PublicKey, SigningKey } from '../artifact/keys.js';
import { DigestMemo } from '../cache/digest-memo.js';
import type { Context } from '../context.js';
import { UsageError } from '../errors.js';
import { validateArtifact } from '../validate/run-artifact.js';
import { buildRecipes, type Outcome } from './build.js';
import { signDeviceResults } from './sign.js';
import { checkArtifactTrust, describeTrust } from './trust.js';

export interface ValidateOptions {
  model?: string;
  requireDevice?: boolean;
  /** Fail an NPU target whose shipped blob does not fit the runner, rather than compile the IR in its place. */
  requireBlob?: boolean;
  deviceClasses?: DeviceClass[];
  /** Sign each device result written (--sign-key). */
  signKey?: SigningKey;
  /** Refuse an artifact no trusted key signed (--require-signature, PHIFORGE_TRUSTED_KEYS). */
  trusted?: PublicKey[];
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
      // Its files and signatures first: who signed it is said before anything runs, and an artifact
      // that is not what its signer signed (or, under --require-signature, unsigned) is refused here.
      const trust = await checkArtifactTrust(artifactDir, { trusted: options.trusted, memo: DigestMemo.of(context.cacheRoot) });
      context.say(`${path.basename(artifactDir)}: ${describeTrust(trust)[0]}`);
      const { report, results } = await validateArtifact(context, artifactDir, { requireDevice: options.requireDevice ?? false, requireBlob: options.requireBlob, deviceClasses: options.deviceClasses, reuse: false });
      await signDeviceResults(context, artifactDir, results, options.signKey);
      outcomes.push({ recipe: input, ok: report.passed, artifact: path.resolve(artifactDir), validation: report });
    } catch (error) {
      if (inputs.length === 1) throw error;
      outcomes.push({ recipe: input, ok: false, error });
    }
  }
  return outcomes;
}

/** lstat, not exists: a manifest.json that is a dangling link still makes an artifact folder, which validation then refuses by name. */
function isArtifactFolder(input: string): boolean {
  try {
    return lstatSync(path.join(input, MANIFEST_FILE), { throwIfNoEntry: false }) !== undefined;
  } catch {
    // ENOTDIR: the input is a file (a recipe).
    return false;
  }
}
