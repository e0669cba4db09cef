import { execFileSync } from 'node:child_process';
import { closeSync, constants, existsSync, openSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readRegularFile } from '../../src/exec/preflight.js';
import { REPO_ID_PATTERN, repoIdProblem, revisionProblem } from '../../src/hub/names.js';
import { workspace } from '../support/cli.js';
import { phiforge } from '../support/in-process.js';
import { TINY_INT4 } from '../support/recipes.js';

// Recipe inputs the bad-input table (test/support/bad-inputs/recipe-input.ts) cannot hold: FIFOs and
// sockets, the environment, and the name rules shared by the recipe and the command line.

const VALID = `name: tiny\n${TINY_INT4}`;
const COMMIT = '0a67737cc96d2554230f90338b163bc6380a2a85';

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

/**
 * A FIFO at `file`. Should phiforge open it after all, a writer that opens and closes it after
 * `rescueMs` ends the blocked open with an empty read, so a regression fails this test instead of
 * hanging the test process (a libuv thread blocked in open() keeps even process.exit waiting).
 */
function fifo(file: string, rescueMs = 2000): string {
  execFileSync('mkfifo', [file]);
  const rescue = setTimeout(() => {
    try {
      closeSync(openSync(file, constants.O_WRONLY | constants.O_NONBLOCK));
    } catch {
      // ENXIO: no reader, nothing to rescue
    }
  }, rescueMs);
  cleanups.push(() => clearTimeout(rescue));
  return file;
}

async function timed(args: string[], cwd: string, env?: Record<string, string | undefined>) {
  const started = performance.now();
  const result = await phiforge([...args, '--cache-dir', path.join(cwd, 'cache')], { cwd, env });
  return { ...result, ms: performance.now() - started };
}

describe('a recipe or base that is not a regular file is refused without being opened', () => {
  it('refuses a FIFO given as the recipe at once', async () => {
    const cwd = await workspace();
    fifo(path.join(cwd, 'recipe.yaml'));
    const result = await timed(['build', 'recipe.yaml'], cwd);
    expect(result.exitCode, result.stderr).toBe(2);
    expect(result.stderr).toContain('error: recipe.yaml: this is a FIFO (named pipe), not a regular file; phiforge does not open it');
    expect(result.stderr).toContain('hint: Name a YAML file saved on disk');
    expect(result.ms, 'refused before the rescue writer came').toBeLessThan(1500);
  });

  it('refuses a FIFO named by extends: at the extends key', async () => {
    const cwd = await workspace({ 'recipe.yaml': `extends: base.yaml\n${VALID}` });
    fifo(path.join(cwd, 'base.yaml'));
    const result = await timed(['plan', 'recipe.yaml'], cwd);
    expect(result.exitCode, result.stderr).toBe(2);
    expect(result.stderr).toContain('recipe.yaml:1:10 extends: the base recipe base.yaml: this is a FIFO (named pipe), not a regular file');
    expect(result.ms, 'refused before the rescue writer came').toBeLessThan(1500);
  });

  it('refuses a socket given as the recipe', async () => {
    const cwd = await workspace();
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(path.join(cwd, 'recipe.yaml'), resolve));
    cleanups.push(() => server.close());
    const result = await timed(['build', 'recipe.yaml'], cwd);
    expect(result.exitCode, result.stderr).toBe(2);
    expect(result.stderr).toContain('recipe.yaml: this is a socket, not a regular file');
  });

  it('refuses a FIFO as the calibration text', async () => {
    const cwd = await workspace({ 'recipe.yaml': VALID.replace('  sym: true\n', '  sym: true\n  calibration: { file: text.txt }\n') });
    fifo(path.join(cwd, 'text.txt'));
    const result = await timed(['plan', 'recipe.yaml'], cwd);
    expect(result.exitCode, result.stderr).toBe(2);
    expect(result.stderr).toContain('recipe.yaml:10:24 quantization.calibration.file: the calibration text text.txt is a FIFO (named pipe), not a regular file');
  });

  // /proc files are regular files that stat as 0 bytes: the read itself must stop at the limit.
  it.skipIf(!existsSync('/proc/self/status'))('bounds the read itself, not only the size the file had when it was looked at', async () => {
    expect(await readRegularFile('/proc/self/status', 16)).toEqual({ unreadable: { reason: 'too-large' } });
    const whole = await readRegularFile('/proc/self/status', 2 ** 20);
    expect('bytes' in whole && whole.bytes.toString('utf8')).toContain('Name:');
  });

  it('says what else a path is: missing, a folder, a device', async () => {
    expect(await readRegularFile('/nonexistent/recipe.yaml', 1024)).toEqual({ unreadable: { reason: 'missing' } });
    expect(await readRegularFile('/tmp', 1024)).toEqual({ unreadable: { reason: 'not-a-file', kind: 'a folder', folder: true } });
    expect(await readRegularFile('/dev/zero', 1024)).toEqual({ unreadable: { reason: 'not-a-file', kind: 'a character device', folder: false } });
  });
});

