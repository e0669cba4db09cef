import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { describe, expect, it } from 'vitest';
import { checkArtifact } from '../../src/artifact/check.js';
import { CLI, freshCache, REPO_ROOT, runCli, SHARED_CACHE, workspace } from '../support/cli.js';

// Faults with the real pipeline: Ctrl-C, kill -9 at several points, a damaged venv, a full disk.
// Whatever happens, nothing that looks like an artifact is incomplete, and a rerun resumes.

const DEMO = path.join(REPO_ROOT, 'recipes', 'demo', 'phi3-tiny-int4-ov.yaml');


/**
 * Starts the CLI and resolves once a line of its stderr matches `pattern`, with the time it appeared.
 * A pattern still unseen when the CLI exits fails at once rather than after the timeout, so a renamed
 * step costs seconds, not ten minutes of CI.
 */
function start(args: string[], cwd: string): { child: ResultPromise; seen: (pattern: RegExp, timeoutMs?: number) => Promise<number>; stderr: () => string } {
  const child = execa(process.execPath, [CLI, ...args], { cwd, reject: false, env: { NO_COLOR: '1' }, stdin: 'ignore' });
  let text = '';
  let exited = false;
  const waiters: Array<{ pattern: RegExp; resolve: (at: number) => void; reject: (error: Error) => void }> = [];
  const unseen = (pattern: RegExp, why: string) => new Error(`no ${pattern} (${why}) in:\n${text}`);
  child.stderr?.on('data', (chunk: Buffer) => {
    text += chunk.toString();
    for (const waiter of [...waiters]) {
      if (waiter.pattern.test(text)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(performance.now());
      }
    }
  });
  void child.finally(() => {
    exited = true;
    for (const waiter of waiters.splice(0)) waiter.reject(unseen(waiter.pattern, 'the CLI exited'));
  });
  const seen = (pattern: RegExp, timeoutMs = 600_000) =>
    new Promise<number>((resolve, reject) => {
      if (pattern.test(text)) return resolve(performance.now());
      if (exited) return reject(unseen(pattern, 'the CLI exited'));
      waiters.push({ pattern, resolve, reject });
      setTimeout(() => reject(unseen(pattern, 'timed out')), timeoutMs).unref();
    });
  return { child, seen, stderr: () => text };
}

/** Every folder under dist/ that has a manifest holds exactly the files it lists. */
async function everyArtifactWhole(out: string): Promise<number> {
  if (!existsSync(out)) return 0;
  let count = 0;
  for (const name of await readdir(out)) {
    const manifestFile = path.join(out, name, 'manifest.json');
    if (!existsSync(manifestFile)) continue;
    await checkArtifact(path.join(out, name), JSON.parse(await readFile(manifestFile, 'utf8')).files);
    count++;
  }
  return count;
}

