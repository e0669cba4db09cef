import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { DigestMemo } from '../cache/digest-memo.js';
import { fileDigest } from '../cache/digest.js';
import { ArtifactMismatchError } from '../errors.js';
import { isArtifactFile, type FileEntry } from './manifest.js';

/** Every file under `root` that belongs to the artifact (not manifest.json, validation/, a model card). */
async function artifactFiles(root: string): Promise<string[]> {
  const found: string[] = [];
  async function walk(relative: string): Promise<void> {
    for (const entry of await readdir(path.join(root, relative), { withFileTypes: true })) {
      const child = relative ? `${relative}/${entry.name}` : entry.name;
      if (!isArtifactFile(child)) continue;
      const info = await stat(path.join(root, child));
      if (info.isDirectory()) await walk(child);
      else found.push(child);
    }
  }
  await walk('');
  return found.sort();
}

/**
 * Checks that `dir` holds exactly the files its manifest lists, each with its recorded size and
 * sha256: what validation runs must be the bytes that ship. Throws ArtifactMismatchError naming
 * every changed, missing and unlisted file. With a memo, files whose size, inode and times are
 * what they were when last hashed are not read again (ctime cannot be set back by a rewrite).
 */
export async function checkArtifact(dir: string, files: FileEntry[], memo?: DigestMemo): Promise<void> {
  const present = new Set(await artifactFiles(dir));
  const listed = new Map(files.map((file) => [file.path, file]));
  const missing = [...listed.keys()].filter((file) => !present.has(file));
  const unlisted = [...present].filter((file) => !listed.has(file));
  const changed: string[] = [];
  for (const [file, entry] of listed) {
    if (!present.has(file)) continue;
    const absolute = path.join(dir, file);
    // A file of another size has changed: no need to read it.
    if ((await stat(absolute)).size !== entry.size || (await fileDigest(absolute, memo)).sha256 !== entry.sha256) changed.push(file);
  }
  if (changed.length + missing.length + unlisted.length > 0) throw new ArtifactMismatchError(dir, changed, missing, unlisted);
}
