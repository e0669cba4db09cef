import type { Context } from '../context.js';
import { ToolchainError } from '../errors.js';
import { runCommand } from '../engine/command.js';
import { cachePath } from '../context.js';
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
  await runCommand(
    `lock ${toolchain.name}`,
    {
      argv: [
        uv, 'pip', 'compile', toolchain.requirementsFile,
        '--quiet', '--generate-hashes', '--python-version', toolchain.python,
        '--custom-compile-command', `phiforge toolchain lock ${toolchain.name}`,
        ...toolchain.exclude.flatMap((name) => ['--no-emit-package', name]),
        '--output-file', toolchain.lockFile, ...sources,
      ],
      env: { UV_PYTHON_DOWNLOADS: 'never' },
    },
    cachePath(context, 'logs', 'toolchains', `lock-${toolchain.name}.log`),
  );
}
