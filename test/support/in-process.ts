import { main } from '../../src/cli/main.js';
import type { CliResult } from './cli.js';

/**
 * Runs phiforge's main() in this process, in `cwd`, with its output captured: the unit lane's way to
 * test what a user sees without building or spawning the CLI. (Progress that listr2 draws goes to the
 * real stderr; nothing in the unit lane runs a step.)
 */
export async function phiforge(args: string[], options: { cwd: string; env?: Record<string, string | undefined> }): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const previousCwd = process.cwd();
  const previousEnv = Object.fromEntries(Object.keys(options.env ?? {}).map((name) => [name, process.env[name]]));
  process.chdir(options.cwd);
  for (const [name, value] of Object.entries(options.env ?? {})) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  try {
    const exitCode = await main(args, { stdout: (text) => (stdout += text), stderr: (text) => (stderr += text) });
    return { exitCode, stdout, stderr };
  } finally {
    process.chdir(previousCwd);
    for (const [name, value] of Object.entries(previousEnv)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}
