import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readdir, readlink, realpath, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { DigestMemo } from '../cache/digest-memo.js';
import { fileDigest } from '../cache/digest.js';
import { ArtifactEntryError, ArtifactMismatchError, type RefusedEntry } from '../errors.js';
import { isArtifactFile, type FileEntry } from './manifest.js';
import { fileKind } from '../exec/preflight.js';

// What phiforge reads from an artifact folder, ships from it and writes into it stays inside it.
// Every command that takes an artifact folder (validate, verify, publish, report) walks it here first,
// with lstat, before reading a byte: a link is followed only where it resolves to a regular file inside
// the folder (or to huggingface_hub's blob of a snapshot download), and a FIFO, socket or device is
// never opened (reading one blocks forever or reads a device). Files phiforge writes there replace
// whatever stands at their name (writeIntoArtifact) instead of writing through it.

/** An artifact folder as walked: every entry phiforge may read, and the regular file that holds it. */
export interface ArtifactFolder {
  /** The folder's real path (links on the way to it resolved). */
  root: string;
  /** By path relative to the folder (forward slashes): the regular file to read, the entry itself or where its accepted link leads. */
  files: Map<string, string>;
}

/**
 * huggingface_hub's cache keeps each file of a snapshot download once, in <repo>/blobs/<sha>, and
 * links <repo>/snapshots/<revision>/<file> to it: the folder the model card's snapshot_download gives.
 * Returns that blobs folder when `root` is (inside) such a snapshot, else undefined.
 */
async function hubBlobsOf(root: string): Promise<string | undefined> {
  for (let folder = root; path.dirname(folder) !== folder; folder = path.dirname(folder)) {
    const snapshots = path.dirname(folder);
    const repository = path.dirname(snapshots);
    if (path.basename(snapshots) === 'snapshots' && path.basename(repository).startsWith('models--')) {
      return realpath(path.join(repository, 'blobs')).catch(() => undefined);
    }
  }
  return undefined;
}

/**
 * Where the link at `absolute` leads, if phiforge may read it: a regular file inside `root`, or a blob
 * of the same huggingface_hub repository. Otherwise why not, in words that name where it points.
 */
async function followLink(absolute: string, root: string, blobs: string | undefined): Promise<{ real: string } | { problem: string }> {
  const text = await readlink(absolute);
  let real: string;
  try {
    real = await realpath(absolute);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') return { problem: `is a link to ${text} that loops back on itself` };
    if (code === 'ENOENT' || code === 'ENOTDIR') return { problem: `is a link to ${text}, which does not exist` };
    return { problem: `is a link to ${text}, which cannot be resolved (${code ?? (error as Error).message})` };
  }
  const shown = text === real ? text : `${text} (${real})`;
  // A folder first, wherever it is: walking one through a link could walk /, or the artifact again.
  const info = await stat(real);
  if (info.isDirectory()) return { problem: `is a link to a folder, ${shown}: phiforge does not follow links into folders` };
  const inside = real.startsWith(`${root}${path.sep}`);
  const blob = blobs !== undefined && path.dirname(real) === blobs;
  if (!inside && !blob) return { problem: `is a link to ${shown}, outside the artifact folder` };
  if (!info.isFile()) return { problem: `is a link to ${shown}, which is ${fileKind(info)}` };
  return { real };
}

/**
 * Walks an artifact folder without following a link out of it, and refuses it (ArtifactEntryError,
 * naming every offending entry and where it points) if anything in it is a link that does not resolve
 * to a regular file inside the folder or to its huggingface_hub blob, a link to a folder, or a FIFO,
 * socket or device. Hidden top-level entries (.git, huggingface_hub's .cache) are not the artifact:
 * phiforge neither reads nor writes them, so they are not walked.
 */
