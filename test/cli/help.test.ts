import { describe, expect, it } from 'vitest';
import { COMMAND_NAMES } from '../../src/cli/main.js';
import { runCli, workspace } from '../support/cli.js';

// `phiforge --help` is printed from pages rendered at build time, without loading the bundle: they
// must be exactly what the parser itself prints (`--verbose` makes it go the long way).

describe('help', () => {
  it.each(['', ...COMMAND_NAMES])('the pre-rendered help of "%s" is what the parser prints', async (command) => {
    const cwd = await workspace();
    const args = command ? [command, '--help'] : ['--help'];
    const fast = await runCli(args, { cwd });
    const live = await runCli([...args, '--verbose'], { cwd });
    expect(fast.exitCode).toBe(0);
    expect(fast.stdout).toBe(live.stdout);
    expect(fast.stdout).toContain(command ? `phiforge ${command}` : 'phiforge <command> [options]');
  });
});
