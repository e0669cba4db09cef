import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { cachePath, type Context } from '../context.js';
import { ToolchainError } from '../errors.js';
import { runCommand } from '../exec/command.js';
import type { Toolchain } from './definition.js';
import { readPipConfig, uvSourceFlags } from './pip-config.js';
import { findUv } from './uv.js';

/**
 * Resolves requirements.in into requirements.lock: every distribution pinned with its hashes, so a
 * venv installs byte-identical packages later or fails loudly. Resolution uses the user's pip sources,
 * so the CPU torch wheel they configured is what gets locked.
 */
export async function lockToolchain(context: Context, toolchain: Toolchain): Promise<void> {
  const uv = await findUv(context);
  if (!uv) throw new ToolchainError(toolchain.name, 'locking needs uv, which could not be found or installed', 'Install uv (pip install uv) or set PHIFORGE_UV.');
  const sources = uvSourceFlags(await readPipConfig(context.python));
  // An override whose marker never holds removes a dependency, and what only it needed, from the resolution.
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'phiforge-lock-'));
  const overrides = path.join(scratch, 'drop.txt');
  await writeFile(overrides, toolchain.drop.map((name) => `${name} ; sys_platform == 'never'\n`).join(''));
  await runCommand(
    `lock ${toolchain.name}`,
    {
      argv: [
        uv, 'pip', 'compile', toolchain.requirementsFile,
        '--quiet', '--generate-hashes', '--python-version', toolchain.python,
        '--custom-compile-command', `phiforge toolchain lock ${toolchain.name}`,
        ...toolchain.exclude.flatMap((name) => ['--no-emit-package', name]),
        ...(toolchain.drop.length > 0 ? ['--override', overrides] : []),
        '--output-file', toolchain.lockFile, ...sources,
      ],
      env: { UV_PYTHON_DOWNLOADS: 'never' },
    },
    cachePath(context, 'logs', 'toolchains', `lock-${toolchain.name}.log`),
  );
  await rm(scratch, { recursive: true, force: true });
}
