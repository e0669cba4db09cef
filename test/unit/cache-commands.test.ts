import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { workspace } from '../support/cli.js';
import { phiforge as runCli } from '../support/in-process.js';

/** As a build commits an entry: the marker names entry.json's digest. */
async function commit(dir: string, lastUsedDaysAgo = 0) {
  const text = await readFile(path.join(dir, 'entry.json'), 'utf8');
  await writeFile(path.join(dir, 'COMMITTED'), createHash('sha256').update(text).digest('hex'));
  const when = new Date(Date.now() - lastUsedDaysAgo * 86_400_000);
  await utimes(path.join(dir, 'COMMITTED'), when, when);
}

async function entry(cache: string, key: string, options: { committed: boolean; lastUsedDaysAgo?: number }) {
  const dir = path.join(cache, 'steps', key);
  await mkdir(path.join(dir, 'out'), { recursive: true });
  await writeFile(path.join(dir, 'out', 'file.bin'), 'x'.repeat(1024));
  await writeFile(path.join(dir, 'entry.json'), JSON.stringify({ key, kind: 'fake-kind', files: [] }));
  if (options.committed) await commit(dir);
  if (options.committed) {
    const when = new Date(Date.now() - (options.lastUsedDaysAgo ?? 0) * 86_400_000);
    await utimes(path.join(dir, 'COMMITTED'), when, when);
  }
}

describe('phiforge cache', () => {
  it('ls lists entries; gc removes unfinished ones and, with --older-than, unused ones; clean empties it', async () => {
    const cwd = await workspace();
    const cache = path.join(cwd, 'cache');
    await entry(cache, 'a'.repeat(64), { committed: true });
    await entry(cache, 'b'.repeat(64), { committed: false });
    await entry(cache, 'c'.repeat(64), { committed: true, lastUsedDaysAgo: 30 });

    const listed = await runCli(['cache', 'ls', '--json'], { cwd });
    expect(listed.exitCode, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout).steps.map((row: { committed: boolean }) => row.committed).sort()).toEqual([false, true, true]);

    const gc = await runCli(['cache', 'gc', '--older-than', '7'], { cwd });
    expect(gc.exitCode, gc.stderr).toBe(0);
    expect(gc.stdout).toContain('unfinished');
    expect(existsSync(path.join(cache, 'steps', 'a'.repeat(64)))).toBe(true);
    expect(existsSync(path.join(cache, 'steps', 'b'.repeat(64)))).toBe(false);
    expect(existsSync(path.join(cache, 'steps', 'c'.repeat(64)))).toBe(false);

    expect((await runCli(['cache', 'clean'], { cwd })).exitCode).toBe(0);
    expect(existsSync(path.join(cache, 'steps'))).toBe(false);
  });
});

describe('phiforge cache verify', () => {
  it('re-reads every cached output, removes the ones whose bytes changed and exits 1', async () => {
    const cwd = await workspace();
    const cache = path.join(cwd, 'cache');
    const content = 'x'.repeat(1024);
    for (const key of ['d'.repeat(64), 'e'.repeat(64)]) {
      await entry(cache, key, { committed: true });
      await writeFile(
        path.join(cache, 'steps', key, 'entry.json'),
        JSON.stringify({ key, kind: 'fake-kind', files: [{ path: 'file.bin', size: 1024, sha256: createHash('sha256').update(content).digest('hex') }] }),
      );
      await commit(path.join(cache, 'steps', key));
    }
    const intact = await runCli(['cache', 'verify'], { cwd });
    expect(intact.exitCode, intact.stderr).toBe(0);
    expect(intact.stdout).toContain('2 step output(s) checked, all intact');

    await writeFile(path.join(cache, 'steps', 'e'.repeat(64), 'out', 'file.bin'), 'y'.repeat(1024));
    const damaged = await runCli(['cache', 'verify'], { cwd });
    expect(damaged.exitCode).toBe(1);
    expect(damaged.stderr).toContain(`step ${'e'.repeat(16)} (fake-kind): file.bin does not match its recorded sha256`);
    expect(existsSync(path.join(cache, 'steps', 'e'.repeat(64)))).toBe(false);
    expect(existsSync(path.join(cache, 'steps', 'd'.repeat(64)))).toBe(true);
  });
});