export async function inspectArtifactFolder(dir: string): Promise<ArtifactFolder> {
  const resolved = await realpath(dir).catch((error: NodeJS.ErrnoException) => {
    // No folder (or a file) holds nothing to refuse: the caller's read of its manifest then says what is missing, as before.
    if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return undefined;
    throw error;
  });
  if (resolved === undefined || !(await stat(resolved)).isDirectory()) return { root: path.resolve(dir), files: new Map() };
  const root = resolved;
  const blobs = await hubBlobsOf(root);
  const files = new Map<string, string>();
  const refused: RefusedEntry[] = [];
  async function walk(relative: string): Promise<void> {
    for (const entry of await readdir(path.join(root, relative), { withFileTypes: true })) {
      if (!relative && entry.name.startsWith('.')) continue;
      const child = relative ? `${relative}/${entry.name}` : entry.name;
      const absolute = path.join(root, child);
      // The Dirent says what the entry itself is (lstat where the file system does not tell): a link to a folder is never walked.
      if (entry.isDirectory()) await walk(child);
      else if (entry.isFile()) files.set(child, absolute);
      else if (entry.isSymbolicLink()) {
        const outcome = await followLink(absolute, root, blobs);
        if ('real' in outcome) files.set(child, outcome.real);
        else refused.push({ file: child, problem: outcome.problem });
      } else refused.push({ file: child, problem: `is ${fileKind(entry)}` });
    }
  }
  await walk('');
  if (refused.length > 0) throw new ArtifactEntryError(dir, refused.sort((a, b) => (a.file < b.file ? -1 : 1)));
  return { root, files };
}

/**
 * Checks that `dir` holds exactly the files its manifest lists, each with its recorded size and
 * sha256: what validation runs must be the bytes that ship. Throws ArtifactEntryError first for an
 * entry phiforge will not read (see inspectArtifactFolder), then ArtifactMismatchError naming every
 * changed, missing and unlisted file. With a memo, files whose size, inode and times are what they
 * were when last hashed are not read again (ctime cannot be set back by a rewrite).
 * Returns the folder as walked: publish uploads the regular files it names, never a link.
 */
export async function checkArtifact(dir: string, files: FileEntry[], memo?: DigestMemo): Promise<ArtifactFolder> {
  const folder = await inspectArtifactFolder(dir);
  const present = new Set([...folder.files.keys()].filter(isArtifactFile));
  const listed = new Map(files.map((file) => [file.path, file]));
  const missing = [...listed.keys()].filter((file) => !present.has(file));
  const unlisted = [...present].filter((file) => !listed.has(file)).sort();
  const changed: string[] = [];
  for (const [file, entry] of listed) {
    if (!present.has(file)) continue;
    const real = folder.files.get(file)!;
    // A file of another size has changed: no need to read it.
    if ((await stat(real)).size !== entry.size || (await fileDigest(real, memo)).sha256 !== entry.sha256) changed.push(file);
  }
  if (changed.length + missing.length + unlisted.length > 0) throw new ArtifactMismatchError(dir, changed, missing, unlisted);
  return folder;
}

/**
 * Writes `relative` (forward slashes) in an artifact folder: a new file beside it, then a rename over
 * whatever stands at that name. rename() replaces a link itself, never the file it points to, so a
 * README.md linked to a file elsewhere (or to huggingface_hub's shared blob) is left as it was. A
 * folder on the way that is a link is refused rather than written through. The temporary file is
 * hidden (never taken for an artifact file if a kill leaves it) and opened exclusively, so a link
 * that happens to stand at its name is not followed either.
 */
export async function writeIntoArtifact(dir: string, relative: string, content: string): Promise<string> {
  const parts = relative.split('/');
  let folder = dir;
  for (const [index, part] of parts.slice(0, -1).entries()) {
    folder = path.join(folder, part);
    const info = await lstat(folder).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw error;
    });
    if (info?.isSymbolicLink()) {
      const where = await readlink(folder);
      throw new ArtifactEntryError(dir, [{ file: parts.slice(0, index + 1).join('/'), problem: `is a link to ${where}: phiforge writes ${relative} into the artifact folder, never through a link` }]);
    }
    // Another validate writing its result may make it meanwhile: that is the folder wanted.
    if (!info) await mkdir(folder).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw error;
    });
  }
  const target = path.join(dir, relative);
  const temporary = path.join(folder, `.${parts.at(-1)}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`);
  try {
    await writeFile(temporary, content, { flag: 'wx' });
    await rename(temporary, target);
  } catch (error) {
    // EEXIST: something else stands at the temporary name; it is not phiforge's to remove.
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') await rm(temporary, { force: true });
    throw error;
  }
  return target;
}
