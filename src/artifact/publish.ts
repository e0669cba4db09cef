import { existsSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { digestFolder, type FileDigest } from '../cache/digest.js';

/**
 * Writes dist/<name>/ so that it is either the previous complete artifact or the new complete one,
 * never a mix: everything goes to a hidden sibling first, the manifest last, then one rename.
 */
export async function publishArtifact(
  outRoot: string,
  name: string,
  sourceDir: string,
  manifest: (files: FileDigest[]) => object,
  /** Files written next to the manifest and, like it, outside the digest list: they describe the artifact, they are not it. */
  reports: Record<string, object> = {},
): Promise<string> {
  const finalDir = path.join(outRoot, name);
  const suffix = `${process.pid}-${Date.now()}`;
  const staging = path.join(outRoot, `.${name}.partial-${suffix}`);
  await mkdir(outRoot, { recursive: true });
  try {
    const { default: fse } = await import('fs-extra');
    await fse.copy(sourceDir, staging, { dereference: true, preserveTimestamps: false });
    const files = await digestFolder(staging);
    for (const [file, content] of Object.entries(reports)) await writeFile(path.join(staging, file), `${JSON.stringify(content, null, 2)}\n`);
    await writeFile(path.join(staging, 'manifest.json'), `${JSON.stringify(manifest(files), null, 2)}\n`);
    if (existsSync(finalDir)) {
      const previous = path.join(outRoot, `.${name}.old-${suffix}`);
      await rename(finalDir, previous);
      await rename(staging, finalDir);
      await rm(previous, { recursive: true, force: true });
    } else {
      await rename(staging, finalDir);
    }
    return finalDir;
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    throw error;
  }
}
