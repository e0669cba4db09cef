import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { canonicalJson, sha256, type FileDigest } from './digest.js';

/**
 * Figures computed from a set of files (the weights an IR holds by precision), kept under the
 * digest of those files' digests: the same bytes give the same figures, so a cached rebuild does
 * not parse a large graph again. A lost or unreadable entry only means computing it again.
 */
export async function derivedFromFiles<T>(cacheRoot: string, kind: string, files: FileDigest[], compute: () => Promise<T>): Promise<T> {
  const key = sha256(canonicalJson(files.map(({ path: file, sha256: digest }) => [file, digest]).sort()));
  const entry = path.join(cacheRoot, 'derived', kind, `${key}.json`);
  try {
    return (JSON.parse(await readFile(entry, 'utf8')) as { value: T }).value;
  } catch {
    const value = await compute();
    try {
      await mkdir(path.dirname(entry), { recursive: true });
      const partial = `${entry}.${process.pid}.tmp`;
      await writeFile(partial, JSON.stringify({ value }));
      await rename(partial, entry);
    } catch {
      // A read-only or full cache still builds; the figures are computed again next time.
    }
    return value;
  }
}
