import { createHash } from 'node:crypto';
import type { BigIntStats } from 'node:fs';
import { open, readdir, stat, type FileHandle } from 'node:fs/promises';
import path from 'node:path';

export function sha256(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

const HASH_CHUNK_BYTES = 16 << 20;

/**
 * A file's sha256, read into two buffers in turn: the next read runs on libuv's pool while this
 * chunk is hashed, and no chunk is allocated. With a stream's fresh buffer per chunk the garbage
 * collector cost nearly as much as the hash: after a full-size INT4 export, hashing its 2.6 GB of
 * weights took 5.6 s (2.7 s on an idle machine); this way it takes 2.0 s.
 */
export async function sha256File(file: string): Promise<string> {
  const handle = await open(file, 'r');
  try {
    return (await sha256OfOpenFile(handle))!;
  } finally {
    await handle.close();
  }
}

/**
 * sha256File's reading, on a file already open. `stillWanted` is asked before each further read;
 * when it answers false the hash is given up and the result is undefined.
 */
export async function sha256OfOpenFile(handle: FileHandle, stillWanted?: () => Promise<boolean>): Promise<string | undefined> {
  const hash = createHash('sha256');
  const chunk = Math.max(1, Math.min(HASH_CHUNK_BYTES, (await handle.stat()).size));
  const buffers = [Buffer.allocUnsafe(chunk), Buffer.allocUnsafe(chunk)];
  let position = 0;
  let pending = handle.read(buffers[0], 0, chunk, position);
  for (let turn = 1; ; turn++) {
    const { bytesRead, buffer } = await pending;
    if (bytesRead === 0) break;
    position += bytesRead;
    // Asked before the next read starts, so that giving up leaves no read running on the handle.
    if (stillWanted && !(await stillWanted())) return undefined;
    pending = handle.read(buffers[turn % 2], 0, chunk, position);
    hash.update(buffer.subarray(0, bytesRead));
  }
  return hash.digest('hex');
}

/** JSON with keys sorted at every level, so equal values always hash equally. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, inner: unknown) =>
    inner && typeof inner === 'object' && !Array.isArray(inner)
      ? Object.fromEntries(Object.entries(inner as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : inner,
  );
}

/** Digests known by what stat() says of a file (the memo in the cache, the hashes taken while a converter ran). */
export interface DigestLookup {
  /** The digest when `info` still describes the file it was taken of; undefined means hash it. */
  lookup(absolute: string, info: BigIntStats): string | undefined;
  remember(absolute: string, info: BigIntStats, sha256: string): void;
}

export interface FileDigest {
  /** Path relative to the folder, with forward slashes. */
  path: string;
  size: number;
  sha256: string;
}

// Hashes running now, by file and stamp: recipes planned side by side share one model, and each
// asking for its digest would otherwise read it again (three 7.6 GB reads for three variants).
const hashing = new Map<string, Promise<string>>();

/** A file's size and sha256; with a memo, read only when stat() says it may have changed. */
export async function fileDigest(file: string, memo?: DigestLookup): Promise<{ size: number; sha256: string }> {
  const absolute = path.resolve(file);
  const info = await stat(absolute, { bigint: true });
  const remembered = memo?.lookup(absolute, info);
  if (remembered) return { size: Number(info.size), sha256: remembered };
  const running = `${absolute}\0${info.ino}\0${info.size}\0${info.mtimeNs}\0${info.ctimeNs}`;
  let digest = hashing.get(running);
  if (!digest) {
    digest = sha256File(absolute).finally(() => hashing.delete(running));
    hashing.set(running, digest);
  }
  const sha256 = await digest;
  memo?.remember(absolute, info, sha256);
  return { size: Number(info.size), sha256 };
}

/** The paths of every regular file under `root`, relative, with forward slashes (symlinks followed, as the HF cache is made of them). */
export async function regularFiles(root: string, exclude?: (relative: string) => boolean): Promise<string[]> {
  const files: string[] = [];
  async function walk(relative: string): Promise<void> {
    for (const entry of await readdir(path.join(root, relative), { withFileTypes: true })) {
      const child = relative ? `${relative}/${entry.name}` : entry.name;
      if (exclude?.(child)) continue;
      const info = await stat(path.join(root, child));
      if (info.isDirectory()) await walk(child);
      else if (info.isFile()) files.push(child);
    }
  }
  await walk('');
  return files.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Every regular file under `root` with its size and sha256, sorted by path. */
export async function digestFolder(root: string, options: { exclude?: (relative: string) => boolean; memo?: DigestLookup } = {}): Promise<FileDigest[]> {
  const files: FileDigest[] = [];
  for (const child of await regularFiles(root, options.exclude)) files.push({ path: child, ...(await fileDigest(path.join(root, child), options.memo)) });
  return files;
}

/** What stat() says of every regular file under `root`, by the paths digestFolder gives them. */
export async function stampsOf(root: string): Promise<Map<string, BigIntStats>> {
  const stamps = new Map<string, BigIntStats>();
  for (const child of await regularFiles(root)) stamps.set(child, await stat(path.join(root, child), { bigint: true }));
  return stamps;
}
