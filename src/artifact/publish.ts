import { constants, existsSync } from 'node:fs';
import { copyFile, link, mkdir, readdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { DigestMemo } from '../cache/digest-memo.js';
import { canonicalJson, sha256, type FileDigest } from '../cache/digest.js';
import { processAlive, withLock } from '../cache/lock.js';
import { refuseForeignArtifactFolder, removeInside } from '../cache/ownership.js';
import { checkArtifact, writeIntoArtifact } from './check.js';
import { MANIFEST_FILE } from './manifest.js';

/** Files of one step output that go into the artifact. */
export interface ArtifactPart {
  dir: string;
  files: FileDigest[];
}

export interface Published {
  dir: string;
  /** False when dist/<name> already held exactly these files: nothing was copied, its validation/ stays. */
  replaced: boolean;
}

const LEFTOVER = (name: string) => new RegExp(`^\\.${name.replace(/[.]/g, '\\.')}\\.(partial|old)-(\\d+)-\\d+$`);

/**
 * Writes dist/<name>/ so that it is either the previous complete artifact or the new complete one,
 * never a mix: everything goes to a hidden sibling first, the manifest last, then renames. Files come
 * with the digests the step cache has just confirmed and are not hashed a second time: large ones
 * are hard-linked to the cache entry where both are on one filesystem (see placeFile), the rest are
 * copied (cloned where the filesystem can). When dist/<name> already holds exactly these files, only its
 * manifest is rewritten (if it changed), so the device results beside it stay valid.
 *
 * One publisher per folder at a time (a lock in the cache); a publish that a kill cut short between
 * its two renames is rolled back to the previous artifact by the next one.
 */
export async function publishArtifact(
  cacheRoot: string,
  outRoot: string,
  name: string,
  parts: ArtifactPart[],
  manifest: (files: FileDigest[]) => object,
  memo?: DigestMemo,
  say?: (line: string) => void,
): Promise<Published> {
  const finalDir = path.join(outRoot, name);
  await mkdir(outRoot, { recursive: true });
  return withLock(cacheRoot, `publish-${sha256(path.resolve(finalDir)).slice(0, 24)}`, async () => {
    await recoverInterrupted(outRoot, name);
    // Checked again under the lock: the folder may have changed since the build started.
    await refuseForeignArtifactFolder(outRoot, name, MANIFEST_FILE);
    const files = parts.flatMap((part) => part.files).sort((a, b) => (a.path < b.path ? -1 : 1));
    const content = `${JSON.stringify(manifest(files), null, 2)}\n`;
    if (await holdsFiles(finalDir, files, memo)) {
      const current = await readFile(path.join(finalDir, MANIFEST_FILE), 'utf8').catch(() => '');
      if (current !== content) await writeIntoArtifact(finalDir, MANIFEST_FILE, content);
      return { dir: finalDir, replaced: false };
    }
    const suffix = `${process.pid}-${Date.now()}`;
    const staging = path.join(outRoot, `.${name}.partial-${suffix}`);
    await mkdir(staging, { recursive: true });
    try {
      for (const part of parts) {
        for (const file of part.files) {
          const target = path.join(staging, file.path);
          await mkdir(path.dirname(target), { recursive: true });
          await placeFile(path.join(part.dir, file.path), target, file.size);
          if ((await stat(target)).size !== file.size) throw new Error(`copying ${file.path} into ${staging} gave a different size`);
        }
      }
      await writeFile(path.join(staging, MANIFEST_FILE), content);
      if (existsSync(finalDir)) {
        const previous = path.join(outRoot, `.${name}.old-${suffix}`);
        await rename(finalDir, previous);
        await rename(staging, finalDir);
        await removeInside(outRoot, previous);
      } else {
        await rename(staging, finalDir);
      }
      return { dir: finalDir, replaced: true };
    } catch (error) {
      await removeInside(outRoot, staging);
      throw error;
    }
  }, say);
}

/**
 * Weight files (hundreds of MB to GB) are hard-linked: at full size, copying them took longer than
 * everything else phiforge does around the converter, and doubled the disk a build needs. Nothing
 * edits weights in place, and a cached output is never written again once committed (a rebuild makes
 * a new entry), so the link cannot change under the artifact; if someone did write into one, the
 * artifact's digest check would say so. Small files (configs, tokenizers, the chat template) are
 * the ones people edit, and are copied so that an edit in dist/ stays there. Another filesystem, or
 * one without hard links, gets copies.
 */
const LINK_FROM_BYTES = 16 * 2 ** 20;

async function placeFile(source: string, target: string, size: number): Promise<void> {
  if (size >= LINK_FROM_BYTES) {
    try {
      await link(source, target);
      return;
    } catch {
      // EXDEV, EPERM, EMLINK, ENOTSUP: copy instead.
    }
  }
  await copyFile(source, target, constants.COPYFILE_FICLONE);
}

/** Whether `dir` already holds exactly `files`, as its manifest lists them and as they are on disk. */
async function holdsFiles(dir: string, files: FileDigest[], memo?: DigestMemo): Promise<boolean> {
  try {
    const listed = (JSON.parse(await readFile(path.join(dir, MANIFEST_FILE), 'utf8')) as { files?: FileDigest[] }).files ?? [];
    const same = canonicalJson(listed.map(({ path: file, size, sha256: digest }) => ({ file, size, digest }))) === canonicalJson(files.map(({ path: file, size, sha256: digest }) => ({ file, size, digest })));
    if (!same) return false;
    // The manifest may describe files someone has since changed, removed or added: then republish.
    await checkArtifact(dir, files, memo);
    return true;
  } catch {
    return false;
  }
}



/**
 * A publisher killed between its renames leaves no dist/<name> and a `.name.old-*` holding the
 * previous artifact: put that back. Staging folders of dead publishers are removed.
 */
async function recoverInterrupted(outRoot: string, name: string): Promise<void> {
  const pattern = LEFTOVER(name);
  const finalDir = path.join(outRoot, name);
  for (const entry of (await readdir(outRoot)).sort().reverse()) {
    const match = pattern.exec(entry);
    if (!match || processAlive(Number(match[2]))) continue;
    const leftover = path.join(outRoot, entry);
    if (match[1] === 'old' && !existsSync(finalDir)) await rename(leftover, finalDir);
    else await removeInside(outRoot, leftover);
  }
}
