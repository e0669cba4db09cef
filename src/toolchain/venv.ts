import { existsSync, statSync, type Stats } from 'node:fs';
import { mkdir, readFile, readdir, realpath, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { cachePath, type Context } from '../context.js';
import { PythonInterpreterError, ToolchainError } from '../errors.js';
import { captureCommand, runCommand } from '../exec/command.js';
import { ensureFreeSpace, findProgram } from '../exec/preflight.js';
import { withLock } from '../cache/lock.js';
import { z } from 'zod';
import { runJsonScript } from './script.js';
import { requireLock, toolchainScript, venvDir, type Toolchain } from './definition.js';
import { readPipConfig, uvSourceFlags } from './pip-config.js';
import { findUv } from './uv.js';

/** A venv that passed its health check, with what is installed in it. */
export interface ReadyVenv {
  toolchain: Toolchain;
  dir: string;
  python: string;
  lockDigest: string;
  pythonVersion: string;
  /** Every installed distribution and its version: recorded in manifests. */
  installed: Record<string, string>;
  /** Environment a command needs to run as if the venv were activated. */
  env: Record<string, string>;
}

interface HealthRecord {
  lockDigest: string;
  pythonVersion: string;
  installed: Record<string, string>;
  installer: string;
  /**
   * Whether site-packages was compiled to bytecode at install. uv does not by default, and with
   * PYTHONDONTWRITEBYTECODE (common in containers and CI) every step then recompiled torch and
   * transformers from source: `import transformers, torch` took 5.0 s instead of 2.3 s here.
   * Venvs made before this was recorded are rebuilt.
   */
  bytecode?: boolean;
}

const HEALTH_FILE = 'phiforge-health.json';
/** Every installed file with its size and mtime, taken when the venv passed its health check. */
const INVENTORY_FILE = 'phiforge-files.json';

/** Venvs this process has checked: a build runs many steps in one venv; one look is enough. */
const checkedThisRun = new Map<string, ReadyVenv>();

/** Returns the toolchain's venv, creating or rebuilding it when it is missing or fails its checks. */
export async function ensureVenv(context: Context, toolchain: Toolchain): Promise<ReadyVenv> {
  const dir = venvDir(context, toolchain);
  const trusted = checkedThisRun.get(dir) ?? (await readTrustedVenv(dir, toolchain)).venv;
  if (trusted) return remember(trusted);
  return withLock(
    context.cacheRoot,
    `venv-${path.basename(dir)}`,
    async () => {
      const again = await readTrustedVenv(dir, toolchain);
      if (again.venv) return remember(again.venv);
      if (existsSync(dir)) context.say(`toolchain ${toolchain.name}: ${again.problem}; rebuilding the venv`);
      await createVenv(context, toolchain, dir);
      const ready = await readTrustedVenv(dir, toolchain);
      if (!ready.venv) throw new ToolchainError(toolchain.name, `the venv at ${dir} failed its check right after creation: ${ready.problem}`, 'Run `phiforge toolchain install` with --verbose and read its log.');
      return remember(ready.venv);
    },
    context.say,
  );
}

function remember(venv: ReadyVenv): ReadyVenv {
  checkedThisRun.set(venv.dir, venv);
  return venv;
}

/** The venv's state without creating anything: for `toolchain list` and `doctor`. */
export async function inspectVenv(context: Context, toolchain: Toolchain): Promise<{ dir: string; state: 'ready' | 'missing' | 'broken' | 'unlocked'; problem?: string }> {
  if (!toolchain.lockDigest) return { dir: '', state: 'unlocked' };
  const dir = venvDir(context, toolchain);
  if (!existsSync(dir)) return { dir, state: 'missing' };
  const { venv, problem } = await readTrustedVenv(dir, toolchain);
  return venv ? { dir, state: 'ready' } : { dir, state: 'broken', problem };
}

/**
 * Trusts a venv only if its health record matches the current lock, every pinned distribution's
 * metadata is on disk at the pinned version, and every file installed then still has its size and
 * mtime (as git and the digest memo judge files). This costs no Python start; the full import check
 * ran when the venv was made, and a damaged venv is rebuilt before a step uses it.
 */
async function readTrustedVenv(dir: string, toolchain: Toolchain): Promise<{ venv?: ReadyVenv; problem?: string }> {
  const python = path.join(dir, 'bin', 'python');
  let record: HealthRecord;
  try {
    record = JSON.parse(await readFile(path.join(dir, HEALTH_FILE), 'utf8')) as HealthRecord;
  } catch {
    return { problem: 'it has no health record (its creation did not finish)' };
  }
  if (record.lockDigest !== toolchain.lockDigest) return { problem: 'it was installed from another lock' };
  if (!record.bytecode) return { problem: 'it was made without compiled bytecode' };
  if (!existsSync(python)) return { problem: `${python} is missing` };
  const sitePackages = path.join(dir, 'lib', `python${record.pythonVersion.split('.').slice(0, 2).join('.')}`, 'site-packages');
  let distInfos: Set<string>;
  try {
    distInfos = new Set((await readdir(sitePackages)).filter((name) => name.endsWith('.dist-info')).map((name) => name.toLowerCase()));
  } catch {
    return { problem: `${sitePackages} is missing` };
  }
  for (const [name, version] of Object.entries(toolchain.pins)) {
    const prefix = `${name.toLowerCase().replace(/[-.]/g, '_')}-${version}`;
    const present = [...distInfos].some((info) => info === `${prefix}.dist-info` || info.startsWith(`${prefix}+`));
    if (!present) return { problem: `${name} ${version} is not installed` };
  }
  const elsewhere = await scriptsMadeElsewhere(dir);
  if (elsewhere) return { problem: `its scripts start ${elsewhere}, not this venv's Python (the venv was moved or copied here)` };
  const damaged = await changedFiles(dir);
  if (damaged.length > 0) return { problem: `${damaged.length} installed file(s) changed or missing (${damaged.slice(0, 3).join(', ')}${damaged.length > 3 ? ', ...' : ''})` };
  return { venv: {
    toolchain,
    dir,
    python,
    lockDigest: record.lockDigest,
    pythonVersion: record.pythonVersion,
    installed: record.installed,
    env: { VIRTUAL_ENV: dir, PATH: `${path.join(dir, 'bin')}${path.delimiter}${process.env.PATH ?? ''}` },
  } };
}

/**
 * The interpreter line of the venv's first entry-point script when it names another folder's Python.
 * The installer writes the venv's absolute path into every script (optimum-cli, ...); a venv moved or
 * restored at another path (a CI cache, a renamed cache folder) passes every other check but cannot
 * start them.
 */
async function scriptsMadeElsewhere(dir: string): Promise<string | undefined> {
  const bin = path.join(dir, 'bin');
  for (const entry of await readdir(bin, { withFileTypes: true }).catch(() => [])) {
    if (!entry.isFile()) continue;
    const head = await readFile(path.join(bin, entry.name)).then((bytes) => bytes.subarray(0, 512).toString('utf8'), () => '');
    const interpreter = /^#!(\S*\/bin\/python[\d.]*)\s*$/m.exec(head.split('\n')[0] ?? '')?.[1];
    if (!interpreter) continue;
    const home = path.dirname(path.dirname(interpreter));
    return home === dir || home === (await realpath(dir).catch(() => dir)) ? undefined : `#!${interpreter}`;
  }
  return undefined;
}

type InventoryEntry = [path: string, size: number, mtimeMs: number];

/** Every regular file of the venv but bytecode caches and phiforge's own records, with size and mtime. */
async function takeInventory(dir: string): Promise<InventoryEntry[]> {
  const entries: InventoryEntry[] = [];
  async function walk(relative: string): Promise<void> {
    const children = await readdir(path.join(dir, relative), { withFileTypes: true });
    await Promise.all(
      children.map(async (child) => {
        const childPath = relative ? `${relative}/${child.name}` : child.name;
        if (child.isDirectory()) {
          if (child.name !== '__pycache__') await walk(childPath);
        } else if (child.isFile() && !childPath.startsWith('phiforge-')) {
          const info = await stat(path.join(dir, childPath));
          entries.push([childPath, info.size, Math.trunc(info.mtimeMs)]);
        }
      }),
    );
  }
  await walk('');
  return entries.sort((a, b) => (a[0] < b[0] ? -1 : 1));
}

/** Installed files whose size or mtime differ from the inventory, or that are gone; a venv without an inventory counts as damaged. */
async function changedFiles(dir: string): Promise<string[]> {
  let inventory: InventoryEntry[];
  try {
    inventory = JSON.parse(await readFile(path.join(dir, INVENTORY_FILE), 'utf8')) as InventoryEntry[];
  } catch {
    return [INVENTORY_FILE];
  }
  const changed: string[] = [];
  // One stat per file is the whole cost (a venv with torch holds ~35,000 files). Synchronous stats
  // take a fifth of the time promised ones do (0.13 s against 0.62 s for OpenVINO's 24,700 files);
  // yielding now and then keeps Ctrl-C prompt.
  for (const [index, [file, size, mtimeMs]] of inventory.entries()) {
    if (index % 4096 === 4095) await new Promise((resolve) => setImmediate(resolve));
    let info: Stats | undefined;
    try {
      info = statSync(path.join(dir, file), { throwIfNoEntry: false });
    } catch {
      info = undefined;
    }
    if (!info || info.size !== size || Math.trunc(info.mtimeMs) !== mtimeMs) changed.push(file);
  }
  return changed.sort();
}

async function createVenv(context: Context, toolchain: Toolchain, linkedDir: string): Promise<void> {
  const lockDigest = requireLock(toolchain);
  await checkInterpreter(context, toolchain);
  // Installers write the venv's path into every entry point's shebang: it must be the real one, not
  // a symlinked cache folder that may be gone tomorrow (a CI job's, a test's).
  await mkdir(path.dirname(linkedDir), { recursive: true });
  const dir = path.join(await realpath(path.dirname(linkedDir)), path.basename(linkedDir));
  const log = cachePath(context, 'logs', 'toolchains', `${path.basename(dir)}.log`);
  // Retried: a process killed a moment ago may still be letting go of files in there.
  await rm(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  await rm(log, { force: true });
  // The installer's own error for a full disk comes at the end of its output; say it before starting.
  await ensureFreeSpace(context.cacheRoot, toolchain.install_mb * 2 ** 20 * 1.2, `installing toolchain ${toolchain.name}`);
  const uv = await findUv(context);
  context.say(`creating toolchain ${toolchain.name} in ${dir} with ${uv ? 'uv' : 'venv + pip'} (log: ${log})`);
  const step = `toolchain ${toolchain.name}`;
  const python = path.join(dir, 'bin', 'python');
  if (uv) {
    const uvEnv = { UV_PYTHON_DOWNLOADS: 'never' };
    // --seed puts pip in the venv: scripts fetch pinned source packages with it, under the user's pip configuration.
    await runCommand(step, { argv: [uv, 'venv', '--quiet', '--seed', '--python', context.python, dir], env: uvEnv }, log);
    const sources = uvSourceFlags(await readPipConfig(context.python));
    await runCommand(step, { argv: [uv, 'pip', 'sync', '--python', python, '--require-hashes', '--compile-bytecode', ...sources, toolchain.lockFile], env: uvEnv }, log);
  } else {
    // pip in the new venv reads the user's pip.conf and PIP_* variables by itself.
    await runCommand(step, { argv: [context.python, '-m', 'venv', dir] }, log);
    await runCommand(step, { argv: [python, '-m', 'pip', 'install', '--quiet', '--require-hashes', '--no-deps', '--compile', '-r', toolchain.lockFile] }, log);
  }
  const health = await runHealthCheck(toolchain, python);
  if (health.problems.length > 0) {
    throw new ToolchainError(toolchain.name, `health check failed:\n  - ${health.problems.join('\n  - ')}`, `The venv stays at ${dir} for inspection and is rebuilt on the next run. Log: ${log}`);
  }
  const record: HealthRecord = { lockDigest, pythonVersion: health.python, installed: health.installed, installer: uv ? 'uv' : 'pip', bytecode: true };
  await writeFile(path.join(dir, INVENTORY_FILE), JSON.stringify(await takeInventory(dir)));
  // Written last: a venv with a health record is complete.
  await writeFile(path.join(dir, HEALTH_FILE), JSON.stringify(record, null, 1));
}

/**
 * The interpreter venvs are made from is first needed here. A missing one or one of another minor
 * version (the lock was resolved for one; another fails deep inside the installer) is the user's to
 * fix: bad input, said before anything is installed. One that is there but cannot run is a failure.
 */
async function checkInterpreter(context: Context, toolchain: Toolchain): Promise<void> {
  const fromVariable = process.env.PHIFORGE_PYTHON === context.python;
  const chosen = fromVariable ? `PHIFORGE_PYTHON=${context.python}` : `${context.python} (PHIFORGE_PYTHON is not set)`;
  const hint = fromVariable
    ? `Install Python ${toolchain.python} and set PHIFORGE_PYTHON to its path (or unset it to use python3 from PATH).`
    : `Install Python ${toolchain.python} so that ${context.python} on PATH starts it, or set PHIFORGE_PYTHON to the path of a Python ${toolchain.python} interpreter.`;
  if (!(await findProgram(context.python))) {
    const where = context.python.includes('/') ? 'no such executable file' : 'not found on PATH';
    throw new PythonInterpreterError(context.python, `toolchain ${toolchain.name} is made with the Python interpreter ${chosen}: ${where}`, hint);
  }
  const probe = await captureCommand(context.python, ['-c', 'import platform; print(platform.python_version())']);
  const version = probe.stdout.trim();
  if (probe.exitCode !== 0) {
    throw new ToolchainError(toolchain.name, `cannot run Python interpreter ${chosen} (exit code ${probe.exitCode ?? '?'}${probe.stderr.trim() ? `: ${probe.stderr.trim().split('\n').at(-1)}` : ''})`, `Point PHIFORGE_PYTHON at a working Python ${toolchain.python} interpreter.`);
  }
  if (!version.startsWith(`${toolchain.python}.`)) {
    throw new PythonInterpreterError(context.python, `toolchain ${toolchain.name} needs Python ${toolchain.python}, but ${chosen} is Python ${version}`, hint);
  }
}

const HealthCheckResult = z.object({ python: z.string(), installed: z.record(z.string(), z.string()), problems: z.array(z.string()) });

async function runHealthCheck(toolchain: Toolchain, python: string): Promise<z.output<typeof HealthCheckResult>> {
  return runJsonScript(python, toolchainScript('common', 'health_check.py'), { imports: toolchain.imports, pins: toolchain.pins }, HealthCheckResult);
}
