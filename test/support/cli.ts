import { mkdir, mkdtemp, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CLI = path.join(REPO_ROOT, 'bin', 'phiforge.js');

/**
 * The cache the end-to-end tests of one run share: in the e2e lane a fresh one per run, holding no
 * step outputs from before it, with the repository's venvs linked in (test/support/e2e-cache.ts sets
 * PHIFORGE_TEST_CACHE). Elsewhere, the repository's cache/, whose venvs the README's demo made.
 */
export const SHARED_CACHE = process.env.PHIFORGE_TEST_CACHE ?? path.join(REPO_ROOT, 'cache');

export interface CliResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI as a user would, in `cwd`, never throwing on a non-zero exit. */
export async function runCli(args: string[], options: { cwd: string; env?: Record<string, string> }): Promise<CliResult> {
  const result = await execa(process.execPath, [CLI, ...args], { cwd: options.cwd, env: { NO_COLOR: '1', ...options.env }, reject: false, stdin: 'ignore' });
  return { exitCode: result.exitCode ?? -1, stdout: result.stdout, stderr: result.stderr };
}

/** A fresh folder with the given files (path -> content), standing in for a user's workspace. */
export async function workspace(files: Record<string, string> = {}): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'phiforge-test-'));
  for (const [relative, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, relative)), { recursive: true });
    await writeFile(path.join(dir, relative), content);
  }
  return dir;
}

/** A cache with no step outputs yet, sharing the venvs and tools (they come from hash-checked locks). */
export async function freshCache(root: string): Promise<string> {
  const cache = path.join(root, 'cache');
  await mkdir(cache, { recursive: true });
  for (const shared of ['toolchains', 'tools']) {
    await mkdir(path.join(SHARED_CACHE, shared), { recursive: true });
    await symlink(path.join(SHARED_CACHE, shared), path.join(cache, shared));
  }
  return cache;
}

/** The python of a toolchain venv in the shared cache (installing it if needed), to inspect artifacts with the real libraries. */
export async function toolchainPython(name: string): Promise<string> {
  const cwd = await workspace();
  const result = await runCli(['toolchain', 'install', name, '--json', '--cache-dir', SHARED_CACHE], { cwd });
  if (result.exitCode !== 0) throw new Error(`toolchain install ${name} failed:\n${result.stderr}`);
  const [ready] = JSON.parse(result.stdout) as Array<{ venv: string }>;
  return path.join(ready.venv, 'bin', 'python');
}

/** Runs a helper script from test/support with a toolchain's python; returns its last stdout line as JSON. */
export async function runSupportScript<T>(python: string, script: string, args: string[]): Promise<T> {
  const result = await execa(python, [path.join(REPO_ROOT, 'test', 'support', script), ...args], { reject: false, env: { HF_HUB_OFFLINE: '1', PYTHONPATH: path.join(REPO_ROOT, 'toolchains', 'common', 'scripts') } });
  if (result.exitCode !== 0) throw new Error(`${script} failed (${result.exitCode}):\n${result.stderr.split('\n').slice(-30).join('\n')}`);
  return JSON.parse(result.stdout.trim().split('\n').at(-1)!) as T;
}

/** The device results validation left beside an artifact (validation/<device>-<host>.json), in file order. */
export async function deviceResults(artifactDir: string): Promise<Array<{ device: string; run: Record<string, unknown>; report: any; measured_at: string; runtime: { toolchain: string } }>> {
  const { readdir, readFile } = await import('node:fs/promises');
  const dir = path.join(artifactDir, 'validation');
  const files = (await readdir(dir)).filter((name) => name.endsWith('.json')).sort();
  return Promise.all(files.map(async (name) => JSON.parse(await readFile(path.join(dir, name), 'utf8'))));
}
