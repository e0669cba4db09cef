import { existsSync } from 'node:fs';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { executePlan } from '../../src/engine/build.js';
import { OutputCheckError, StepFailedError } from '../../src/errors.js';
import { nodeStep, planOf, setup } from '../support/fake-steps.js';

// The engine with small fake steps (node one-liners): caching, failure reports, atomic publishing.

// The free space the engine sees after a failed command; undefined asks the real file system.
const disk = vi.hoisted(() => ({ freeBytes: undefined as number | undefined }));
vi.mock('../../src/exec/preflight.js', async (importOriginal) => {
  const actual = await importOriginal<typeof import('../../src/exec/preflight.js')>();
  return { ...actual, freeBytes: async (dir: string) => disk.freeBytes ?? actual.freeBytes(dir) };
});

const WRITE_A = "require('fs').writeFileSync(process.argv[1] + '/a.txt', 'alpha')";
const COPY_A_TO_B = "const fs = require('fs'); fs.writeFileSync(process.argv[1] + '/b.txt', fs.readFileSync(process.argv[2] + '/a.txt', 'utf8') + '+beta')";

describe('engine', () => {
  it('runs steps in order, publishes the last one with a manifest, and reuses them on the next run', async () => {
    const { context, recipe } = await setup();
    const a = nodeStep(context, 'a', WRITE_A);
    const b = nodeStep(context, 'b', COPY_A_TO_B, { needs: [a] });
    const first = await executePlan(context, planOf(recipe, [a, b]));
    expect(await readFile(path.join(first.artifactDir, 'b.txt'), 'utf8')).toBe('alpha+beta');
    const manifest = JSON.parse(await readFile(path.join(first.artifactDir, 'manifest.json'), 'utf8'));
    expect(manifest.steps.map((step: { id: string; reused: boolean }) => [step.id, step.reused])).toEqual([['model', true], ['a', false], ['b', false]]);
    expect(manifest.files).toEqual([{ path: 'b.txt', size: 10, sha256: expect.stringMatching(/^[0-9a-f]{64}$/) }]);

    const second = await executePlan(context, planOf(recipe, [a, b]));
    expect(second.steps.map((step) => step.reused)).toEqual([true, true, true]);
    // The same files again: dist/fake is left as it was, so results measured beside it stay valid.
    expect(second.replaced).toBe(false);
  });

  it('discards a cached output whose bytes changed and rebuilds it', async () => {
    const { context, recipe, lines } = await setup();
    const a = nodeStep(context, 'a', WRITE_A);
    await executePlan(context, planOf(recipe, [a]));
    await writeFile(path.join(a.outDir, 'a.txt'), 'alphA');
    const again = await executePlan(context, planOf(recipe, [a]));
    expect(again.steps[1].reused).toBe(false);
    expect(await readFile(path.join(again.artifactDir, 'a.txt'), 'utf8')).toBe('alpha');
    expect(lines.join('\n')).toContain('a.txt does not match its recorded sha256');
  });

  it('reports a failing command with its command line, exit code and stderr tail, and keeps the previous artifact', async () => {
    const { context, recipe } = await setup();
    const good = nodeStep(context, 'a', WRITE_A);
    const published = await executePlan(context, planOf(recipe, [good]));
    const before = await readFile(path.join(published.artifactDir, 'manifest.json'), 'utf8');

    const failing = nodeStep(context, 'a', "console.error('first line'); console.error('converter exploded'); process.exit(3)");
    const error = await executePlan(context, planOf(recipe, [failing])).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(StepFailedError);
    const { failure } = error as StepFailedError;
    expect(failure).toMatchObject({ step: 'a', exitCode: 3, likelyOutOfMemory: false });
    expect(failure.outOfDisk).toBeUndefined();
    expect(failure.stderrTail).toEqual(['first line', 'converter exploded']);
    expect(failure.commandLine).toContain(`${process.execPath} -e`);
    expect(await readFile(failure.logPath, 'utf8')).toContain('converter exploded');
    expect(await readFile(path.join(published.artifactDir, 'manifest.json'), 'utf8')).toBe(before);
    expect((await readdir(context.outRoot)).sort()).toEqual(['fake']);
    expect(existsSync(failing.outDir)).toBe(false);
  });

  it('says when a failed command most likely ran out of disk: its stderr says so, or the disk is full afterwards', async () => {
    const { context, recipe } = await setup();
    const said = nodeStep(context, 'a', "console.error('OSError: [Errno 28] No space left on device'); process.exit(1)");
    const error = (await executePlan(context, planOf(recipe, [said])).catch((caught: unknown) => caught)) as StepFailedError;
    expect(error).toBeInstanceOf(StepFailedError);
    expect(error.message).toBe(`step a exited with code 1 (most likely it ran out of disk: its output says so on the disk holding ${path.join(context.cacheRoot, 'logs', 'fake')})`);
    expect(error.hint).toContain('phiforge cache gc');

    // OpenVINO's serializer says only "iostream error"; the file system, nearly full, tells.
    const silent = nodeStep(context, 'a', "console.error('RuntimeError: basic_ios::clear: iostream error'); process.exit(1)", { salt: 'silent' });
    disk.freeBytes = 12 * 2 ** 20;
    try {
      const full = (await executePlan(context, planOf(recipe, [silent])).catch((caught: unknown) => caught)) as StepFailedError;
      expect(full.message).toContain('(most likely it ran out of disk: 12 MiB free on the disk holding ');
      expect(full.toJSON()).toMatchObject({ outOfDisk: { freeBytes: 12 * 2 ** 20 }, hint: expect.stringContaining('--cache-dir') });
    } finally {
      disk.freeBytes = undefined;
    }
  });

  it('names the signal when a command is killed', async () => {
    const { context, recipe } = await setup();
    const killed = nodeStep(context, 'a', "process.kill(process.pid, 'SIGKILL')");
    const error = (await executePlan(context, planOf(recipe, [killed])).catch((caught: unknown) => caught)) as StepFailedError;
    expect(error).toBeInstanceOf(StepFailedError);
    expect(error.failure.signal).toBe('SIGKILL');
    expect(error.message).toContain('was killed by SIGKILL');
    // The kernel's OOM-kill count did not move (where it can be read), so this is not blamed on memory.
    if (existsSync('/sys/fs/cgroup/memory.events') || existsSync('/sys/fs/cgroup/memory/memory.oom_control')) expect(error.failure.likelyOutOfMemory).toBe(false);
  });

  it('refuses to cache an output that fails its check', async () => {
    const { context, recipe } = await setup();
    const wrong = nodeStep(context, 'a', WRITE_A, { verify: async () => ['rt_info nncf/weight_compression/ratio is 1.0, the recipe asks for 0.6'] });
    const error = await executePlan(context, planOf(recipe, [wrong])).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OutputCheckError);
    expect((error as OutputCheckError).message).toContain('ratio is 1.0, the recipe asks for 0.6');
    expect(existsSync(path.join(context.cacheRoot, 'steps', wrong.key, 'COMMITTED'))).toBe(false);
    expect(existsSync(context.outRoot)).toBe(false);
  });
});
