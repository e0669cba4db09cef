import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { canonicalJson, sha256File } from '../cache/digest.js';
import { SignatureInvalidError, SignatureUntrustedError } from '../errors.js';
import { writeIntoArtifact, type ArtifactFolder } from './check.js';
import { checkEnvelope, IN_TOTO_PAYLOAD_TYPE, parseEnvelope, signEnvelope, type CheckedSignature } from './dsse.js';
import type { PublicKey, SigningKey } from './keys.js';
import { MANIFEST_FILE, PHIFORGE_VERSION, PROVENANCE_FILE, type Manifest } from './manifest.js';

// provenance.json: the signed statement of what an artifact is and how it was made. A DSSE envelope
// (dsse.ts) holding an in-toto Statement v1 (github.com/in-toto/attestation, spec/v1/statement.md)
// whose subjects are every file of the artifact with its sha256, manifest.json among them, and whose
// predicate is SLSA Provenance v1 (slsa.dev/spec/v1.0/provenance): the recipe as resolved (its gates
// included), the toolchains' lock digests, the step keys and the builder. Because manifest.json is a
// subject, any change to the manifest (a gate deleted, a digest rewritten) breaks the signature too.

export { PROVENANCE_FILE };
export const STATEMENT_TYPE = 'https://in-toto.io/Statement/v1';
export const SLSA_PROVENANCE_TYPE = 'https://slsa.dev/provenance/v1';
/**
 * How to read this predicate's parameters: phiforge's recipe build. A URN, since phiforge has no web
 * address of its own to name (in-toto's TypeURI asks for a URI, not a resolvable one).
 */
export const PHIFORGE_BUILD_TYPE = 'urn:phiforge:buildtype:recipe:v1';

const Sha256 = z.string().regex(/^[0-9a-f]{64}$/);

/** A ResourceDescriptor (in-toto spec/v1/resource_descriptor.md), as phiforge uses it: a name and its digests. */
export const ResourceDescriptor = z.looseObject({ name: z.string().optional(), uri: z.string().optional(), digest: z.record(z.string(), z.string()).optional() });

export const Statement = z.looseObject({
  _type: z.literal(STATEMENT_TYPE),
  subject: z.array(ResourceDescriptor.extend({ name: z.string(), digest: z.record(z.string(), z.string()) })).min(1),
  predicateType: z.string(),
  predicate: z.record(z.string(), z.unknown()).optional(),
});
export type Statement = z.output<typeof Statement>;

/** The SLSA v1 predicate; the parts phiforge reads back are typed, the rest is kept as written. */
export const ProvenancePredicate = z.looseObject({
  buildDefinition: z.looseObject({
    buildType: z.string(),
    externalParameters: z.looseObject({ recipe: z.looseObject({ file: z.string(), resolved: z.record(z.string(), z.unknown()) }).optional() }),
    internalParameters: z.record(z.string(), z.unknown()).optional(),
    resolvedDependencies: z.array(ResourceDescriptor).optional(),
  }),
  runDetails: z.looseObject({
    builder: z.looseObject({ id: z.string(), version: z.record(z.string(), z.string()).optional() }),
    metadata: z.record(z.string(), z.unknown()).optional(),
  }),
});
export type ProvenancePredicate = z.output<typeof ProvenancePredicate>;

/** The GitHub Actions run phiforge is running in, from the runner's variables; undefined elsewhere. */
export function ciRunUrl(environment: NodeJS.ProcessEnv = process.env): string | undefined {
  const { GITHUB_SERVER_URL: server, GITHUB_REPOSITORY: repository, GITHUB_RUN_ID: run } = environment;
  return server && repository && run ? `${server}/${repository}/actions/runs/${run}` : undefined;
}

/** The statement provenance.json signs, for an artifact whose manifest.json has the digest `manifestSha256`. */
export function provenanceStatement(manifest: Manifest, manifestSha256: string, environment: NodeJS.ProcessEnv = process.env): Statement {
  const run = ciRunUrl(environment);
  const model = manifest.model as Manifest['model'] & { id?: string; commit?: string };
  const { files: _modelFiles, ...modelFacts } = model;
  const predicate: ProvenancePredicate = {
    buildDefinition: {
      buildType: PHIFORGE_BUILD_TYPE,
      // What the user chose: the recipe as resolved (every default filled in, gates included), the name, the model.
      externalParameters: { recipe: manifest.recipe, name: manifest.name, model: modelFacts },
      // What phiforge decided: the pipeline's steps and their cache keys, the toolchains they ran in.
      internalParameters: {
        backend: manifest.backend,
        pipeline: manifest.pipeline,
        toolchains: Object.fromEntries(Object.entries(manifest.toolchains).map(([name, toolchain]) => [name, { lockDigest: toolchain.lockDigest, python: toolchain.python }])),
        steps: manifest.steps.map((step) => ({ id: step.id, kind: step.kind, key: step.key })),
      },
      resolvedDependencies: [
        ...model.files.map((file) => ({
          name: `model/${file.path}`,
          ...(model.source === 'hub' && model.id && model.commit ? { uri: `https://huggingface.co/${model.id}/resolve/${model.commit}/${file.path}` } : {}),
          digest: { sha256: file.sha256 },
        })),
        ...Object.entries(manifest.toolchains).map(([name, toolchain]) => ({ name: `toolchains/${name}/requirements.lock`, digest: { sha256: toolchain.lockDigest } })),
      ],
    },
    runDetails: {
      builder: { id: run ?? `urn:phiforge:host:${encodeURIComponent(os.hostname())}`, version: { phiforge: manifest.phiforge.version } },
      metadata: {
        ...(run ? { invocationId: environment.GITHUB_RUN_ATTEMPT ? `${run}/attempts/${environment.GITHUB_RUN_ATTEMPT}` : run } : {}),
        // SLSA's extension fields are named <vendor>_<field>.
        phiforge_host: os.hostname(),
        phiforge_signer: PHIFORGE_VERSION,
      },
    },
  };
  return {
    _type: STATEMENT_TYPE,
    subject: [{ name: MANIFEST_FILE, digest: { sha256: manifestSha256 } }, ...manifest.files.map((file) => ({ name: file.path, digest: { sha256: file.sha256 } }))],
    predicateType: SLSA_PROVENANCE_TYPE,
    predicate,
  };
}

