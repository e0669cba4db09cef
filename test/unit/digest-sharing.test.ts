import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import type { Context } from '../../src/context.js';
import { fileDigest, sha256File } from '../../src/cache/digest.js';
import { DigestMemo } from '../../src/cache/digest-memo.js';
import { CONVERTER_TEMP_DIR, getOrProduce } from '../../src/cache/step-cache.js';
import { workspace } from '../support/cli.js';

// A file's bytes are read once however many parts of one build ask for its digest.

const opened = vi.hoisted(() => [] as string[]);
vi.mock('node:fs/promises', async (importOriginal) => {
  const original = await importOriginal<typeof import('node:fs/promises')>();
  const open: typeof original.open = (file, ...rest) => {
    opened.push(String(file));
    return original.open(file, ...rest);
  };
  return { ...original, default: { ...original, open }, open };
});

describe('reading each file once', () => {
  it('shares one hash among recipes that ask for the same file at the same time', async () => {
    const root = await workspace();
    const model = path.join(root, 'model.safetensors');
    await writeFile(model, randomBytes(3 << 20));
    opened.length = 0;
    const digests = await Promise.all([fileDigest(model), fileDigest(model), fileDigest(model)]);
    expect(new Set(digests.map((digest) => digest.sha256)).size).toBe(1);
    expect(opened.filter((file) => file === model)).toHaveLength(1);
    // Asked again once the first is done, without a memo, it is read again: nothing is cached for good.
    await fileDigest(model);
    expect(opened.filter((file) => file === model)).toHaveLength(2);
  });

  it('remembers a step output it just made, so the next recipe reusing it reads nothing', async () => {
    const root = await workspace();
    const context: Context = { cacheRoot: path.join(root, 'cache'), outRoot: path.join(root, 'dist'), verbose: false, json: true, python: 'python3', emulateNpu: false, say: () => undefined, print: () => undefined };
    const key = 'a'.repeat(64);
    const produce = async (workDir: string) => {
      await writeFile(path.join(workDir, 'out', 'openvino_model.bin'), randomBytes(1 << 20));
      return { kind: 'test', params: {}, commandLine: 'make it', durationMs: 1, facts: {} };
    };
    const made = await getOrProduce(context, key, produce);
    expect(made.reused).toBe(false);
    const weights = path.join(made.outDir, 'openvino_model.bin');
    // Written a moment ago, yet trusted: phiforge made it in a private folder and its stamp held.
    expect(DigestMemo.of(context.cacheRoot).lookup(weights, await stat(weights, { bigint: true }))).toBe(made.entry.files[0].sha256);

    opened.length = 0;
    const again = await getOrProduce(context, key, produce);
    expect(again.reused).toBe(true);
    expect(opened.filter((file) => file === weights)).toEqual([]);

    // A rewrite changes the stamp: the entry is checked by reading it, and the damage is found.
    await writeFile(weights, randomBytes(1 << 20));
    const rebuilt = await getOrProduce(context, key, produce);
    expect(rebuilt.reused).toBe(false);
  });

  describe('while the converter still runs', () => {
    const context = (root: string): Context => ({ cacheRoot: path.join(root, 'cache'), outRoot: path.join(root, 'dist'), verbose: false, json: true, python: 'python3', emulateNpu: false, say: () => undefined, print: () => undefined });
    // The weights settle long before the converter exits; the clock is moved on rather than waited for.
    const settleAndWaitForHash = async (file: string) => {
      vi.useFakeTimers({ toFake: ['Date'] });
      vi.setSystemTime(Date.now() + 3_000);
      for (let waited = 0; !opened.includes(file) && waited < 5_000; waited += 50) await new Promise((resolve) => setTimeout(resolve, 50));
      // The hash started; give it time to finish before the converter "exits".
      await new Promise((resolve) => setTimeout(resolve, 200));
    };

    it('hashes weights moved into out/ before the converter exits, and not again after', async () => {
      const root = await workspace();
      let readWhileRunning = 0;
      try {
        opened.length = 0;
        const made = await getOrProduce(context(root), 'b'.repeat(64), async (workDir) => {
          // As optimum-cli does: export into TMPDIR (phiforge's scratch folder), move into out/, then
          // spend a while exiting.
          const temporary = path.join(workDir, CONVERTER_TEMP_DIR, 'tmpx1y2', 'openvino_model.bin');
          await mkdir(path.dirname(temporary));
          await writeFile(temporary, randomBytes(3 << 20));
          const weights = path.join(workDir, 'out', 'openvino_model.bin');
          await rename(temporary, weights);
          await settleAndWaitForHash(weights);
          readWhileRunning = opened.length;
          return { kind: 'test', params: {}, commandLine: 'make it', durationMs: 1, facts: {} };
        });
        expect(readWhileRunning).toBe(1);
        expect(opened).toHaveLength(1);
        expect(made.entry.files.map((file) => file.path)).toEqual(['openvino_model.bin']);
        expect(made.entry.files[0].sha256).toBe(await sha256File(path.join(made.outDir, 'openvino_model.bin')));
        expect(existsSync(path.join(path.dirname(made.outDir), CONVERTER_TEMP_DIR))).toBe(false);
      } finally {
        vi.useRealTimers();
      }
    });

    it('hashes again what the converter rewrote after the early hash', async () => {
      const root = await workspace();
      try {
        opened.length = 0;
        const made = await getOrProduce(context(root), 'c'.repeat(64), async (workDir) => {
          const weights = path.join(workDir, 'out', 'openvino_model.bin');
          await writeFile(weights, randomBytes(3 << 20));
          await settleAndWaitForHash(weights);
          // Same size, new bytes: only the stamp tells.
          await writeFile(weights, randomBytes(3 << 20));
          return { kind: 'test', params: {}, commandLine: 'make it', durationMs: 1, facts: {} };
        });
        expect(made.entry.files[0].sha256).toBe(await sha256File(path.join(made.outDir, 'openvino_model.bin')));
      } finally {
        vi.useRealTimers();
      }
    });
  });
});

