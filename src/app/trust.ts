import path from 'node:path';
import { checkArtifact, inspectArtifactFolder, type ArtifactFolder } from '../artifact/check.js';
import type { PublicKey } from '../artifact/keys.js';
import { MANIFEST_FILE, readManifest, type Manifest } from '../artifact/manifest.js';
import { checkProvenance, describeSignature, requireTrusted, type SignatureStanding } from '../artifact/provenance.js';
import type { DigestMemo } from '../cache/digest-memo.js';
import { sha256File } from '../cache/digest.js';
import { checkResultSignatures, type ResultSignature } from '../validate/result-signatures.js';

// What every command that takes an artifact folder checks before it trusts a byte of it: the folder's
// files against manifest.json (changed, missing, unlisted), then provenance.json against those files,
// then the signatures of the device results beside them. It reads the folder and nothing else: no
// cache, no venv, no network (`verify --no-rebuild` is exactly this).

export interface ArtifactTrust {
  artifact: string;
  /** How many files were checked against manifest.json. */
  files: number;
  manifestSha256: string;
  signature: SignatureStanding;
  /** Each device result file (validation/*.json) and its signature. */
  results: Array<{ file: string; signature: ResultSignature }>;
  /** Whether --require-signature (or PHIFORGE_TRUSTED_KEYS) asked for a trusted signer. */
  required: boolean;
}

/**
 * Checks an artifact folder in place: its files against its manifest (ArtifactMismatchError naming
 * each changed, missing or unlisted file), provenance.json against them and the result signatures
 * (SignatureInvalidError: never waived), and, with trusted keys, that a trusted key signed it
 * (SignatureUntrustedError). `memo` lets a command that uses the cache anyway skip re-reading files
 * whose size, inode and times are unchanged; without it every byte is read.
 */
export async function checkArtifactTrust(artifactDir: string, options: { trusted?: PublicKey[]; memo?: DigestMemo } = {}): Promise<ArtifactTrust & { manifest: Manifest; folder: ArtifactFolder }> {
  // Walked before anything in it is read: a manifest.json that is a link out of the folder or a FIFO is refused, not read.
  await inspectArtifactFolder(artifactDir);
  const manifest = await readManifest(artifactDir);
  const folder = await checkArtifact(artifactDir, manifest.files, options.memo);
  const signature = await checkProvenance(artifactDir, folder, manifest, options.trusted);
  const manifestSha256 = await sha256File(folder.files.get(MANIFEST_FILE) ?? path.join(artifactDir, MANIFEST_FILE));
  const results = [...(await checkResultSignatures(artifactDir, folder, manifestSha256, options.trusted))].map(([file, each]) => ({ file, signature: each }));
  requireTrusted(artifactDir, signature, options.trusted);
  return { artifact: artifactDir, files: manifest.files.length, manifestSha256, signature, results, required: options.trusted !== undefined, manifest, folder };
}

/** One line per signature, for people: "provenance.json: signed by SHA256:… (trusted)", "validation/CPU-box.json: unsigned". */
export function describeTrust(trust: Pick<ArtifactTrust, 'signature' | 'results' | 'required'>): string[] {
  return [
    `provenance.json: ${describeSignature(trust.signature, trust.required)}`,
    ...trust.results.map(({ file, signature }) => `${file}: ${describeSignature(signature, trust.required)}${signature.signed && !signature.forThisManifest ? ', for another manifest.json (an earlier build)' : ''}`),
  ];
}

/** What --json shows of it. */
export function trustJson(trust: ArtifactTrust): Record<string, unknown> {
  return { artifact: trust.artifact, files_checked: trust.files, manifest_sha256: trust.manifestSha256, signature: trust.signature, results: trust.results, signature_required: trust.required };
}
