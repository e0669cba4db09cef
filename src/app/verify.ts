import { mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import path from 'node:path';
import { readManifest, type Manifest } from '../artifact/manifest.js';
import type { Context } from '../context.js';
import { executePlan } from '../engine/build.js';
import { planRecipe } from '../pipeline/plan.js';
import { recipeFromManifest } from '../pipeline/resolve.js';

/**
 * Rebuilds an artifact from its manifest alone, in a fresh step cache, and compares every file's
 * digest. Venvs are shared with the main cache: they are installed from hash-checked locks, so they
 * are the same environment, and remaking them would only cost time.
 */
export type VerifyReport = ReturnType<typeof compare>;

export async function verifyArtifacts(context: Context, artifactDirs: string[], options: { keep?: boolean }): Promise<VerifyReport[]> {
  const reports = [];
  for (const artifactDir of artifactDirs) reports.push(await verifyOne(context, artifactDir, options));
  return reports;
}

async function verifyOne(context: Context, artifactDir: string, options: { keep?: boolean }): Promise<VerifyReport> {
  const published = await readManifest(artifactDir);
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
    return compare(artifactDir, published, await readManifest(result.artifactDir));
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
  for (const file of report.presentNotCompared) lines.push(`  present, not byte-compared (a compiled device blob differs between compiles): ${file}`);
  for (const file of report.differing) lines.push(`  differs: ${file}`);
  for (const file of report.missing) lines.push(`  missing from the rebuild: ${file}`);
  for (const file of report.extra) lines.push(`  only in the rebuild: ${file}`);
  for (const change of report.changedInputs) lines.push(`  input changed: ${change}`);
  return lines.join('\n');
}