/**
 * Signs an artifact whose files have been checked against its manifest (checkArtifact): writes
 * provenance.json beside them (replacing, never writing through, what stands at that name).
 */
export async function writeProvenance(dir: string, folder: ArtifactFolder, manifest: Manifest, key: SigningKey): Promise<{ file: string; subjects: number }> {
  const manifestSha256 = await sha256File(folder.files.get(MANIFEST_FILE) ?? path.join(dir, MANIFEST_FILE));
  const statement = provenanceStatement(manifest, manifestSha256);
  const envelope = signEnvelope(IN_TOTO_PAYLOAD_TYPE, Buffer.from(JSON.stringify(statement)), key);
  const file = await writeIntoArtifact(dir, PROVENANCE_FILE, `${JSON.stringify(envelope, null, 2)}\n`);
  return { file, subjects: statement.subject.length };
}

/** Who signed an artifact, as phiforge checked it. */
export type SignatureStanding =
  | { signed: false }
  | {
      signed: true;
      /** The signature file, relative to the artifact folder. */
      file: string;
      /** Every signature that verified, with whether its key is trusted. */
      signers: Array<{ keyId: string; trusted: boolean }>;
    };

/** "signed by SHA256:... (trusted)", "unsigned": what the commands print. */
export function describeSignature(standing: SignatureStanding, required: boolean): string {
  if (!standing.signed) return 'unsigned';
  return `signed by ${standing.signers.map((signer) => `${signer.keyId}${required ? (signer.trusted ? ' (trusted)' : ' (not a trusted key)') : ''}`).join(', ')}`;
}

/** A subject name that stays inside the artifact folder: relative, forward slashes, no `.` or `..` part. */
function subjectNameProblem(name: string): string | undefined {
  if (name === '') return 'an empty name';
  if (name.startsWith('/') || /^[A-Za-z]:/.test(name) || name.includes('\\')) return 'an absolute or Windows path';
  if (name.split('/').some((part) => part === '' || part === '.' || part === '..')) return 'a path with an empty, "." or ".." part';
  return undefined;
}

/**
 * The statement a signed envelope file holds, with its signatures checked: throws
 * SignatureInvalidError (naming `file`) when it is no DSSE envelope of an in-toto Statement of
 * `predicateType`, when a signature does not verify, or when a subject names a file outside the artifact.
 */
export async function readSignedStatement(
  artifactDir: string,
  file: string,
  real: string,
  predicateType: string,
  trusted: PublicKey[] | undefined,
): Promise<{ statement: Statement; signatures: CheckedSignature[] }> {
  const invalid = (problems: string[], hint?: string) => new SignatureInvalidError(artifactDir, file, problems, hint);
  const notEnvelope = 'It must be the DSSE envelope `phiforge sign` (or `validate --sign-key`) writes: get the artifact again, or sign it again.';
  const parsed = parseEnvelope(await readFile(real, 'utf8'));
  if ('problems' in parsed) throw invalid([`not a DSSE envelope (${parsed.problems.join('; ')})`], notEnvelope);
  const { envelope } = parsed;
  if (envelope.payloadType !== IN_TOTO_PAYLOAD_TYPE) throw invalid([`payloadType is ${JSON.stringify(envelope.payloadType)}, not ${IN_TOTO_PAYLOAD_TYPE}`], notEnvelope);
  const { body, signatures } = checkEnvelope(envelope, trusted);
  // A signature that does not verify under its own key means the envelope was changed: never waived.
  // One without a key that no trusted key verifies is left to requireTrusted: it was not shown to be changed.
  const broken = signatures.filter((signature) => !signature.verified && !(trusted && signature.unverifiable));
  if (broken.length > 0) throw invalid(broken.map((signature) => signature.problem!));
  let data: unknown;
  try {
    data = JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw invalid([`its payload is not JSON (${(error as Error).message})`], notEnvelope);
  }
  const statement = Statement.safeParse(data);
  if (!statement.success) throw invalid(statement.error.issues.slice(0, 6).map((issue) => `its payload is not an in-toto Statement v1: ${issue.path.join('.') || '(the payload)'}: ${issue.message}`), notEnvelope);
  if (statement.data.predicateType !== predicateType) throw invalid([`its statement's predicateType is ${JSON.stringify(statement.data.predicateType)}, not ${predicateType}`], notEnvelope);
  const outside = statement.data.subject.flatMap((subject) => {
    const problem = subjectNameProblem(subject.name);
    return problem ? [`subject ${JSON.stringify(subject.name)} names a file outside the artifact (${problem})`] : [];
  });
  if (outside.length > 0) throw invalid(outside, 'A statement names files inside the artifact folder only, by relative paths: this one was not written by phiforge; do not trust it.');
  return { statement: statement.data, signatures };
}

