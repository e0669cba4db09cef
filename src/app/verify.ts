import { mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import path from 'node:path';
import { inspectArtifactFolder } from '../artifact/check.js';
import { describeTensorDifference } from '../artifact/diff.js';
import { readManifest, type Manifest } from '../artifact/manifest.js';
import { explainDifferences, type FileDifference } from '../backends/artifact-diff.js';
import type { PublicKey } from '../artifact/keys.js';
import type { Context } from '../context.js';
import { executePlan } from '../engine/build.js';
import { planRecipe } from '../pipeline/plan.js';
import { recipeFromManifest } from '../pipeline/resolve.js';
import { checkArtifactTrust, describeTrust, type ArtifactTrust } from './trust.js';

/**
 * Rebuilds an artifact from its manifest alone, in a fresh step cache, and compares every file's
 * digest. Venvs are shared with the main cache: they are installed from hash-checked locks, so they
 * are the same environment, and remaking them would only cost time. Each file that differs is looked
 * into before the rebuild is removed: the tensors of a weights file, a diff of a text file.
 */
export type VerifyReport = ReturnType<typeof compare> & {
  /** Why each differing file differs, in the order of `differing`. */
  differences: FileDifference[];
  /** The folder's own files against its manifest and signatures, checked before the rebuild. */
  trust?: ArtifactTrust;
};

export async function verifyArtifacts(context: Context, artifactDirs: string[], options: { keep?: boolean; trusted?: PublicKey[] }): Promise<VerifyReport[]> {
  const reports = [];
  for (const artifactDir of artifactDirs) reports.push(await verifyOne(context, artifactDir, options));
  return reports;
}

async function verifyOne(context: Context, artifactDir: string, options: { keep?: boolean; trusted?: PublicKey[] }): Promise<VerifyReport> {
  // Refuses a manifest.json (or anything else) that is a link out of the folder or a FIFO before reading it.
  const folder = await inspectArtifactFolder(artifactDir);
  const published = await readManifest(artifactDir);
  // The folder itself first, before anything is rebuilt: a changed, missing or unlisted file, or a
  // signature that does not hold, fails here in seconds (what `verify --no-rebuild` does alone).
  const { manifest: _checked, folder: _walked, ...trust } = await checkArtifactTrust(artifactDir, { trusted: options.trusted });
  const recipe = await recipeFromManifest(artifactDir);
  await mkdir(context.cacheRoot, { recursive: true });
  const scratch = await mkdtemp(path.join(context.cacheRoot, 'verify-'));
  for (const shared of ['toolchains', 'tools']) {
    await mkdir(path.join(context.cacheRoot, shared), { recursive: true });
    await symlink(path.join(context.cacheRoot, shared), path.join(scratch, shared));
  }
  const fresh: Context = { ...context, cacheRoot: scratch, outRoot: path.join(scratch, 'dist') };
  try {
    const result = await executePlan(fresh, await planRecipe(fresh, recipe));
    const report = compare(artifactDir, published, await readManifest(result.artifactDir));
    return { ...report, differences: await explainDifferences(folder, result.artifactDir, report.differing), trust };
  } finally {
    if (!options.keep) await rm(scratch, { recursive: true, force: true });
    else context.say(`rebuild kept in ${scratch}`);
  }
}

/**
 * A compiled device blob embeds the compiler's own state (it differs between two compiles of the same
 * IR here), so it is checked for presence only; everything else is compared byte for byte.
 */
const COMPILED_BLOB = /\.blob$/;

function compare(artifact: string, published: Manifest, rebuilt: Manifest) {
  const notCompared = published.files.map((file) => file.path).filter((file) => COMPILED_BLOB.test(file));
  const before = new Map(published.files.filter((file) => !COMPILED_BLOB.test(file.path)).map((file) => [file.path, file.sha256]));
  const after = new Map(rebuilt.files.filter((file) => !COMPILED_BLOB.test(file.path) || !notCompared.includes(file.path)).map((file) => [file.path, file.sha256]));
  for (const file of notCompared) after.delete(file);
  const identicalFiles = [...before].filter(([file, digest]) => after.get(file) === digest).map(([file]) => file);
  const differing = [...before].filter(([file, digest]) => after.has(file) && after.get(file) !== digest).map(([file]) => file);
  const missing = [...before.keys()].filter((file) => !after.has(file));
  const extra = [...after.keys()].filter((file) => !before.has(file));
  const missingBlobs = notCompared.filter((file) => !rebuilt.files.some((each) => each.path === file));
  return {
    artifact,
    identical: differing.length + missing.length + extra.length + missingBlobs.length === 0,
    identicalFiles,
    differing,
    missing: [...missing, ...missingBlobs],
    extra,
    presentNotCompared: notCompared.filter((file) => !missingBlobs.includes(file)),
    changedInputs: changedInputs(published, rebuilt),
  };
}

/** Which recorded input differs between the published build and the rebuild: the likely cause of a mismatch. */
function changedInputs(published: Manifest, rebuilt: Manifest): string[] {
  const changes: string[] = [];
  if (published.phiforge.version !== rebuilt.phiforge.version) changes.push(`phiforge ${published.phiforge?.version} -> ${rebuilt.phiforge?.version}`);
  const modelBefore = new Map(published.model.files.map((file) => [file.path, file.sha256]));
  for (const file of rebuilt.model?.files ?? []) {
    if (modelBefore.get(file.path) !== file.sha256) changes.push(`model file ${file.path} ${modelBefore.has(file.path) ? 'has other bytes' : 'is new'}`);
  }
  for (const [name, toolchain] of Object.entries(published.toolchains)) {
    const now = rebuilt.toolchains?.[name]?.lockDigest;
    if (now && now !== toolchain.lockDigest) changes.push(`toolchain ${name} lock ${toolchain.lockDigest.slice(0, 12)} -> ${now.slice(0, 12)}`);
  }
  const keysBefore = new Map(published.steps.map((step) => [step.id, step.key]));
  for (const step of rebuilt.steps ?? []) {
    if (keysBefore.has(step.id) && keysBefore.get(step.id) !== step.key) changes.push(`step ${step.id} has another cache key (its inputs, params, scripts or toolchain changed)`);
  }
  return changes;
}

export function describeVerify(report: VerifyReport): string {
  const lines = [`${report.artifact}: ${report.identical ? 'reproduced bit for bit' : 'NOT reproduced'} (${report.identicalFiles.length} identical file(s))`];
  if (report.trust) lines.push(...describeTrust(report.trust).map((line) => `  ${line}`));
  for (const file of report.presentNotCompared) lines.push(`  present, not byte-compared (a compiled device blob differs between compiles): ${file}`);
  for (const file of report.differing) {
    lines.push(`  differs: ${file}`);
    const difference = report.differences.find((each) => each.file === file);
    if (difference) lines.push(...describeDifference(difference).map((line) => `    ${line}`));
  }
  for (const file of report.missing) lines.push(`  missing from the rebuild: ${file}`);
  for (const file of report.extra) lines.push(`  only in the rebuild: ${file}`);
  for (const change of report.changedInputs) lines.push(`  input changed: ${change}`);
  return lines.join('\n');
}

/** What verify prints under a differing file: the tensors that differ, or the diff, or where the bytes part. */
function describeDifference(difference: FileDifference): string[] {
  switch (difference.kind) {
    case 'tensors': {
      const { tensors } = difference;
      const lines = [`${tensors.tensors.length} of ${tensors.compared} tensor(s) listed in ${difference.graph} differ${difference.note ? `; ${difference.note}` : ''}`];
      lines.push(...tensors.tensors.map((tensor) => `tensor ${describeTensorDifference(tensor)}`));
      if (tensors.onlyInPublished.length) lines.push(`only in the artifact: ${tensors.onlyInPublished.join(', ')}`);
      if (tensors.onlyInRebuilt.length) lines.push(`only in the rebuild: ${tensors.onlyInRebuilt.join(', ')}`);
      return lines;
    }
    case 'text': {
      const { diff, omittedLines, note } = difference.text;
      return [...(note ? [`(${note})`] : []), ...(diff ? diff.split('\n') : []), ...(omittedLines ? [`... ${omittedLines} more line(s) of the diff (--keep keeps the rebuild to compare in full)`] : [])];
    }
    case 'binary': {
      const { sizes, firstDifferenceAt, differingBytes } = difference.binary;
      return [`binary: ${sizes.published} bytes in the artifact, ${sizes.rebuilt} in the rebuild; first difference at byte ${firstDifferenceAt}, ${differingBytes} byte(s) differ over the length both have`];
    }
    case 'unexplained':
      return [`(not looked into: ${difference.reason})`];
  }
}

/** A few words for the error's summary: which tensors of a weights file differ, or what kind of file it is. */
export function summarizeDifference(report: VerifyReport, file: string): string {
  const difference = report.differences.find((each) => each.file === file);
  if (difference?.kind !== 'tensors' || difference.tensors.tensors.length === 0) return `${file} differs`;
  const names = difference.tensors.tensors.map((tensor) => tensor.name);
  return `${file} differs in ${names.length} tensor(s): ${names.slice(0, 3).join(', ')}${names.length > 3 ? ', ...' : ''}`;
}