describe('keys and values that JavaScript would take for something else', () => {
  it('refuses __proto__ and constructor even where any key is allowed (runtime properties), naming the key path', async () => {
    const cwd = await workspace({ 'recipe.yaml': `${VALID}targets:\n  - device: CPU\n    runtime: { __proto__: { PERFORMANCE_HINT: LATENCY }, constructor: 1 }\n` });
    const result = await timed(['plan', 'recipe.yaml'], cwd);
    expect(result.exitCode, result.stderr).toBe(2);
    expect(result.stderr).toContain('recipe.yaml:12:16 targets[0].runtime.__proto__: "__proto__" cannot be a key');
    expect(result.stderr).toContain('targets[0].runtime.constructor: "constructor" cannot be a key');
  });

  it('says .nan is not a number where a number or a mapping is wanted (a union)', async () => {
    const cwd = await workspace({ 'recipe.yaml': `${VALID}targets:\n  - device: CPU\n    gates: { ttft_ms_max: .nan }\n` });
    const result = await timed(['plan', 'recipe.yaml'], cwd);
    expect(result.exitCode, result.stderr).toBe(2);
    expect(result.stderr).toContain('targets[0].gates.ttft_ms_max: expected a finite number, got .nan (not a number)');
  });
});

describe('one target per device', () => {
  it('allows GPU and GPU.0 together: OpenVINO aliases them, but their results go to separate files', async () => {
    const cwd = await workspace({ 'recipe.yaml': `${VALID}targets:\n  - device: GPU\n  - device: GPU.0\n` });
    const result = await timed(['plan', 'recipe.yaml'], cwd);
    expect(result.exitCode, result.stderr).toBe(0);
  });
});

