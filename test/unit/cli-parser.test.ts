import { describe, expect, it } from 'vitest';
import { buildParser } from '../../src/cli/main.js';
import type { CommandDeclaration } from '../../src/cli/options.js';
import { UsageError } from '../../src/errors.js';

// The command line as declared in src/cli/options.ts, parsed in-process: what reaches a command, and
// what is refused before anything runs.

async function parse(argv: string[]): Promise<{ path: string[]; args: Record<string, unknown> }> {
  let seen: { path: string[]; args: Record<string, unknown> } | undefined;
  const dispatch = async (_declaration: CommandDeclaration, path: string[], args: Record<string, unknown>) => {
    seen = { path, args };
  };
  await buildParser(argv, dispatch).parseAsync();
  if (!seen) throw new Error('no command was dispatched');
  return seen;
}

describe('the command-line parser', () => {
  it('hands build its recipes and options, with the defaults a user gets', async () => {
    const { path, args } = await parse(['build', 'a.yaml', 'b.yaml', '--no-validate', '-j', '2', '--device', 'cpu', 'npu']);
    expect(path).toEqual(['build']);
    expect(args).toMatchObject({ recipe: ['a.yaml', 'b.yaml'], validate: false, jobs: 2, device: ['cpu', 'npu'], force: false, 'cache-dir': expect.any(String), out: 'dist', json: false });
  });

  it('reaches subcommands with their own options', async () => {
    expect(await parse(['cache', 'gc', '--older-than', '7'])).toMatchObject({ path: ['cache', 'gc'], args: { 'older-than': 7 } });
    expect(await parse(['toolchain', 'lock', 'openvino'])).toMatchObject({ path: ['toolchain', 'lock'], args: { name: 'openvino' } });
  });

  it.each([
    [['build', 'a.yaml', '--jobs', '0'], /--jobs 0: expected a whole number of at least 1/],
    [['build'], /Not enough non-option arguments/],
    [['build', 'a.yaml', '--device', 'tpu'], /Invalid values/],
    [['build', 'a.yaml', '--colour'], /Unknown argument: colour/],
    [['cache'], /Name a cache command: ls, gc, verify, clean/],
    [['bulid', 'a.yaml'], /unknown command "bulid". Did you mean build\?/],
  ])('refuses %j as a usage error', async (argv, message) => {
    const error = await parse(argv).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(UsageError);
    expect((error as UsageError).message).toMatch(message);
    expect((error as UsageError).exitCode).toBe(2);
  });
});