/** The signed recipe's gates against the manifest's, target by target: a line for each that differs. */
export function gateDifferences(signed: Record<string, unknown> | undefined, current: Record<string, unknown>): string[] {
  const targets = (recipe: Record<string, unknown> | undefined) => ((recipe?.targets as Array<{ device?: string; gates?: unknown }> | undefined) ?? []);
  const before = targets(signed);
  const now = targets(current);
  const shown = (gates: unknown) => (gates === undefined ? 'none' : canonicalJson(gates));
  const differences: string[] = [];
  for (let index = 0; index < Math.max(before.length, now.length); index++) {
    if (canonicalJson(before[index]?.gates ?? null) !== canonicalJson(now[index]?.gates ?? null)) {
      differences.push(`targets[${index}] (${now[index]?.device ?? before[index]?.device}) gates: the signed recipe has ${shown(before[index]?.gates)}, manifest.json has ${shown(now[index]?.gates)}`);
    }
  }
  return differences;
}

/**
 * Checks provenance.json of an artifact whose files have been checked against its manifest
 * (checkArtifact), so that the manifest's digests are the files' own: every file and manifest.json
 * must be a subject with its sha256, every subject a file of the artifact, and the signed recipe's
 * gates the manifest's. Throws SignatureInvalidError naming what does not match; returns who signed
 * (or that nothing is signed). Whether a signer is trusted is for requireTrusted.
 */
export async function checkProvenance(artifactDir: string, folder: ArtifactFolder, manifest: Manifest, trusted?: PublicKey[]): Promise<SignatureStanding> {
  const real = folder.files.get(PROVENANCE_FILE);
  if (real === undefined) return { signed: false };
  const { statement, signatures } = await readSignedStatement(artifactDir, PROVENANCE_FILE, real, SLSA_PROVENANCE_TYPE, trusted);
  const manifestSha256 = await sha256File(folder.files.get(MANIFEST_FILE) ?? path.join(artifactDir, MANIFEST_FILE));
  const current = new Map([[MANIFEST_FILE, manifestSha256], ...manifest.files.map((file) => [file.path, file.sha256] as const)]);
  const signed = new Map(statement.subject.map((subject) => [subject.name, subject.digest.sha256]));
  const problems: string[] = [];
  for (const [name, digest] of current) {
    if (!signed.has(name)) problems.push(`${name} is not among the signed files`);
    else if (!Sha256.safeParse(signed.get(name)).success) problems.push(`${name} is signed without a sha256`);
    else if (signed.get(name) !== digest) problems.push(`${name} does not match its signed sha256 (${digest.slice(0, 12)}…, signed ${signed.get(name)!.slice(0, 12)}…)`);
  }
  for (const name of signed.keys()) if (!current.has(name)) problems.push(`${name} is signed but not in the artifact`);
  const predicate = ProvenancePredicate.safeParse(statement.predicate);
  if (!predicate.success) problems.push(`its predicate is not SLSA Provenance v1: ${predicate.error.issues.slice(0, 3).map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ')}`);
  else problems.push(...gateDifferences(predicate.data.buildDefinition.externalParameters.recipe?.resolved, manifest.recipe.resolved));
  if (problems.length > 0) throw new SignatureInvalidError(artifactDir, PROVENANCE_FILE, problems);
  return { signed: true, file: PROVENANCE_FILE, signers: signatures.filter((signature) => signature.verified).map(({ keyId, trusted: isTrusted }) => ({ keyId, trusted: isTrusted })) };
}

/** Under --require-signature: some signer of the artifact must be a trusted key. */
export function requireTrusted(artifactDir: string, standing: SignatureStanding, trusted: PublicKey[] | undefined): void {
  if (!trusted || (standing.signed && standing.signers.some((signer) => signer.trusted))) return;
  const problem = !standing.signed
    ? `${PROVENANCE_FILE} is missing: the artifact is unsigned`
    : standing.signers.length === 0
      ? `${standing.file} carries signatures without their public keys, and none verifies under a trusted key`
      : `${standing.file} is signed by ${standing.signers.map((signer) => signer.keyId).join(', ')}, which is not a trusted key`;
  throw new SignatureUntrustedError(artifactDir, [problem], trusted.map((key) => `${key.id} (${key.file})`));
}