describe('hub names: the rules the recipe and --model share (hub/names.ts)', () => {
  const GOOD_IDS = ['microsoft/Phi-3-mini-4k-instruct', 'a/b', 'org_x/model.v1', '_a/b_', `a/${'b'.repeat(96)}`];
  const BAD_IDS: Array<[string, string]> = [
    ['phi3', 'is not owner/name'],
    ['a/b/c', 'is not owner/name'],
    ['/b', 'is not owner/name'],
    ['x/..', 'the name ".." cannot start or end with "-" or "."'],
    ['x/.a', 'cannot start or end'],
    ['x/a-', 'cannot start or end'],
    ['-x/a', 'the owner "-x" cannot start or end'],
    ['a--b/c', 'cannot contain "--" or ".."'],
    ['a/b..c', 'cannot contain "--" or ".."'],
    ['a/b c', 'may hold only letters, digits'],
    ['ä/b', 'may hold only letters, digits'],
    ['a/b.git', 'cannot end in ".git"'],
    [`a/${'b'.repeat(97)}`, 'the name has 97 characters; the Hub allows at most 96'],
  ];
  it.each(GOOD_IDS)('accepts the model id %s', (id) => {
    expect(repoIdProblem(id)).toBeUndefined();
    expect(REPO_ID_PATTERN.test(id), 'the JSON Schema pattern agrees').toBe(true);
  });
  it.each(BAD_IDS)('refuses the model id %s', (id, reason) => {
    expect(repoIdProblem(id)).toContain(reason);
    expect(REPO_ID_PATTERN.test(id), 'the JSON Schema pattern agrees').toBe(false);
  });

  const GOOD_REVISIONS = [COMMIT, 'main', 'v1.0', 'refs/pr/1', 'release/2024-06', '20240601', 'feature@x'];
  const BAD_REVISIONS: Array<[string, string]> = [
    ['', 'the revision is empty'],
    [COMMIT.slice(1), 'has 39 hex characters; a commit id has 40'],
    [`${COMMIT}0`, 'has 41 hex characters'],
    [COMMIT.toUpperCase(), 'is a commit id in upper case'],
    ['0A67737c', 'has 8 hex characters'],
    ['../../etc', 'it contains ".."'],
    ['main~1', 'it contains "~"'],
    ['main^', 'it contains "^"'],
    ['main:x', 'it contains ":"'],
    ['a?', 'it contains "?"'],
    ['a*', 'it contains "*"'],
    ['a[b', 'it contains "["'],
    ['a\\b', 'it contains "\\\\"'],
    ['a b', 'it contains " "'],
    ['a\u0001b', 'a control character'],
    ['a@{1}', 'it contains "@{"'],
    ['@', 'it is "@" alone'],
    ['-x', 'it starts with "-"'],
    ['/x', 'it starts or ends with "/"'],
    ['x/', 'it starts or ends with "/"'],
    ['x//y', 'it contains "//"'],
    ['x.', 'it ends with "."'],
    ['.x', 'its part ".x" starts with "."'],
    ['a/.x', 'its part ".x" starts with "."'],
    ['x.lock', 'its part "x.lock" ends with ".lock"'],
  ];
  it.each(GOOD_REVISIONS)('accepts the revision %s', (revision) => expect(revisionProblem(revision)).toBeUndefined());
  it.each(BAD_REVISIONS)('refuses the revision %j', (revision, reason) => expect(revisionProblem(revision)).toContain(reason));
});

describe('the Python interpreter venvs are made from', () => {
  it('is bad input (exit 2) when PHIFORGE_PYTHON names no program, said before anything is installed', async () => {
    const cwd = await workspace({ 'recipe.yaml': VALID });
    const result = await timed(['build', 'recipe.yaml'], cwd, { PHIFORGE_PYTHON: '/nonexistent/python3' });
    expect(result.exitCode, result.stderr).toBe(2);
    expect(result.stderr).toContain('error: toolchain reference is made with the Python interpreter PHIFORGE_PYTHON=/nonexistent/python3: no such executable file');
    expect(result.stderr).toContain('hint: Install Python 3.11 and set PHIFORGE_PYTHON to its path');
    expect(existsSync(path.join(cwd, 'cache', 'toolchains'))).toBe(false);
  });

  it('is bad input (exit 2) when python3 is not on PATH and PHIFORGE_PYTHON is not set', async () => {
    const cwd = await workspace({ 'bin/readme.txt': 'no python here' });
    const result = await timed(['toolchain', 'install', 'reference'], cwd, { PHIFORGE_PYTHON: undefined, PATH: path.join(cwd, 'bin') });
    expect(result.exitCode, result.stderr).toBe(2);
    expect(result.stderr).toContain('python3 (PHIFORGE_PYTHON is not set): not found on PATH');
    expect(result.stderr).toContain('hint: Install Python 3.11 so that python3 on PATH starts it, or set PHIFORGE_PYTHON');
  });
});