describe('faults', () => {
  it('Ctrl-C during a step exits 130 within 2 s with a message; the next build starts at once and resumes', async () => {
    const cwd = await workspace();
    const cache = await freshCache(cwd);
    const build = start(['build', DEMO, '--cache-dir', cache, '--out', 'dist'], cwd);
    await build.seen(/running .*optimum-cli export openvino/);
    const sent = performance.now();
    build.child.kill('SIGINT');
    const result = await build.child;
    expect(performance.now() - sent).toBeLessThan(2000);
    expect(result.exitCode).toBe(130);
    expect(build.stderr()).toContain('interrupted: stopping running steps...');
    expect(build.stderr()).toMatch(/interrupted by SIGINT: running steps were stopped/);
    expect(build.stderr()).not.toContain('internal error');
    expect(await everyArtifactWhole(path.join(cwd, 'dist'))).toBe(0);

    const again = start(['build', DEMO, '--cache-dir', cache, '--out', 'dist', '--json'], cwd);
    const began = performance.now();
    // The steps committed before Ctrl-C are reused; the interrupted one runs again without waiting for a lock.
    const firstRun = await again.seen(/running .*optimum-cli export openvino/);
    expect(firstRun - began).toBeLessThan(2000 + 1500);
    const rerun = await again.child;
    expect(rerun.exitCode, again.stderr()).toBe(0);
    const steps = JSON.parse(String(rerun.stdout)).results[0].steps;
    expect(steps.find((step: { id: string }) => step.id === 'model').reused).toBe(true);
    expect(await everyArtifactWhole(path.join(cwd, 'dist'))).toBe(1);
  });

  it('kill -9 at several points never leaves an artifact that does not match its manifest, and every rerun resumes', async () => {
    const cwd = await workspace();
    const cache = await freshCache(cwd);
    for (const point of [/running .*make_synthetic\.py/, /running .*optimum-cli export openvino/, /running .*reference_answers\.py/, /running phi3-tiny-int4-ov on CPU/]) {
      const build = start(['build', DEMO, '--cache-dir', cache, '--out', 'dist', '--force'], cwd);
      await build.seen(point);
      build.child.kill('SIGKILL');
      await build.child;
      await everyArtifactWhole(path.join(cwd, 'dist'));
    }
    const rerun = await runCli(['build', DEMO, '--cache-dir', cache, '--out', 'dist'], { cwd });
    expect(rerun.exitCode, rerun.stderr).toBe(0);
    // A dead build's locks were taken over at once, not waited out.
    expect(rerun.stderr).not.toContain('waiting for');
    expect(await everyArtifactWhole(path.join(cwd, 'dist'))).toBe(1);
  });

  it('kill -9 during a venv install: the next install makes it whole', async () => {
    const cwd = await workspace();
    const cache = path.join(cwd, 'cache');
    const install = start(['toolchain', 'install', 'ort-genai-runtime', '--cache-dir', cache], cwd);
    await install.seen(/creating toolchain ort-genai-runtime/);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    install.child.kill('SIGKILL');
    await install.child;
    const listed = await runCli(['toolchain', 'list', 'ort-genai-runtime', '--cache-dir', cache, '--json'], { cwd });
    expect(JSON.parse(listed.stdout)[0].state).not.toBe('ready');
    const again = await runCli(['toolchain', 'install', 'ort-genai-runtime', '--cache-dir', cache], { cwd });
    expect(again.exitCode, again.stderr).toBe(0);
    expect(JSON.parse((await runCli(['toolchain', 'list', 'ort-genai-runtime', '--cache-dir', cache, '--json'], { cwd })).stdout)[0].state).toBe('ready');
  });

  it('a file deleted inside a venv is found before the venv is used, and the venv is rebuilt with a message', async () => {
    const cwd = await workspace();
    const cache = path.join(cwd, 'cache');
    expect((await runCli(['toolchain', 'install', 'openvino-runtime', '--cache-dir', cache], { cwd })).exitCode).toBe(0);
    const venv = path.join(cache, 'toolchains', (await readdir(path.join(cache, 'toolchains')))[0]);
    await rm(path.join(venv, 'lib', 'python3.11', 'site-packages', 'openvino', '__init__.py'));

    const listed = JSON.parse((await runCli(['toolchain', 'list', 'openvino-runtime', '--cache-dir', cache, '--json'], { cwd })).stdout)[0];
    expect(listed.state).toBe('broken');
    const artifactCwd = await workspace();
    const built = await runCli(['build', DEMO, '--cache-dir', SHARED_CACHE, '--out', 'dist', '--no-validate'], { cwd: artifactCwd });
    expect(built.exitCode, built.stderr).toBe(0);
    const validated = await runCli(['validate', path.join(artifactCwd, 'dist', 'phi3-tiny-int4-ov'), '--cache-dir', cache], { cwd });
    expect(validated.exitCode, validated.stderr).toBe(0);
    expect(validated.stderr).toMatch(/toolchain openvino-runtime: 1 installed file\(s\) changed or missing \(lib\/python3\.11\/site-packages\/openvino\/__init__\.py\); rebuilding the venv/);
  });

  it('a venv moved to another path (a restored CI cache, a renamed cache folder) is found broken, not trusted', async () => {
    const cwd = await workspace();
    expect((await runCli(['toolchain', 'install', 'openvino-runtime', '--cache-dir', path.join(cwd, 'cache')], { cwd })).exitCode).toBe(0);
    await rename(path.join(cwd, 'cache'), path.join(cwd, 'moved'));
    const listed = JSON.parse((await runCli(['toolchain', 'list', 'openvino-runtime', '--cache-dir', path.join(cwd, 'moved'), '--json'], { cwd })).stdout)[0];
    expect(listed.state).toBe('broken');
    expect(listed.problem).toMatch(new RegExp(`scripts start #!${path.join(cwd, 'cache')}/toolchains/openvino-runtime-[0-9a-f]+/bin/python\\d*.* \\(the venv was moved or copied here\\)`));
  });

  it('a full disk under --out is a typed error with a hint, leaves nothing half-published, and the lock is released', async (context) => {
    const cwd = await workspace();
    const tiny = path.join(cwd, 'tiny-disk');
    await mkdir(tiny);
    const mounted = await execa('mount', ['-t', 'tmpfs', '-o', 'size=512k', 'tmpfs', tiny], { reject: false });
    if (mounted.exitCode !== 0) context.skip(`cannot mount a small tmpfs here (${mounted.stderr.trim() || mounted.exitCode}): needs root with CAP_SYS_ADMIN`);
    try {
      const full = await runCli(['build', DEMO, '--cache-dir', SHARED_CACHE, '--out', tiny, '--no-validate'], { cwd });
      expect(full.exitCode).toBe(1);
      expect(full.stderr).toMatch(/error: cannot \S+ \S+: ENOSPC/);
      expect(full.stderr).toContain('hint: The disk is full');
      expect(full.stderr).not.toContain('internal error');
      expect(await readdir(tiny)).toEqual([]);
      const elsewhere = await runCli(['build', DEMO, '--cache-dir', SHARED_CACHE, '--out', 'dist', '--no-validate'], { cwd });
      expect(elsewhere.exitCode, elsewhere.stderr).toBe(0);
      expect(elsewhere.stderr).not.toContain('waiting for');
    } finally {
      await execa('umount', [tiny], { reject: false });
    }
  });
});
