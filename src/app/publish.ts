import { stat } from 'node:fs/promises';
import path from 'node:path';
import { writeIntoArtifact } from '../artifact/check.js';
import type { PublicKey } from '../artifact/keys.js';
import { filesDigest, MANIFEST_FILE, PROVENANCE_FILE } from '../artifact/manifest.js';
import { ExitCode, HubError, NotValidatedError, UsageError } from '../errors.js';
import { hubToken, sourceLicense } from '../hub/hub.js';
import { refNameProblem } from '../hub/names.js';
import { uploadToHub, type FileToUpload, type UploadProgress, type UploadResult } from '../hub/upload.js';
import { modelCard, readQuantization, sourceModel } from '../report/model-card.js';
import { readArtifact } from '../report/rows.js';
import { signatureFileOf, signedByTrusted, whyNotTrusted, type ResultSignature } from '../validate/result-signatures.js';
import { readDeviceResultFiles, validationStanding } from '../validate/results.js';
import { checkArtifactTrust, type ArtifactTrust } from './trust.js';

/** The model card's file, in the artifact folder and in the repository. */
export const CARD_FILE = 'README.md';

// A Hub model id: a namespace and a name of letters, digits, '-', '_' and '.'.
const REPO_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]*\/[A-Za-z0-9][A-Za-z0-9_.-]*$/;

export interface PublishOptions {
  repo: string;
  revision: string;
  private: boolean;
  dryRun: boolean;
  message?: string;
  allowUnvalidated: boolean;
  /**
   * --require-signature: the artifact must be signed by one of these keys, and only device results
   * signed by one of them (for this very manifest.json) count towards its validation.
   */
  trusted?: PublicKey[];
  /** Told who signed the artifact and its results, once they are checked and before anything is written. */
  onTrust?: (trust: ArtifactTrust) => void;
  onProgress?: (progress: UploadProgress) => void;
  /** Told before anything is sent when --allow-unvalidated overrides a refusal. */
  onUnvalidated?: (reasons: string[]) => void;
}

export interface PublishedFile {
  path: string;
  size: number;
  /** The artifact's own files carry their manifest digest; the card, manifest and results describe them. */
  sha256?: string;
}

export interface PublishReport {
  artifact: string;
  repo: string;
  revision: string;
  dryRun: boolean;
  /** Whether the validation of these exact files passed; false only with --allow-unvalidated. */
  validated: boolean;
  notValidatedBecause: string[];
  files: PublishedFile[];
  totalBytes: number;
  /** The card as written to <artifact>/README.md and uploaded. */
  cardFile: string;
  card: string;
  /** Who signed the artifact and each of its device results. */
  trust: ArtifactTrust;
  upload?: UploadResult;
}

function checkArguments(options: PublishOptions): void {
  if (!REPO_ID.test(options.repo)) throw new UsageError(`--repo ${options.repo}: expected <owner>/<name>`, 'For example --repo my-org/phi3-mini-4k-int4-ov.');
  // The branch to commit to: a name the Hub can create (never a commit expression like main~1:x).
  const problem = options.revision === '' ? 'it is empty' : refNameProblem(options.revision);
  if (problem) {
    throw new UsageError(`--revision ${JSON.stringify(options.revision)}: not a branch name the Hub accepts (${problem})`, 'Name a branch, not a commit expression: for example --revision main (the default) or --revision int4-g128.');
  }
}

/**
 * Publishes an artifact folder to a Hugging Face Hub model repository, in one commit: its files as
 * the manifest lists them (checked first), manifest.json, the device results of these exact files,
 * and a model card made from all of them. Refused unless the validation of these files passed.
 */
