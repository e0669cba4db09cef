import { constants, existsSync, type Stats } from 'node:fs';
import { access, open, rm, stat, statfs, writeFile, type FileHandle } from 'node:fs/promises';
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
  // Writing a FIFO would wait for a reader, and a device is nobody's report.
  if (info && !info.isFile()) throw new UsageError(`${option} ${file} is ${fileKind(info)}, not a regular file`, `Name a regular file to write, e.g. ${option} reports/phiforge.xml.`);
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

/** What a path that is not a regular file is, in words: "a FIFO (named pipe)", "a character device". */
export function fileKind(info: Pick<Stats, 'isFile' | 'isDirectory' | 'isFIFO' | 'isSocket' | 'isCharacterDevice' | 'isBlockDevice'>): string {
  if (info.isFile()) return 'a regular file';
  if (info.isDirectory()) return 'a folder';
  if (info.isFIFO()) return 'a FIFO (named pipe)';
  if (info.isSocket()) return 'a socket';
  if (info.isCharacterDevice()) return 'a character device';
  if (info.isBlockDevice()) return 'a block device';
  return 'not a regular file';
}

/** Why readRegularFile read nothing: the file is not there, is not a regular file, is too large, or the system refused. */
export type Unreadable =
  | { reason: 'missing' }
  | { reason: 'not-a-file'; kind: string; folder: boolean }
  | { reason: 'too-large'; bytes?: number }
  | { reason: 'error'; code: string };

/**
 * Reads a file the user named, if it is a regular file of at most `maxBytes`. Anything else is
 * refused before it is opened: opening a FIFO waits for a writer (in a libuv thread that even
 * process.exit then waits for, so Ctrl-C cannot end phiforge), and /dev/zero or /dev/urandom never
 * end. The read itself is bounded too, in case the file grows or is swapped after the stat: it is
 * opened without blocking and checked again through the open handle.
 */
export async function readRegularFile(file: string, maxBytes: number): Promise<{ bytes: Buffer } | { unreadable: Unreadable }> {
  const failed = (error: unknown): { unreadable: Unreadable } => {
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    return { unreadable: code === 'ENOENT' || code === 'ENOTDIR' ? { reason: 'missing' } : { reason: 'error', code } };
  };
  const refused = (info: Stats): { unreadable: Unreadable } | undefined => {
    if (!info.isFile()) return { unreadable: { reason: 'not-a-file', kind: fileKind(info), folder: info.isDirectory() } };
    if (info.size > maxBytes) return { unreadable: { reason: 'too-large', bytes: info.size } };
    return undefined;
  };
  let info: Stats;
  try {
    info = await stat(file);
  } catch (error) {
    return failed(error);
  }
  const before = refused(info);
  if (before) return before;
  let handle: FileHandle;
  try {
    // O_NONBLOCK: a FIFO put in the file's place since the stat opens at once instead of waiting.
    handle = await open(file, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (error) {
    return failed(error);
  }
  try {
    const opened = refused(await handle.stat());
    if (opened) return opened;
    // One byte beyond the limit is enough to know the file is too large, however large it has grown.
    const limit = maxBytes + 1;
    let buffer = Buffer.allocUnsafe(Math.min(info.size + 1, limit));
    let length = 0;
    for (;;) {
      if (length === buffer.length) {
        if (length >= limit) break;
        const larger = Buffer.allocUnsafe(Math.min(buffer.length * 2, limit));
        buffer.copy(larger, 0, 0, length);
        buffer = larger;
      }
      const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    if (length > maxBytes) return { unreadable: { reason: 'too-large' } };
    return { bytes: buffer.subarray(0, length) };
  } catch (error) {
    return failed(error);
  } finally {
    await handle.close().catch(() => undefined);
  }
}

/**
 * Where `program` would be started from, without starting it: itself when it names a path, else the
 * first executable file of that name on PATH, as execvp looks. For checks made before work begins.
 */
export async function findProgram(program: string): Promise<string | undefined> {
  const extensions = process.platform === 'win32' ? ['', ...(process.env.PATHEXT ?? '.EXE').split(';')] : [''];
  const bases = program.includes('/') || program.includes(path.sep) ? [path.resolve(program)] : (process.env.PATH ?? '').split(path.delimiter).filter(Boolean).map((dir) => path.join(dir, program));
  for (const candidate of bases.flatMap((base) => extensions.map((extension) => base + extension))) {
    try {
      if (!(await stat(candidate)).isFile()) continue;
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here, or not executable: look further
    }
  }
  return undefined;
}
