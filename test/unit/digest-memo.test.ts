import { createHash, randomBytes } from 'node:crypto';
import { readFile, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { fileDigest, sha256File } from '../../src/cache/digest.js';
import { DigestMemo } from '../../src/cache/digest-memo.js';
import { workspace } from '../support/cli.js';

// Unchanged files are not re-read; any rewrite, even one that puts the mtime back, is.

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

describe('digest memo', () => {
  it('remembers settled files, re-hashes rewritten ones, and does not trust files changed a moment ago', async () => {
    const root = await workspace({ 'settled.bin': 'original', 'fresh.bin': 'just made', 'cache/.keep': '' });
    const memo = DigestMemo.of(path.join(root, 'cache'));
    const settled = path.join(root, 'settled.bin');
    const fresh = path.join(root, 'fresh.bin');

    // Hashing a file written within the last two seconds does not remember it (its clock tick may not be over).
    expect((await fileDigest(fresh, memo)).sha256).toBe(sha256('just made'));
    expect(memo.lookup(fresh, await stat(fresh, { bigint: true }))).toBeUndefined();

    await sleep(2100);
    expect((await fileDigest(settled, memo)).sha256).toBe(sha256('original'));
    expect(memo.lookup(settled, await stat(settled, { bigint: true }))).toBe(sha256('original'));
    memo.save();
    expect(Object.keys(JSON.parse(await readFile(path.join(root, 'cache', 'digests.json'), 'utf8')))).toEqual([settled]);

    // Same size, mtime set back: ctime still moves, so the new bytes are read.
    const before = await stat(settled);
    await writeFile(settled, 'ORIGINAL');
    await utimes(settled, before.atime, before.mtime);
    expect((await fileDigest(settled, memo)).sha256).toBe(sha256('ORIGINAL'));
  });
});

describe('sha256File', () => {
  it('gives the sha256 of the whole file for an empty file, one shorter than a read and one of several reads with a short last one', async () => {
    const root = await workspace({ 'empty.bin': '' });
    expect(await sha256File(path.join(root, 'empty.bin'))).toBe(sha256(''));
    // 16 MiB is one read: 40 MiB + 3 bytes takes three, the last one short.
    for (const size of [5, (40 << 20) + 3]) {
      const content = randomBytes(size);
      const file = path.join(root, `${size}.bin`);
      await writeFile(file, content);
      expect(await sha256File(file), `${size} bytes`).toBe(createHash('sha256').update(content).digest('hex'));
    }
  });
});
