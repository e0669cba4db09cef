import { stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { checkArtifact } from '../artifact/check.js';
import { MANIFEST_FILE } from '../artifact/manifest.js';
import { ExitCode, HubError, NotValidatedError, UsageError } from '../errors.js';
import { hubToken, sourceLicense } from '../hub/hub.js';
import { uploadToHub, type FileToUpload, type UploadProgress, type UploadResult } from '../hub/upload.js';
import { modelCard, readQuantization, sourceModel } from '../report/model-card.js';
import { readArtifact } from '../report/rows.js';
import { readDeviceResultFiles, validationStanding } from '../validate/results.js';

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
  upload?: UploadResult;
}

function checkArguments(options: PublishOptions): void {
  if (!REPO_ID.test(options.repo)) throw new UsageError(`--repo ${options.repo}: expected <owner>/<name>`, 'For example --repo my-org/phi3-mini-4k-int4-ov.');
  if (!options.revision || /\s|\.\.|^[-/]|\/$/.test(options.revision)) throw new UsageError(`--revision ${options.revision}: not a branch name`, 'For example --revision main (the default) or --revision int4-g128.');
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
  // Read every byte: what goes to the Hub must be what the manifest and the device results name.
  await checkArtifact(dir, manifest.files);

  const resultFiles = await readDeviceResultFiles(dir);
  const standing = validationStanding(manifest.files, resultFiles.map(({ result }) => result));
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
  });
  const cardFile = path.join(dir, CARD_FILE);
  await writeFile(cardFile, card);

  // Results of other bytes stay behind: they say nothing of the files published.
  const current = new Set(standing.current);
  const describing = [MANIFEST_FILE, ...resultFiles.filter(({ result }) => current.has(result)).map(({ file }) => file)];
  const uploads: FileToUpload[] = [
    ...manifest.files.map((file) => ({ path: file.path, source: { file: path.join(dir, file.path) }, size: file.size })),
    ...(await Promise.all(describing.map(async (file) => ({ path: file, source: { file: path.join(dir, file) }, size: (await stat(path.join(dir, file))).size })))),
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
