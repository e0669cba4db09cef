import { existsSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { sha256 } from '../cache/digest.js';
import { cachePath, PACKAGE_ROOT, type Context } from '../context.js';
import { ToolchainError, UsageError } from '../errors.js';
import { parseWithSchema, YamlSource } from '../yaml/located-yaml.js';

const ToolchainFileSchema = z.strictObject({
  description: z.string(),
  python: z.string().regex(/^3\.\d+$/, 'expected a Python minor version such as "3.11"'),
  imports: z.array(z.string()).min(1),
  exclude: z.array(z.string()).default([]).meta({ hint: 'Distributions to leave out of the lock although a dependency declares them.' }),
  drop: z.array(z.string()).default([]).meta({ hint: 'Distributions to leave out of the lock together with everything only they need.' }),
  requires: z.enum(['nvidia-driver']).optional().meta({ hint: 'What the machine needs for this toolchain to be of use.' }),
  install_mb: z.number().int().positive().meta({ hint: 'About how much disk the installed venv takes, in MiB: checked against free space before installing.' }),
});

/** Whether the machine has what a toolchain `requires:`; undefined when it does, else why not. */
export function unmetRequirement(toolchain: Toolchain): string | undefined {
  if (toolchain.requires === 'nvidia-driver' && !existsSync('/proc/driver/nvidia/version')) return 'needs an NVIDIA driver, and none is loaded';
  return undefined;
}

export interface Toolchain {
  name: string;
  dir: string;
  description: string;
  /** Python minor version the lock was resolved for. */
  python: string;
  imports: string[];
  /** Declared dependencies deliberately left out of the lock (each with its reason in toolchain.yaml). */
  exclude: string[];
  /** Declared dependencies left out with their whole dependency tree (a package used without its framework). */
  drop: string[];
  requires?: 'nvidia-driver';
  /** About how much disk the venv takes once installed. */
  install_mb: number;
  /** Top-level exact pins from requirements.in: the health check compares them with what is installed. */
  pins: Record<string, string>;
  requirementsFile: string;
  lockFile: string;
  /** sha256 of requirements.lock: keys the venv, every step cache key and the manifest. */
  lockDigest?: string;
}

export const TOOLCHAINS_ROOT = path.join(PACKAGE_ROOT, 'toolchains');

export async function listToolchains(): Promise<string[]> {
  const entries = await readdir(TOOLCHAINS_ROOT, { withFileTypes: true });
  return entries.filter((entry) => entry.isDirectory() && existsSync(path.join(TOOLCHAINS_ROOT, entry.name, 'toolchain.yaml'))).map((entry) => entry.name).sort();
}

export async function loadToolchain(name: string): Promise<Toolchain> {
  const dir = path.join(TOOLCHAINS_ROOT, name);
  const definitionFile = path.join(dir, 'toolchain.yaml');
  if (!existsSync(definitionFile)) {
    throw new UsageError(`unknown toolchain "${name}"`, `Known toolchains: ${(await listToolchains()).join(', ')}.`);
  }
  const definition = parseWithSchema(await YamlSource.read(definitionFile), ToolchainFileSchema);
  const requirementsFile = path.join(dir, 'requirements.in');
  const lockFile = path.join(dir, 'requirements.lock');
  const pins = parsePins(name, await readFile(requirementsFile, 'utf8'));
  const lockDigest = existsSync(lockFile) ? sha256(await readFile(lockFile)) : undefined;
  return { name, dir, ...definition, pins, requirementsFile, lockFile, lockDigest };
}

function parsePins(toolchain: string, text: string): Record<string, string> {
  const pins: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    if (!line) continue;
    const match = /^([A-Za-z0-9._-]+)==([^\s;]+)$/.exec(line);
    if (!match) throw new ToolchainError(toolchain, `requirements.in line "${line}" is not an exact pin (name==version)`, 'Pin every top-level requirement exactly (name==version); the lock resolves the rest.');
    pins[match[1]] = match[2];
  }
  return pins;
}

export function requireLock(toolchain: Toolchain): string {
  if (!toolchain.lockDigest) {
    throw new ToolchainError(toolchain.name, 'requirements.lock is missing', `Run \`phiforge toolchain lock ${toolchain.name}\` and commit the lock.`);
  }
  return toolchain.lockDigest;
}

/** The venv folder for this exact lock: a changed lock gets a new venv, the old one stays until gc. */
export function venvDir(context: Context, toolchain: Toolchain): string {
  return cachePath(context, 'toolchains', `${toolchain.name}-${requireLock(toolchain).slice(0, 16)}`);
}

/** The modules every toolchain script imports (phiforge_io, the runner loop, perplexity, similarity). */
export const COMMON_SCRIPTS = path.join(TOOLCHAINS_ROOT, 'common', 'scripts');

/** Path of a script shipped in toolchains/<name>/scripts (or the shared ones: 'common'). */
export function toolchainScript(toolchain: Toolchain | string, script: string): string {
  if (toolchain === 'common') return path.join(COMMON_SCRIPTS, script);
  return path.join(typeof toolchain === 'string' ? path.join(TOOLCHAINS_ROOT, toolchain) : toolchain.dir, 'scripts', script);
}

/**
 * The environment every toolchain script runs with: the shared modules are importable by name, so no
 * script edits sys.path. It is an absolute path of this installation, so it never enters a cache key.
 */
export function scriptEnv(): Record<string, string> {
  return { PYTHONPATH: COMMON_SCRIPTS };
}