export async function publishToHub(artifactDir: string, options: PublishOptions): Promise<PublishReport> {
  checkArguments(options);
  const dir = path.resolve(artifactDir);
  const details = await readArtifact(dir);
  const { manifest } = details;
  // Read every byte: what goes to the Hub must be what the manifest and the device results name, and
  // what provenance.json and the results' signatures sign. Every refusal comes before the card is written.
  // The walk's regular files are what is uploaded: a link accepted inside the folder is sent as the file it leads to.
  const { folder: checked, manifest: _checked, ...trust } = await checkArtifactTrust(dir, { trusted: options.trusted });
  options.onTrust?.(trust);
  const regularFile = (file: string) => {
    const real = checked.files.get(file);
    if (real === undefined) throw new Error(`${file} was not among the files the check walked`);
    return real;
  };

  const resultFiles = await readDeviceResultFiles(dir);
  const signatures = new Map(trust.results.map(({ file, signature }) => [file, signature]));
  // Under --require-signature a verdict counts only when a trusted key signed it for this manifest.json.
  const counted = options.trusted ? resultFiles.filter(({ file }) => signedByTrusted(signatures.get(file))) : resultFiles;
  const standing = validationStanding(manifest.files, counted.map(({ result }) => result));
  const digest = filesDigest(manifest.files);
  const uncounted = resultFiles
    .filter((each) => !counted.includes(each) && each.result.artifact.files_sha256 === digest)
    .map(({ file, result }) => `${file} (${result.device} ${result.report.status}) does not count under --require-signature: ${whyNotTrusted(signatures.get(file))}`);
  if (!standing.passed) standing.reasons.push(...uncounted);
  if (!standing.passed && !options.allowUnvalidated) throw new NotValidatedError(artifactDir, standing.reasons);
  if (!standing.passed) options.onUnvalidated?.(standing.reasons);

  // Asked only for a real publish: a dry run makes no network call and needs no token.
  const token = options.dryRun ? undefined : await hubToken();
  if (!options.dryRun && !token) {
    throw new HubError('no Hugging Face token: publishing needs one with write access', 'Set HF_TOKEN, or log in with `hf auth login` (phiforge reads the token file huggingface_hub saves).', ExitCode.badInput);
  }

  const model = manifest.model as typeof manifest.model & { id?: string; commit?: string };
  const license = model.source === 'hub' && model.id && model.commit ? await sourceLicense(model.id, model.commit, { ask: !options.dryRun, accessToken: token }) : undefined;
  const card = await modelCard({
    details: { ...details, results: standing.current },
    repo: options.repo,
    standing,
    quantization: await readQuantization(dir, manifest),
    source: sourceModel(manifest, license),
    unvalidated: !standing.passed,
    signatures: {
      artifact: trust.signature.signed ? trust.signature.signers.map((signer) => signer.keyId) : [],
      results: currentResultSignatures(resultFiles.filter(({ result }) => standing.current.includes(result)).map(({ file }) => file), signatures),
    },
  });
  // Replaces a README.md that is a link (to a huggingface_hub blob, or another file) instead of writing through it.
  const cardFile = await writeIntoArtifact(dir, CARD_FILE, card);

  // Results of other bytes stay behind: they say nothing of the files published.
  const current = new Set(standing.current);
  const currentFiles = resultFiles.filter(({ result }) => current.has(result)).map(({ file }) => file);
  // The signatures travel with what they sign: provenance.json, and each result's .sig when it signs this manifest.json.
  const signatureFiles = [
    ...(trust.signature.signed ? [PROVENANCE_FILE] : []),
    ...currentFiles.filter((file) => signatures.get(file)?.signed && signatures.get(file)?.forThisManifest).map(signatureFileOf),
  ];
  const describing = [MANIFEST_FILE, ...currentFiles, ...signatureFiles];
  const uploads: FileToUpload[] = [
    ...manifest.files.map((file) => ({ path: file.path, source: { file: regularFile(file.path) }, size: file.size })),
    ...(await Promise.all(describing.map(async (file) => ({ path: file, source: { file: regularFile(file) }, size: (await stat(regularFile(file))).size })))),
    { path: CARD_FILE, source: { bytes: Buffer.from(card) }, size: Buffer.byteLength(card) },
  ];
  const digests = new Map(manifest.files.map((file) => [file.path, file.sha256]));
  const files = uploads.map((file) => ({ path: file.path, size: file.size, ...(digests.has(file.path) ? { sha256: digests.get(file.path) } : {}) }));
  const report: PublishReport = {
    artifact: artifactDir,
    repo: options.repo,
    revision: options.revision,
    dryRun: options.dryRun,
    validated: standing.passed,
    notValidatedBecause: standing.reasons,
    files,
    totalBytes: files.reduce((sum, file) => sum + file.size, 0),
    cardFile,
    card,
    trust,
  };
  if (options.dryRun) return report;

  const results = standing.current.map((result) => `${result.device}${result.report.emulated ? ' (emulated)' : ''}: ${result.report.status}`);
  report.upload = await uploadToHub({
    repo: options.repo,
    branch: options.revision,
    private: options.private,
    title: options.message ?? `Publish ${manifest.name} (phiforge ${manifest.phiforge.version})`,
    description: [`Artifact ${manifest.name}, ${manifest.files.length} files as listed in manifest.json.`, standing.passed ? `Validated on: ${results.join(', ')}.` : 'Not validated (--allow-unvalidated).'].join('\n'),
    files: uploads,
    accessToken: token!,
    onProgress: options.onProgress,
  });
  return report;
}

/** The signers of each shown result, for the card: only signatures of this very manifest.json. */
function currentResultSignatures(files: string[], signatures: Map<string, ResultSignature>): Array<{ file: string; signers: string[] }> {
  return files.flatMap((file) => {
    const signature = signatures.get(file);
    return signature?.signed && signature.forThisManifest ? [{ file, signers: signature.signers.map((signer) => signer.keyId) }] : [];
  });
}
