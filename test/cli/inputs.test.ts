import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, constants, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { CLI, REPO_ROOT, workspace } from '../support/cli.js';
import { TINY_INT4 } from '../support/recipes.js';

// The built CLI as a user runs it: a recipe that would block phiforge is refused at once, and SIGTERM
// ends a build that waits (here for a lock another live process holds) within two seconds.

/** Starts the CLI; `timeout` kills it (SIGTERM, then SIGKILL) should it hang, so a regression fails instead. */
function start(args: string[], cwd: string) {
  return execa(process.execPath, [CLI, ...args], { cwd, reject: false, stdin: 'ignore', env: { NO_COLOR: '1' }, timeout: 20_000, forceKillAfterDelay: 2_000 });
}

describe('phiforge never blocks on what it reads, and stops when told', () => {
  it('refuses a FIFO given as the recipe with exit 2, without waiting for a writer', async () => {
    const cwd = await workspace();
    const fifo = path.join(cwd, 'recipe.yaml');
    execFileSync('mkfifo', [fifo]);
    const started = Date.now();
    const result = await start(['build', 'recipe.yaml', '--cache-dir', path.join(cwd, 'cache')], cwd);
    // Should it have opened the FIFO after all, this lets the blocked open end.
    try {
      closeSync(openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK));
    } catch {
      // no reader: as it should be
    }
    expect(result.exitCode, result.stderr).toBe(2);
    expect(result.stderr).toContain('error: recipe.yaml: this is a FIFO (named pipe), not a regular file; phiforge does not open it');
    // Node's start included (about a second on a busy machine); one that waited for a writer would hang until killed.
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('exits 143 within 2 s of SIGTERM while a build waits for a lock held by another live process', async () => {
    const cwd = await workspace({ 'recipe.yaml': `name: tiny\n${TINY_INT4}` });
    const cache = path.join(cwd, 'cache');
    // The lock the first step takes to make the reference venv (toolchain/venv.ts), held by this test process.
    const lockDigest = createHash('sha256').update(readFileSync(path.join(REPO_ROOT, 'toolchains', 'reference', 'requirements.lock'))).digest('hex');
    const lock = path.join(cache, 'locks', `venv-reference-${lockDigest.slice(0, 16)}`);
    mkdirSync(`${lock}.lock`, { recursive: true });
    writeFileSync(`${lock}.owner`, JSON.stringify({ pid: process.pid, host: os.hostname(), since: new Date().toISOString() }));
    const child = start(['build', 'recipe.yaml', '--no-validate', '--cache-dir', cache], cwd);
    let seen = '';
    await new Promise<void>((resolve, reject) => {
      child.stderr!.on('data', (chunk: Buffer) => {
        seen += chunk.toString();
        if (seen.includes('waiting for venv')) resolve();
      });
      child.then((result) => reject(new Error(`phiforge ended before waiting for the lock (exit ${result.exitCode}):\n${result.stderr}`)), reject);
    });
    const sent = Date.now();
    child.kill('SIGTERM');
    const result = await child;
    expect(Date.now() - sent).toBeLessThan(2000);
    expect(result.exitCode, result.stderr).toBe(143);
    expect(result.stderr).toContain('terminated: stopping running steps...');
    expect(result.stderr).toContain('error: interrupted by SIGTERM');
  });
});
