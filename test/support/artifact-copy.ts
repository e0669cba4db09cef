import { createHash } from 'node:crypto';
import { cp, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * A copy of an artifact with one file rewritten and listed again in the copy's manifest (size and
 * sha256), so the copy is otherwise consistent: what a build with another converter, runtime or
 * compiler would have shipped. The original stays as it is (its large files are hard links into the
 * step cache): the new file is written beside the copy's and renamed over it.
 */
export async function alteredCopy(artifact: string, copy: string, file: string, change: (bytes: Buffer) => Buffer): Promise<void> {
  await cp(artifact, copy, { recursive: true });
  const target = path.join(copy, file);
  const bytes = change(await readFile(target));
  await writeFile(`${target}.new`, bytes);
  await rename(`${target}.new`, target);
  const manifestFile = path.join(copy, 'manifest.json');
  const manifest = JSON.parse(await readFile(manifestFile, 'utf8'));
  const entry = manifest.files.find((listed: { path: string }) => listed.path === file);
  Object.assign(entry, { size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') });
  await writeFile(manifestFile, JSON.stringify(manifest, null, 2));
}
