import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CACHE_MARK } from '../../src/cache/ownership.js';
import { workspace } from '../support/cli.js';
import { phiforge } from '../support/in-process.js';
import { TINY_INT4 } from '../support/recipes.js';

// phiforge deletes and overwrites only what is its own: its cache, artifact folders it made, its
// staging folders. Each case here once lost a user's files; each asserts they are byte for byte intact.

/** Every file under `dir` with its sha256, so a changed, added or removed byte shows. */
async function treeDigests(dir: string): Promise<Record<string, string>> {
  const found: Record<string, string> = {};
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    const file = path.join(entry.parentPath, entry.name);
    found[path.relative(dir, file)] = createHash('sha256').update(await readFile(file)).digest('hex');
  }
  return found;
}

const RECIPE = `name: tiny\n${TINY_INT4}`;
const VICTIM = { 'victim/thesis.tex': 'four years of work\n', 'victim/data/results.csv': 'a,b\n1,2\n' };
const CHECKOUT = { 'package.json': '{"name":"mine"}\n', 'toolchains/openvino/requirements.in': 'optimum-intel\n', 'toolchains/openvino/scripts/export.py': 'print(1)\n', 'logs/keep.txt': 'mine\n' };

describe('what phiforge may delete', () => {
  it('refuses --name ../victim and leaves the sibling folder intact', async () => {
    const cwd = await workspace({ 'recipe.yaml': RECIPE, ...VICTIM });
    const before = await treeDigests(path.join(cwd, 'victim'));
    const result = await phiforge(['--out', 'out', 'build', 'recipe.yaml', '--name', '../victim', '--cache-dir', 'cache', '--no-validate'], { cwd });
    expect(result.exitCode, result.stderr).toBe(2);
    expect(await treeDigests(path.join(cwd, 'victim'))).toEqual(before);
    expect(existsSync(path.join(cwd, 'out'))).toBe(false);
  });

  it('refuses to replace an artifact folder that holds a user\'s files', async () => {
    const cwd = await workspace({ 'recipe.yaml': RECIPE, 'dist/tiny/notes.md': 'mine\n', 'dist/tiny/manifest.json': '{"not":"phiforge"}\n' });
    const before = await treeDigests(path.join(cwd, 'dist'));
    const result = await phiforge(['build', 'recipe.yaml', '--cache-dir', 'cache', '--no-validate'], { cwd });
    expect(result.exitCode, result.stderr).toBe(2);
    expect(result.stderr).toContain('holds files but no phiforge manifest');
    expect(await treeDigests(path.join(cwd, 'dist'))).toEqual(before);
  });

  it.each([
    ['cache gc', ['cache', 'gc', '--cache-dir', '.']],
    ['cache gc --older-than 0', ['cache', 'gc', '--older-than', '0', '--cache-dir', '.']],
    ['cache clean --all', ['cache', 'clean', '--all', '--cache-dir', '.']],
    ['cache clean --all with --cache-dir ""', ['cache', 'clean', '--all', '--cache-dir', '']],
    ['cache verify', ['cache', 'verify', '--cache-dir', '.']],
    ['toolchain install', ['toolchain', 'install', 'openvino', '--cache-dir', '.']],
  ])('%s on a checkout refuses and deletes nothing', async (_name, args) => {
    const cwd = await workspace(CHECKOUT);
    const before = await treeDigests(cwd);
    const result = await phiforge(args, { cwd });
    expect(result.exitCode, result.stderr).toBe(2);
    expect(result.stderr).toContain('is not a phiforge cache: it holds "package.json"');
    expect(await treeDigests(cwd)).toEqual(before);
  });

  it('adopts a cache that holds only what phiforge writes (a fresh clone, actions/cache) and marks it', async () => {
    const key = 'a'.repeat(64);
    const cwd = await workspace({ 'cache/.gitkeep': '', 'cache/digests.json': '{}', [`cache/steps/tmp/${key}/out/x`]: 'half made' });
    const result = await phiforge(['cache', 'gc', '--cache-dir', 'cache'], { cwd });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(existsSync(path.join(cwd, 'cache', 'steps', 'tmp', key))).toBe(false);
    // gc deletes but writes nothing; the first command that writes the cache marks it.
    expect((await phiforge(['toolchain', 'list', '--cache-dir', 'cache'], { cwd })).exitCode).toBe(0);
    const build = await phiforge(['build', 'missing.yaml', '--cache-dir', 'cache'], { cwd });
    expect(build.exitCode).toBe(2);
    expect(existsSync(path.join(cwd, 'cache', CACHE_MARK))).toBe(true);
  });

  it('gc removes only what phiforge names under steps/: an artifact someone put there stays', async () => {
    const cwd = await workspace({ 'cache/steps/tiny/manifest.json': '{}', 'cache/steps/tiny/openvino_model.bin': 'weights', 'cache/toolchains/my-notes/readme.txt': 'mine' });
    const before = await treeDigests(path.join(cwd, 'cache'));
    const result = await phiforge(['cache', 'gc', '--older-than', '0', '--cache-dir', 'cache'], { cwd });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(await treeDigests(path.join(cwd, 'cache'))).toEqual(before);
  });

  it('gc removes the work folder of a killed build, whose lock stayed behind, but not one a live build holds', async () => {
    const [dead, live] = ['d'.repeat(64), 'e'.repeat(64)];
    const owner = (pid: number) => JSON.stringify({ pid, host: os.hostname(), since: new Date().toISOString() });
    // A pid far above any kernel's pid_max: no process has it.
    const cwd = await workspace({
      [`cache/steps/tmp/${dead}/out/part`]: 'x',
      [`cache/locks/step-${dead}.owner`]: owner(2 ** 30),
      [`cache/steps/tmp/${live}/out/part`]: 'x',
      [`cache/locks/step-${live}.owner`]: owner(process.pid),
    });
    for (const key of [dead, live]) await mkdir(path.join(cwd, 'cache', 'locks', `step-${key}.lock`));
    const result = await phiforge(['cache', 'gc', '--cache-dir', 'cache'], { cwd });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(existsSync(path.join(cwd, 'cache', 'steps', 'tmp', dead))).toBe(false);
    expect(existsSync(path.join(cwd, 'cache', 'steps', 'tmp', live))).toBe(true);
  });

  it('refuses an --out inside the cache and a cache inside --out, so neither can delete the other', async () => {
    const cwd = await workspace({ 'recipe.yaml': RECIPE, 'cache/steps/.keep': '', 'dist/tiny/cache/.gitkeep': '' });
    for (const args of [
      ['--out', 'cache/steps', '--cache-dir', 'cache'],
      ['--out', 'dist', '--cache-dir', 'dist/tiny/cache'],
      ['--out', '.', '--cache-dir', 'cache'],
      ['--out', 'cache', '--cache-dir', 'cache'],
    ]) {
      const result = await phiforge(['build', 'recipe.yaml', '--no-validate', ...args], { cwd });
      expect(result.exitCode, `${args.join(' ')}: ${result.stderr}`).toBe(2);
      expect(result.stderr).toContain('overlap');
    }
  });

  it('refuses an artifact whose manifest names a path instead of an artifact (validate writes logs/<name>, runs/<name>-*)', async () => {
    const file = { path: 'openvino_model.bin', size: 7, sha256: createHash('sha256').update('weights').digest('hex') };
    const manifest = { schema: 'phiforge.manifest/1', phiforge: { version: '0.1.0' }, name: '../../escaped', backend: 'openvino', pipeline: 'openvino', recipe: { file: 'r.yaml', resolved: {} }, model: { source: 'synthetic', key: 'b'.repeat(64), files: [] }, toolchains: {}, steps: [], files: [file] };
    const cwd = await workspace({ 'dist/x/manifest.json': JSON.stringify(manifest), 'dist/x/openvino_model.bin': 'weights' });
    const result = await phiforge(['validate', 'dist/x', '--cache-dir', 'cache'], { cwd });
    expect(result.exitCode, result.stderr).toBe(1);
    expect(result.stderr).toContain('not an artifact name');
    for (const dir of [cwd, path.dirname(cwd)]) expect((await readdir(dir)).filter((name) => name.startsWith('escaped'))).toEqual([]);
  });

  it('never joins a repeated option into one path', async () => {
    const cwd = await workspace({ 'recipe.yaml': RECIPE });
    const result = await phiforge(['build', 'recipe.yaml', '--cache-dir', 'a', '--cache-dir', 'b'], { cwd });
    expect(result.exitCode).toBe(2);
    expect(existsSync(path.join(cwd, 'a,b'))).toBe(false);
    // A list option may still be repeated.
    const devices = await phiforge(['build', 'missing.yaml', '--device', 'cpu', '--device', 'npu', '--cache-dir', 'cache'], { cwd });
    expect(devices.stderr).not.toContain('given 2 times');
    expect(devices.stderr).toContain('missing.yaml: file not found');
  });
});
