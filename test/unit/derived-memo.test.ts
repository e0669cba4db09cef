import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { derivedFromFiles } from '../../src/cache/derived-memo.js';

describe('figures derived from files', () => {
  it('are computed once for the same bytes, again when a digest changes, and not mixed up between kinds', async () => {
    const cache = await mkdtemp(path.join(os.tmpdir(), 'phiforge-derived-'));
    const files = [{ path: 'openvino_model.xml', size: 10, sha256: 'a'.repeat(64) }, { path: 'openvino_model.bin', size: 20, sha256: 'b'.repeat(64) }];
    let computed = 0;
    const count = () => Promise.resolve({ four_bit: ++computed });
    expect(await derivedFromFiles(cache, 'weights-1', files, count)).toEqual({ four_bit: 1 });
    // Listed in another order: the same bytes.
    expect(await derivedFromFiles(cache, 'weights-1', [...files].reverse(), count)).toEqual({ four_bit: 1 });
    expect(await derivedFromFiles(cache, 'weights-1', [files[0], { ...files[1], sha256: 'c'.repeat(64) }], count)).toEqual({ four_bit: 2 });
    expect(await derivedFromFiles(cache, 'weights-2', files, count)).toEqual({ four_bit: 3 });
    expect(computed).toBe(3);
  });

  it('still answers when the cache cannot be written', async () => {
    // A file where the cache folder should be: nothing can be created below it.
    const notAFolder = path.join(await mkdtemp(path.join(os.tmpdir(), 'phiforge-derived-')), 'cache');
    await writeFile(notAFolder, '');
    const figures = await derivedFromFiles(notAFolder, 'weights-1', [], () => Promise.resolve(7));
    expect(figures).toBe(7);
  });
});
