import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { checkArtifact, inspectArtifactFolder } from '../artifact/check.js';
import type { SigningKey } from '../artifact/keys.js';
import { MANIFEST_FILE, readManifest, VALIDATION_DIR } from '../artifact/manifest.js';
import { checkProvenance, PROVENANCE_FILE, writeProvenance } from '../artifact/provenance.js';
import { sha256File } from '../cache/digest.js';
import type { Context } from '../context.js';
import { SignatureInvalidError } from '../errors.js';
import type { DeviceResult } from '../validate/contract.js';
import { signatureFileOf, signDeviceResult } from '../validate/result-signatures.js';
import { resultFileName } from '../validate/results.js';

// `phiforge sign`, `build --sign-key` and `validate --sign-key`: the signatures an artifact carries.
// A signature vouches for bytes, so signing reads every byte it names (no digest memo): a folder whose
// files are not the ones its manifest lists is refused, never signed.

export interface Signed {
  artifact: string;
  /** The provenance file written. */
  file: string;
  keyId: string;
  /** How many files it signs: the artifact's files and manifest.json. */
  subjects: number;
}

/** Writes <artifact>/provenance.json: every file of the artifact, checked against its manifest first, signed with `key`. */
export async function signArtifact(artifactDir: string, key: SigningKey): Promise<Signed> {
  await inspectArtifactFolder(artifactDir);
  const manifest = await readManifest(artifactDir);
  const folder = await checkArtifact(artifactDir, manifest.files);
  const { file, subjects } = await writeProvenance(artifactDir, folder, manifest, key);
  return { artifact: artifactDir, file, keyId: key.id, subjects };
}

/**
 * After a validation wrote its device results (results of skipped devices are not written): signs
 * each with `key` (validation/<device>-<host>.json.sig beside it), or, without a key, removes the
 * signature an earlier validation left beside a result file this one has just replaced, which would
 * otherwise read as a signed verdict changed after signing. Returns the signature files written.
 */
export async function signDeviceResults(context: Context, artifactDir: string, results: DeviceResult[], key: SigningKey | undefined): Promise<string[]> {
  const written = results.filter((result) => result.run.status === 'ran').map((result) => ({ result, file: `${VALIDATION_DIR}/${resultFileName(result)}` }));
  if (!key) {
    for (const { file } of written) {
      const signature = path.join(artifactDir, signatureFileOf(file));
      if (!existsSync(signature)) continue;
      await rm(signature, { force: true });
      context.say(`removed ${signatureFileOf(file)}: it signed the result this validation replaced (--sign-key signs the new one)`);
    }
    return [];
  }
  const manifestSha256 = await sha256File(path.join(artifactDir, MANIFEST_FILE));
  const signed = await Promise.all(written.map(({ result, file }) => signDeviceResult(artifactDir, file, result, manifestSha256, key)));
  for (const file of signed) context.say(`signed ${path.relative(artifactDir, file)} of ${path.basename(artifactDir)} with ${key.id}`);
  return signed;
}

/**
 * After a build has published dist/<name>: signs it with --sign-key. Without one, a provenance.json
 * left from an earlier build that no longer holds (a rebuild rewrites manifest.json, whose digest it
 * signed) is removed and the user told: it vouches for files this build did not make, and left in
 * place it would fail every check of the artifact.
 */
export async function signAfterBuild(context: Context, artifactDir: string, key: SigningKey | undefined): Promise<Signed | undefined> {
  if (key) {
    const signed = await signArtifact(artifactDir, key);
    context.say(`signed ${path.relative(process.cwd(), artifactDir) || artifactDir} with ${key.id}: ${PROVENANCE_FILE} (${signed.subjects} files)`);
    return signed;
  }
  const folder = await inspectArtifactFolder(artifactDir);
  if (!folder.files.has(PROVENANCE_FILE)) return undefined;
  try {
    // The build has just placed these files: the manifest's digests are theirs.
    await checkProvenance(artifactDir, folder, await readManifest(artifactDir));
  } catch (error) {
    if (!(error instanceof SignatureInvalidError)) throw error;
    // The entry itself (a link is removed, not followed).
    await rm(path.join(artifactDir, PROVENANCE_FILE), { force: true });
    context.say(`removed ${PROVENANCE_FILE} of ${path.basename(artifactDir)}: it signed an earlier build (${error.problems[0]}); sign this one with \`phiforge sign ${path.relative(process.cwd(), artifactDir) || artifactDir} --key <file>\``);
  }
  return undefined;
}
