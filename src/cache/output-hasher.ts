import type { BigIntStats } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import path from 'node:path';
import { regularFiles, sha256OfOpenFile, type DigestLookup } from './digest.js';
import { RACY_WINDOW_NS } from './digest-memo.js';

const POLL_MS = 250;
// Half a second without a write: any later write then gets a later mtime wherever stamps have
// sub-second precision (ext4, xfs, btrfs, APFS, NTFS: a clock tick is at most 10 ms). Whole-second
// stamps (ext3, FAT, HFS+) wait the digest memo's racy window.
const FINE_STAMP_SETTLE_NS = 500_000_000n;
// How often a hash under way checks that its file has not been written to or deleted meanwhile.
const LOOK_AGAIN_MS = 100;

/**
 * Settled: no write for long enough that a later one must change the mtime. The ctime does not
 * count here: moving a finished file into out/ (optimum-cli does, for every quantized export) sets
 * it without touching the bytes.
 */
function settled(info: BigIntStats): boolean {
  const window = info.mtimeNs % 1_000_000_000n !== 0n ? FINE_STAMP_SETTLE_NS : RACY_WINDOW_NS;
  return BigInt(Date.now()) * 1_000_000n - info.mtimeNs >= window;
}

/** The file, whatever its name: a rename keeps its inode, size and mtime; a write changes the mtime. */
function identity(info: BigIntStats): string {
  return `${info.dev}:${info.ino}:${info.size}:${info.mtimeNs}`;
}

/**
 * Hashes a step's output files in the last moments of its converter. optimum-cli moves a full-size
 * INT4 export's 2.8 GB of weights into out/ about a second before it exits (freeing its memory takes
 * the rest); hashing them only after that cost 2.0 s, most of what phiforge added to the export.
 *
 * - Only out/ is watched, though optimum writes its files earlier in its temporary folder: hashing
 *   there (a 7.6 GB uncompressed intermediate among them) slowed the converter more than it saved,
 *   and lowering the hash's CPU priority does not help: a full-size INT4 export took 118.6 s instead
 *   of 92.5 s beside a `nice -n 19 sha256sum` loop.
 * - A file is hashed once settled, and its digest is used only for a file that is still the same
 *   one, with the same size and mtime, after the converter exits: a file the converter rewrote is
 *   hashed again. A hash is given up as soon as its file is written to or deleted. (A writer through
 *   a shared memory mapping could change bytes without a new mtime; the converters write with plain
 *   writes.)
 */
export class OutputHasher implements DigestLookup {
  private readonly known = new Map<string, string>();
  private watching = true;
  private wake: () => void = () => undefined;
  private readonly loop: Promise<void>;

  constructor(private readonly output: string) {
    this.loop = this.watch();
  }

  lookup(_absolute: string, info: BigIntStats): string | undefined {
    return this.known.get(identity(info));
  }

  remember(_absolute: string, info: BigIntStats, sha256: string): void {
    this.known.set(identity(info), sha256);
  }

  private async watch(): Promise<void> {
    while (this.watching) {
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        setTimeout(resolve, POLL_MS).unref();
      });
      // Files come and go while a converter runs: one that vanishes is skipped, the next look finds the rest.
      for (const relative of await regularFiles(this.output).catch(() => [])) {
        if (!this.watching) break;
        await this.hashIfSettled(path.join(this.output, relative)).catch(() => undefined);
      }
    }
  }

  private async hashIfSettled(file: string): Promise<void> {
    const seen = await stat(file, { bigint: true });
    if (!settled(seen) || this.lookup(file, seen)) return;
    const handle = await open(file, 'r');
    try {
      const before = await handle.stat({ bigint: true });
      if (identity(before) !== identity(seen)) return;
      let lastLook = performance.now();
      const unchanged = async () => {
        if (performance.now() - lastLook < LOOK_AGAIN_MS) return true;
        lastLook = performance.now();
        const now = await handle.stat({ bigint: true });
        return now.nlink > 0n && identity(now) === identity(before);
      };
      const sha256 = await sha256OfOpenFile(handle, unchanged);
      const after = await handle.stat({ bigint: true });
      if (sha256 && after.nlink > 0n && identity(after) === identity(before)) this.remember(file, before, sha256);
    } finally {
      await handle.close();
    }
  }

  /** Called once the converter has exited: stops watching, and finishes a hash under way. */
  async stop(): Promise<void> {
    this.watching = false;
    this.wake();
    await this.loop;
  }
}
