import { existsSync } from 'node:fs';
import path from 'node:path';
import { cachePath, type Context } from '../context.js';
import { captureCommand, runCommand } from '../exec/command.js';
import { withLock } from '../cache/lock.js';

/** The uv phiforge installs from PyPI when the machine has none; pinned so locks resolve the same way. */
export const UV_VERSION = '0.13.8';

/**
 * Finds uv: PHIFORGE_UV, then `uv` on PATH, then one phiforge installed into the cache, installing
 * it with pip (which honors the user's pip configuration) if needed. Returns undefined when uv
 * cannot be had or PHIFORGE_NO_UV is set: callers then fall back to venv + pip.
 */
export async function findUv(context: Context): Promise<string | undefined> {
  if (process.env.PHIFORGE_NO_UV) return undefined;
  for (const candidate of [process.env.PHIFORGE_UV, 'uv'].filter(Boolean) as string[]) {
    const probe = await captureCommand(candidate, ['--version']);
    if (probe.exitCode === 0) return candidate;
  }
  const toolDir = cachePath(context, 'tools', `uv-${UV_VERSION}`);
  const uv = path.join(toolDir, 'bin', 'uv');
  if (existsSync(uv)) return uv;
  return withLock(context.cacheRoot, `uv-${UV_VERSION}`, async () => {
    if (existsSync(uv)) return uv;
    context.say(`installing uv ${UV_VERSION} from PyPI into ${toolDir}`);
    const log = cachePath(context, 'logs', 'toolchains', `uv-${UV_VERSION}.log`);
    try {
      await runCommand('install uv', { argv: [context.python, '-m', 'venv', toolDir] }, log);
      await runCommand('install uv', { argv: [path.join(toolDir, 'bin', 'python'), '-m', 'pip', 'install', '--quiet', `uv==${UV_VERSION}`] }, log);
      return uv;
    } catch {
      context.say(`could not install uv (see ${log}); using venv + pip instead`);
      return undefined;
    }
  }, context.say);
}
