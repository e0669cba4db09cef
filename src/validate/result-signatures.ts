import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { writeIntoArtifact, type ArtifactFolder } from '../artifact/check.js';
import { IN_TOTO_PAYLOAD_TYPE, signEnvelope } from '../artifact/dsse.js';
import type { PublicKey, SigningKey } from '../artifact/keys.js';
import { MANIFEST_FILE, VALIDATION_DIR } from '../artifact/manifest.js';
import { ciRunUrl, readSignedStatement, STATEMENT_TYPE, type SignatureStanding, type Statement } from '../artifact/provenance.js';
import { sha256 } from '../cache/digest.js';
import { SignatureInvalidError } from '../errors.js';
import type { DeviceResult } from './contract.js';

// A device result's signature: validation/<device>-<host>.json.sig beside the result, a DSSE envelope
// (like provenance.json) holding an in-toto Statement with the Test Result predicate
// (github.com/in-toto/attestation, spec/predicates/test-result.md). Its subject is the artifact
// measured, named by the sha256 of its manifest.json (the tested artifact, as the predicate wants);
// its configuration is the result file with the sha256 of its bytes. So the signature binds the
// verdict, byte for byte, to the exact artifact and recipe (gates included) it was measured against,
// and the result file stays the plain JSON every reader already reads.

export const TEST_RESULT_TYPE = 'https://in-toto.io/attestation/test-result/v0.1';

/** The signature file of a result file: validation/CPU-host.json.sig. */
export function signatureFileOf(resultFile: string): string {
  return `${resultFile}.sig`;
}

/**
 * Signs a device result file (relative to the artifact folder, as writeDeviceResult named it) that
 * measured the artifact whose manifest.json has `manifestSha256`.
 */
export async function signDeviceResult(artifactDir: string, resultFile: string, result: DeviceResult, manifestSha256: string, key: SigningKey): Promise<string> {
  const bytes = await readFile(path.join(artifactDir, resultFile));
  const run = ciRunUrl();
  const statement: Statement = {
    _type: STATEMENT_TYPE,
    subject: [{ name: MANIFEST_FILE, digest: { sha256: manifestSha256 } }],
    predicateType: TEST_RESULT_TYPE,
    predicate: {
      result: result.report.status === 'passed' ? 'PASSED' : 'FAILED',
      configuration: [{ name: resultFile, digest: { sha256: sha256(bytes) } }],
      ...(run ? { url: run } : {}),
      passedTests: result.report.gates.filter((gate) => gate.passed).map((gate) => `${result.device}: ${gate.gate}`),
      failedTests: result.report.failures,
    },
  };
  const envelope = signEnvelope(IN_TOTO_PAYLOAD_TYPE, Buffer.from(JSON.stringify(statement)), key);
  return writeIntoArtifact(artifactDir, signatureFileOf(resultFile), `${JSON.stringify(envelope, null, 2)}\n`);
}

/** A device result's signature as checked: unsigned, or who signed it and whether for this very manifest.json. */
export type ResultSignature = SignatureStanding & {
  /** Signed for the artifact as its manifest.json is now; false: signed for another manifest (an earlier build). */
  forThisManifest?: boolean;
};

/** The device result files of an artifact folder as walked (validation/*.json), in order. */
export function resultFilesOf(folder: ArtifactFolder): string[] {
  return [...folder.files.keys()].filter((file) => file.startsWith(`${VALIDATION_DIR}/`) && file.endsWith('.json')).sort();
}

/**
 * A device result file's signature, checked. A signature that does not verify, or a result file
 * that is not the one signed, throws SignatureInvalidError: a verdict changed after it was signed is
 * never counted, with or without --require-signature. One signed for another manifest.json is
 * reported as such (forThisManifest false), not refused.
 */
export async function checkResultSignature(artifactDir: string, folder: ArtifactFolder, resultFile: string, manifestSha256: string, trusted?: PublicKey[]): Promise<ResultSignature> {
  const signatureFile = signatureFileOf(resultFile);
  const real = folder.files.get(signatureFile);
  if (real === undefined) return { signed: false };
  const { statement, signatures } = await readSignedStatement(artifactDir, signatureFile, real, TEST_RESULT_TYPE, trusted);
  const configured = (statement.predicate?.configuration ?? []) as Array<{ name?: string; digest?: Record<string, string> }>;
  const signed = configured.find((entry) => entry.name === resultFile)?.digest?.sha256;
  if (!signed) throw new SignatureInvalidError(artifactDir, signatureFile, [`it does not sign ${resultFile} (its configuration names ${JSON.stringify(configured.map((entry) => entry.name))})`]);
  const digest = sha256(await readFile(folder.files.get(resultFile)!));
  if (signed !== digest) throw new SignatureInvalidError(artifactDir, signatureFile, [`${resultFile} does not match its signed sha256 (${digest.slice(0, 12)}…, signed ${signed.slice(0, 12)}…): the result was changed after it was signed`]);
  const measured = statement.subject.find((subject) => subject.name === MANIFEST_FILE)?.digest.sha256;
  return {
    signed: true,
    file: signatureFile,
    signers: signatures.filter((signature) => signature.verified).map(({ keyId, trusted: isTrusted }) => ({ keyId, trusted: isTrusted })),
    forThisManifest: measured === manifestSha256,
  };
}

/** Every device result file of an artifact folder with its signature checked (checkResultSignature). */
export async function checkResultSignatures(artifactDir: string, folder: ArtifactFolder, manifestSha256: string, trusted?: PublicKey[]): Promise<Map<string, ResultSignature>> {
  const checked = new Map<string, ResultSignature>();
  for (const resultFile of resultFilesOf(folder)) checked.set(resultFile, await checkResultSignature(artifactDir, folder, resultFile, manifestSha256, trusted));
  return checked;
}

/** Whether a result's signature counts under --require-signature: a trusted signer, for this manifest.json. */
export function signedByTrusted(signature: ResultSignature | undefined): boolean {
  return Boolean(signature?.signed && signature.forThisManifest && signature.signers.some((signer) => signer.trusted));
}

/** Why a result does not count under --require-signature, in a few words. */
export function whyNotTrusted(signature: ResultSignature | undefined): string {
  if (!signature?.signed) return 'it is unsigned';
  if (!signature.forThisManifest) return 'it was signed for another manifest.json (an earlier build)';
  return `it is signed by ${signature.signers.map((signer) => signer.keyId).join(', ') || 'no key phiforge can check'}, not by a trusted key`;
}
