import { constants, existsSync } from 'node:fs';
import { copyFile, mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { FileDigest } from '../cache/digest.js';

/**
 * Writes dist/<name>/ so that it is either the previous complete artifact or the new complete one,
 * never a mix: everything goes to a hidden sibling first, the manifest last, then one rename.
 * `files` are the source folder's files with the digests the step cache has just confirmed; they
 * are copied (cloned where the filesystem can) and not hashed a second time.
 */
export async function publishArtifact(
  outRoot: string,
  name: string,
  sourceDir: string,
  files: FileDigest[],
  manifest: (files: FileDigest[]) => object,
  /** Files written next to the manifest and, like it, outside the digest list: they describe the artifact, they are not it. */
  reports: Record<string, object> = {},
): Promise<string> {
  const finalDir = path.join(outRoot, name);
  const suffix = `${process.pid}-${Date.now()}`;
  const staging = path.join(outRoot, `.${name}.partial-${suffix}`);
  await mkdir(staging, { recursive: true });
  try {
    for (const file of files) {
      const target = path.join(staging, file.path);
      await mkdir(path.dirname(target), { recursive: true });
      await copyFile(path.join(sourceDir, file.path), target, constants.COPYFILE_FICLONE);
      if ((await stat(target)).size !== file.size) throw new Error(`copying ${file.path} into ${staging} gave a different size`);
    }
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
