import { existsSync } from 'node:fs';
import { rm, stat, statfs, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { InsufficientSpaceError, UsageError } from '../errors.js';

// Cheap checks made before anything expensive starts: a build that cannot write its results finds
// out in milliseconds, not after an hour of exporting.

/**
 * A folder phiforge will write into (--cache-dir, --out): it must be a folder, or not exist yet under
 * a folder this user can write to. Nothing is created: a command refused later leaves no trace.
 */
export async function ensureWritableFolder(dir: string, option: string): Promise<void> {
  const info = await stat(dir).catch(() => undefined);
  if (info && !info.isDirectory()) throw new UsageError(`${option} ${dir} is a file, not a folder`, `Point ${option} at a folder (it is created if missing).`);
  await probe(nearestExisting(dir), option, dir);
}

/** A file phiforge writes when it is done (--junit): it must not be a folder, and its folder must be writable. */
export async function ensureWritableFile(file: string, option: string): Promise<void> {
  const info = await stat(file).catch(() => undefined);
  if (info?.isDirectory()) throw new UsageError(`${option} ${file} is a folder`, `Name the file to write, e.g. ${option} reports/phiforge.xml.`);
  await probe(nearestExisting(path.dirname(path.resolve(file))), option, file);
}

function nearestExisting(target: string): string {
  let probe = path.resolve(target);
  while (!existsSync(probe) && path.dirname(probe) !== probe) probe = path.dirname(probe);
  return probe;
}

/** Writes and removes a hidden file in `dir`: the only sure way to know (read-only mounts, /proc, ACLs). */
async function probe(dir: string, option: string, target: string): Promise<void> {
  const file = path.join(dir, `.phiforge-probe-${process.pid}`);
  try {
    if (!(await stat(dir)).isDirectory()) throw Object.assign(new Error('not a folder'), { code: 'ENOTDIR' });
    await writeFile(file, '');
    await rm(file, { force: true });
  } catch (error) {
    throw unwritable(option, target, error);
  }
}

function unwritable(option: string, target: string, error: unknown): UsageError {
  const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
  return new UsageError(`${option} ${target}: cannot write there (${code})`, 'Pick a path on a writable file system where this user may create files.');
}

/** Free bytes on the file system holding `dir` (or its nearest existing ancestor). */
export async function freeBytes(dir: string): Promise<number | undefined> {
  const info = await statfs(nearestExisting(dir)).catch(() => undefined);
  return info && info.bavail * info.bsize;
}

/** Refuses to start what needs more disk than is free; estimates can be wrong, so the check can be switched off. */
export async function ensureFreeSpace(dir: string, neededBytes: number, purpose: string): Promise<void> {
  if (process.env.PHIFORGE_SKIP_SPACE_CHECK) return;
  const free = await freeBytes(dir);
  if (free !== undefined && neededBytes > free) throw new InsufficientSpaceError(dir, neededBytes, free, purpose);
}
