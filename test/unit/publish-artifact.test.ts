import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkArtifact } from '../../src/artifact/check.js';
import { publishArtifact } from '../../src/artifact/publish.js';
import { digestFolder } from '../../src/cache/digest.js';
import { workspace } from '../support/cli.js';

// dist/<name> is always a whole artifact: concurrent publishers never break it, and one killed
// between its two renames is rolled back by the next.

async function source(root: string, content: string) {
  const dir = path.join(root, `src-${content}`);
  await mkdir(dir, { recursive: true });
  await writeFile(path.join(dir, 'openvino_model.bin'), content.repeat(1000));
  await writeFile(path.join(dir, 'config.json'), JSON.stringify({ content }));
  return { dir, files: await digestFolder(dir) };
}

// The schema field is what marks a folder as phiforge's to replace (src/cache/ownership.ts).
const manifest = (files: unknown) => ({ schema: 'phiforge.manifest/1', files });

describe('publishing an artifact', () => {
  it('50 concurrent publishes of two contents into one folder all succeed and leave one whole artifact', async () => {
    const root = await workspace();
    const [a, b] = [await source(root, 'a'), await source(root, 'b')];
    const out = path.join(root, 'dist');
    const results = await Promise.allSettled(Array.from({ length: 50 }, (_, index) => publishArtifact(path.join(root, 'cache'), out, 'model', [index % 2 ? a : b], manifest)));
    expect(results.filter((result) => result.status === 'rejected')).toEqual([]);
    const published = JSON.parse(await readFile(path.join(out, 'model', 'manifest.json'), 'utf8'));
    await checkArtifact(path.join(out, 'model'), published.files);
    expect(await readdir(out)).toEqual(['model']);
  });

  it('puts the previous artifact back when a publisher died between its two renames', async () => {
    const root = await workspace();
    const out = path.join(root, 'dist');
    const old = await source(root, 'old');
    await publishArtifact(path.join(root, 'cache'), out, 'model', [old], manifest);
    // What a kill -9 after the first rename leaves: no dist/model, the old one aside, a half-copied new one.
    const deadPid = 2 ** 22 + 17;
    await import('node:fs/promises').then((fs) => fs.rename(path.join(out, 'model'), path.join(out, `.model.old-${deadPid}-1`)));
    await mkdir(path.join(out, `.model.partial-${deadPid}-1`));
    const fresh = await source(root, 'new');
    const published = await publishArtifact(path.join(root, 'cache'), out, 'model', [fresh], manifest);
    expect(published.replaced).toBe(true);
    expect(await readdir(out)).toEqual(['model']);
    expect(JSON.parse(await readFile(path.join(out, 'model', 'config.json'), 'utf8'))).toEqual({ content: 'new' });
  });

  it('links weight-sized files to the cached output instead of copying them, and copies the small files people edit', async () => {
    const root = await workspace();
    const dir = path.join(root, 'export-out');
    await mkdir(dir);
    await writeFile(path.join(dir, 'openvino_model.bin'), Buffer.alloc(20 * 2 ** 20, 7));
    await writeFile(path.join(dir, 'config.json'), '{}');
    const out = path.join(root, 'dist');
    await publishArtifact(path.join(root, 'cache'), out, 'model', [{ dir, files: await digestFolder(dir) }], manifest);
    const inode = async (file: string) => (await stat(file)).ino;
    expect(await inode(path.join(out, 'model', 'openvino_model.bin'))).toBe(await inode(path.join(dir, 'openvino_model.bin')));
    expect(await inode(path.join(out, 'model', 'config.json'))).not.toBe(await inode(path.join(dir, 'config.json')));
    // An edit of a copied file stays in dist/.
    await writeFile(path.join(out, 'model', 'config.json'), '{"edited": true}');
    expect(await readFile(path.join(dir, 'config.json'), 'utf8')).toBe('{}');
  });

  it('a later publish of the same files leaves the folder, and what was measured beside it, alone', async () => {
    const root = await workspace();
    const out = path.join(root, 'dist');
    const same = await source(root, 's');
    await publishArtifact(path.join(root, 'cache'), out, 'model', [same], manifest);
    await mkdir(path.join(out, 'model', 'validation'));
    await writeFile(path.join(out, 'model', 'validation', 'CPU-host.json'), '{}');
    const again = await publishArtifact(path.join(root, 'cache'), out, 'model', [same], manifest);
    expect(again.replaced).toBe(false);
    expect(await readdir(path.join(out, 'model', 'validation'))).toEqual(['CPU-host.json']);
  });
});
