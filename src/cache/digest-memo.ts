import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { BigIntStats } from 'node:fs';
import path from 'node:path';
import type { DigestLookup } from './digest.js';

/**
 * Remembers the sha256 of files by what stat() says of them, as git's index and DVC's state do: a
 * file whose size, inode, and nanosecond mtime and ctime are all unchanged is not read again (ctime
 * cannot be set back, so a rewrite that restores the mtime is still noticed). Real checkpoints
 * and their exports are gigabytes, and every build and validate checks every input and cached
 * output; without this each of them re-read it all.
 *
 * One memo per cache root, in `<cache>/digests.json`, written once when the process exits. A lost
 * write (a crash, two processes at once) only means hashing again.
 */
interface Remembered {
  size: number;
  ino: string;
  mtimeNs: string;
  ctimeNs: string;
  sha256: string;
}

// A file changed within the same clock tick as its hashing can keep its mtime; like git, do not
// trust a stamp that recent, and hash such files again next time.
export const RACY_WINDOW_NS = 2_000_000_000n;

const open = new Map<string, DigestMemo>();
let flushOnExit = false;

export class DigestMemo implements DigestLookup {
  private changed = false;

  private constructor(
    private readonly file: string,
    private readonly known: Map<string, Remembered>,
  ) {}

  /** The memo of a cache root, read once per process. */
  static of(cacheRoot: string): DigestMemo {
    const file = path.join(cacheRoot, 'digests.json');
    let memo = open.get(file);
    if (!memo) {
      memo = new DigestMemo(file, readMemo(file));
      open.set(file, memo);
      if (!flushOnExit) {
        flushOnExit = true;
        process.on('exit', () => open.forEach((each) => each.save()));
      }
    }
    return memo;
  }

  /** The remembered digest when `info` is still what it was; undefined means hash the file. */
  lookup(absolute: string, info: BigIntStats): string | undefined {
    const remembered = this.known.get(absolute);
    if (!remembered) return undefined;
    return canonicalStamp(remembered) === canonicalStamp(stampOf(info)) ? remembered.sha256 : undefined;
  }

  remember(absolute: string, info: BigIntStats, sha256: string): void {
    const age = BigInt(Date.now()) * 1_000_000n - (info.mtimeNs > info.ctimeNs ? info.mtimeNs : info.ctimeNs);
    if (age < RACY_WINDOW_NS) {
      this.forget(absolute);
      return;
    }
    this.known.set(absolute, { ...stampOf(info), sha256 });
    this.changed = true;
  }

  /**
   * A step output phiforge has just made, hashed in a private folder after its writer exited, whose
   * stamp `before` (taken before the hash) is still `after` once moved into the cache: nothing can
   * have changed it unseen, so the racy window does not apply. Without this the next recipe of the
   * same build that reuses it hashes it all again (7.2 s for a full-size shared IR).
   */
  rememberProduced(absolute: string, before: BigIntStats, after: BigIntStats, sha256: string): void {
    if (canonicalStamp(stampOf(before)) !== canonicalStamp(stampOf(after))) return this.forget(absolute);
    this.known.set(absolute, { ...stampOf(after), sha256 });
    this.changed = true;
  }

  private forget(absolute: string): void {
    if (this.known.delete(absolute)) this.changed = true;
  }

  /** Written synchronously: this runs in the process's exit handler. */
  save(): void {
    if (!this.changed) return;
    for (const file of this.known.keys()) if (!existsSync(file)) this.known.delete(file);
    try {
      const temporary = `${this.file}.${process.pid}`;
      writeFileSync(temporary, JSON.stringify(Object.fromEntries(this.known)));
      renameSync(temporary, this.file);
      this.changed = false;
    } catch {
      // The cache root may be gone (cache clean) or read-only: the next run hashes again.
    }
  }
}

function stampOf(info: BigIntStats): Omit<Remembered, 'sha256'> {
  return { size: Number(info.size), ino: String(info.ino), mtimeNs: String(info.mtimeNs), ctimeNs: String(info.ctimeNs) };
}

function canonicalStamp(stamp: Omit<Remembered, 'sha256'>): string {
  return `${stamp.size}:${stamp.ino}:${stamp.mtimeNs}:${stamp.ctimeNs}`;
}

function readMemo(file: string): Map<string, Remembered> {
  try {
    return new Map(Object.entries(JSON.parse(readFileSync(file, 'utf8')) as Record<string, Remembered>));
  } catch {
    return new Map();
  }
}
