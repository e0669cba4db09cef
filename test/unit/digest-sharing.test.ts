import { randomBytes } from 'node:crypto';
import { stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import type { Context } from '../../src/context.js';
import { fileDigest } from '../../src/cache/digest.js';
import { DigestMemo } from '../../src/cache/digest-memo.js';
import { getOrProduce } from '../../src/cache/step-cache.js';
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
});
