import { execFileSync } from 'node:child_process';
import { lstat, mkdir, readdir, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { writeIntoArtifact } from '../../src/artifact/check.js';
import { ArtifactEntryError } from '../../src/errors.js';
import { refNameProblem } from '../../src/hub/names.js';
import { writeDeviceResult } from '../../src/validate/results.js';
import { handMadeArtifact, type HandMadeArtifact } from '../support/artifact-folder.js';
import { workspace } from '../support/cli.js';
import { sha256, TOKEN, useFakeHub } from '../support/fake-hub.js';
import { phiforge } from '../support/in-process.js';

// Issue #24: nothing inside an artifact points outside it, and phiforge never writes through a link.
// validate, verify, publish and report walk the folder with lstat first; a link is followed only to a
// regular file inside the folder or to huggingface_hub's blob of a snapshot download, and what
// phiforge writes there (the model card, device results) replaces a link instead of writing through it.

const hub = useFakeHub();
let home: string;
beforeAll(async () => {
  home = await workspace();
});

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => new Promise((done) => server.close(done))));
});

function hubEnv(extra: Record<string, string | undefined> = {}) {
  return { HF_ENDPOINT: hub.url, HF_TOKEN: TOKEN, HF_TOKEN_PATH: undefined, HF_HOME: path.join(home, 'hf-home'), HF_HUB_CACHE: path.join(home, 'hf-cache'), HF_HUB_OFFLINE: '', CI: '1', ...extra };
}

/** The workspace the hand-made artifact lives in (it is <root>/dist/<name>). */
const rootOf = (artifact: HandMadeArtifact) => path.dirname(path.dirname(artifact.dir));

/** phiforge in the artifact's workspace, with a cache of its own there. */
async function run(artifact: HandMadeArtifact, args: string[], env: Record<string, string | undefined> = {}) {
  const cwd = rootOf(artifact);
  return phiforge([...args, '--cache-dir', path.join(cwd, 'cache')], { cwd, env: hubEnv(env) });
}

/** The four commands that read an artifact folder, each refusing it before doing anything else. */
const READERS = (dir: string) => ({
  // A hand-made artifact has a stub reference.json, so one that got past the folder check stops there
  // (and --device npu would stop it next): validate never measures in this lane.
  validate: ['validate', dir, '--device', 'npu'],
  verify: ['verify', dir],
  publish: ['publish', dir, '--repo', 'me/refused'],
  report: ['report', dir],
});

/** A file outside the artifact, with bytes to compare after phiforge ran. */
async function victim(artifact: HandMadeArtifact, name: string, content: string | Buffer): Promise<{ file: string; content: Buffer }> {
  const file = path.join(rootOf(artifact), name);
  await writeFile(file, content);
  return { file, content: Buffer.from(content) };
}

/** Replaces an artifact file with a link to `target` (as written into the link). */
async function replaceWithLink(artifact: HandMadeArtifact, file: string, target: string): Promise<void> {
  await rm(path.join(artifact.dir, file), { recursive: true, force: true });
  await symlink(target, path.join(artifact.dir, file));
}

/**
 * The artifact moved into a huggingface_hub cache as snapshot_download leaves it: every file once in
 * models--me--tiny/blobs/<sha256>, and snapshots/<revision>/<file> a relative link to its blob.
 */
async function hubSnapshot(artifact: HandMadeArtifact): Promise<{ snapshot: string; blobs: string }> {
  const repository = path.join(rootOf(artifact), 'hf', 'hub', 'models--me--tiny');
  const blobs = path.join(repository, 'blobs');
  const snapshot = path.join(repository, 'snapshots', 'c'.repeat(40));
  await mkdir(blobs, { recursive: true });
  for (const entry of await readdir(artifact.dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const source = path.join(entry.parentPath, entry.name);
    const content = await readFile(source);
    const blob = path.join(blobs, sha256(content));
    await writeFile(blob, content);
    const link = path.join(snapshot, path.relative(artifact.dir, source));
    await mkdir(path.dirname(link), { recursive: true });
    await symlink(path.relative(path.dirname(link), blob), link);
  }
  return { snapshot, blobs };
}

/** Every file under a folder with its bytes, to show nothing there changed. */
async function contentsOf(dir: string): Promise<Record<string, string>> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const files = entries.filter((entry) => entry.isFile());
  return Object.fromEntries(await Promise.all(files.map(async (entry) => [path.relative(dir, path.join(entry.parentPath, entry.name)), sha256(await readFile(path.join(entry.parentPath, entry.name)))])));
}

describe('publish never writes the model card through a README.md link', () => {
  it('README.md linked to a file outside: refused (exit 1) by --dry-run and by a publish, and that file keeps every byte', async () => {
    const artifact = await handMadeArtifact();
    const notes = await victim(artifact, 'my-notes.md', '# my own notes, not a model card\n');
    await symlink('../../my-notes.md', path.join(artifact.dir, 'README.md'));
    for (const args of [['--dry-run'], []]) {
      const { exitCode, stderr } = await run(artifact, ['publish', artifact.dir, '--repo', 'me/notes', ...args]);
      expect(exitCode, stderr).toBe(1);
      expect(stderr).toContain(`error: ${artifact.dir} holds an entry phiforge will not follow or open`);
      expect(stderr).toContain(`README.md is a link to ../../my-notes.md (${notes.file}), outside the artifact folder`);
      expect(stderr).toMatch(/hint: An artifact holds its own files: replace each such link with a copy/);
    }
    expect(await readFile(notes.file)).toEqual(notes.content);
    expect(await readlink(path.join(artifact.dir, 'README.md'))).toBe('../../my-notes.md');
    expect(hub.requests).toEqual([]);
  });

  it('README.md linked to a file of the artifact: the link is replaced by the card, and the file it pointed to is unchanged', async () => {
    const artifact = await handMadeArtifact();
    await symlink('config.json', path.join(artifact.dir, 'README.md'));
    const { exitCode, stdout, stderr } = await run(artifact, ['publish', artifact.dir, '--repo', 'me/tiny', '--dry-run']);
    expect(exitCode, stderr).toBe(0);
    expect(await readFile(path.join(artifact.dir, 'config.json'))).toEqual(artifact.files.get('config.json'));
    expect((await lstat(path.join(artifact.dir, 'README.md'))).isFile()).toBe(true);
    const card = await readFile(path.join(artifact.dir, 'README.md'), 'utf8');
    expect(card).toMatch(/^---\n/);
    expect(stdout).toContain(card);
    // No temporary file is left beside it.
    expect((await readdir(artifact.dir)).filter((name) => name.endsWith('.tmp'))).toEqual([]);
  });

  it("a huggingface_hub snapshot: publish --dry-run replaces the snapshot's README.md link and leaves the shared blob as it was", async () => {
    const artifact = await handMadeArtifact();
    await writeFile(path.join(artifact.dir, 'README.md'), '# the card as downloaded\n');
    const { snapshot, blobs } = await hubSnapshot(artifact);
    const before = await contentsOf(blobs);
    const { exitCode, stderr } = await run(artifact, ['publish', snapshot, '--repo', 'me/tiny', '--dry-run']);
    expect(exitCode, stderr).toBe(0);
    expect(await contentsOf(blobs)).toEqual(before);
    expect((await lstat(path.join(snapshot, 'README.md'))).isFile()).toBe(true);
    expect(await readFile(path.join(snapshot, 'README.md'), 'utf8')).toMatch(/^---\n/);
  });
});

describe('links inside an artifact are followed only to its own files', () => {
  it('a listed file linked to a copy outside: validate, verify, publish and report refuse it (exit 1), and the hub gets nothing', async () => {
    const artifact = await handMadeArtifact();
    // The bytes outside are exactly the listed ones: the digest check alone would pass them.
    const outside = await victim(artifact, 'elsewhere.json', artifact.files.get('config.json')!);
    await replaceWithLink(artifact, 'config.json', '../../elsewhere.json');
    for (const [command, args] of Object.entries(READERS(artifact.dir))) {
      const { exitCode, stderr } = await run(artifact, args);
      expect(exitCode, `${command}: ${stderr}`).toBe(1);
      expect(stderr, command).toContain(`config.json is a link to ../../elsewhere.json (${outside.file}), outside the artifact folder`);
      expect(stderr, command).toMatch(/\n {2}hint: /);
    }
    expect(hub.requests).toEqual([]);
    expect(await readFile(outside.file)).toEqual(outside.content);
    const json = await run(artifact, ['report', artifact.dir, '--json']);
    expect(JSON.parse(json.stdout).error).toMatchObject({ code: 'ARTIFACT_ENTRY_REFUSED', entries: [{ file: 'config.json', problem: expect.stringContaining('outside the artifact folder') }] });
  });

  it('an unlisted link to /etc is named, not walked; one to / is named by report', async () => {
    const artifact = await handMadeArtifact();
    await symlink('/etc', path.join(artifact.dir, 'etc'));
    const validate = await run(artifact, READERS(artifact.dir).validate);
    expect(validate.exitCode, validate.stderr).toBe(1);
    expect(validate.stderr).toContain('etc is a link to a folder, /etc: phiforge does not follow links into folders');
    expect(validate.stderr).not.toContain('passwd');

    await rm(path.join(artifact.dir, 'etc'));
    await symlink('/', path.join(artifact.dir, 'root'));
    const report = await run(artifact, ['report', artifact.dir]);
    expect(report.exitCode, report.stderr).toBe(1);
    expect(report.stderr).toContain('root is a link to a folder, /: phiforge does not follow links into folders');
  });

  it('a link loop, a link to the folder itself and a dangling link are named with where they point, not an internal error', async () => {
    const artifact = await handMadeArtifact();
    await symlink('loop-b', path.join(artifact.dir, 'loop-a'));
    await symlink('loop-a', path.join(artifact.dir, 'loop-b'));
    await symlink('.', path.join(artifact.dir, 'again'));
    await replaceWithLink(artifact, 'openvino_tokenizer.bin', 'tokenizer-moved-away.bin');
    for (const args of [READERS(artifact.dir).validate, READERS(artifact.dir).publish]) {
      const { exitCode, stderr } = await run(artifact, args);
      expect(exitCode, stderr).toBe(1);
      expect(stderr).not.toContain('internal error');
      expect(stderr).toContain('holds 4 entries phiforge will not follow or open');
      expect(stderr).toContain('loop-a is a link to loop-b that loops back on itself');
      expect(stderr).toContain('loop-b is a link to loop-a that loops back on itself');
      expect(stderr).toContain(`again is a link to a folder, . (${artifact.dir})`);
      expect(stderr).toContain('openvino_tokenizer.bin is a link to tokenizer-moved-away.bin, which does not exist');
    }
  });

  it('a FIFO and a socket in the artifact are refused, not opened', async () => {
    const artifact = await handMadeArtifact();
    execFileSync('mkfifo', [path.join(artifact.dir, 'pipe')]);
    const server = createServer();
    servers.push(server);
    await new Promise<void>((listening) => server.listen(path.join(artifact.dir, 'sock'), listening));
    for (const args of [READERS(artifact.dir).validate, READERS(artifact.dir).report]) {
      const { exitCode, stderr } = await run(artifact, args);
      expect(exitCode, stderr).toBe(1);
      expect(stderr).toContain('pipe is a FIFO (named pipe)');
      expect(stderr).toContain('sock is a socket');
    }
  });

  it('a listed file replaced by a FIFO is named as a FIFO, and never opened (a read would wait for a writer)', async () => {
    const artifact = await handMadeArtifact();
    await rm(path.join(artifact.dir, 'config.json'));
    execFileSync('mkfifo', [path.join(artifact.dir, 'config.json')]);
    for (const args of [READERS(artifact.dir).validate, READERS(artifact.dir).publish]) {
      const { exitCode, stderr } = await run(artifact, args);
      expect(exitCode, stderr).toBe(1);
      expect(stderr).toContain('config.json is a FIFO (named pipe)');
    }
  }, 10_000);

  it('a link to a file inside the artifact is accepted and read as that file; publish uploads its bytes as a regular file', async () => {
    const artifact = await handMadeArtifact();
    // config.json moves into a subfolder the manifest also lists, and its old name links there.
    const manifestFile = path.join(artifact.dir, 'manifest.json');
    const config = artifact.manifest.files.find((file) => file.path === 'config.json')!;
    const manifest = { ...artifact.manifest, files: [...artifact.manifest.files, { ...config, path: 'sub/config.json' }].sort((a, b) => (a.path < b.path ? -1 : 1)) };
    await writeFile(manifestFile, JSON.stringify(manifest, null, 2));
    await mkdir(path.join(artifact.dir, 'sub'));
    await writeFile(path.join(artifact.dir, 'sub', 'config.json'), artifact.files.get('config.json')!);
    await replaceWithLink(artifact, 'config.json', 'sub/config.json');
    // The device result must name these files: write it again for the new manifest.
    const result = JSON.parse(await readFile(path.join(artifact.dir, 'validation', 'CPU-box0.json'), 'utf8'));
    const { filesDigest } = await import('../../src/artifact/manifest.js');
    result.artifact.files_sha256 = filesDigest(manifest.files);
    await writeFile(path.join(artifact.dir, 'validation', 'CPU-box0.json'), JSON.stringify(result));

    // Past the folder check, validate stops at the hand-made artifact's stub reference.json.
    const validate = await run(artifact, READERS(artifact.dir).validate);
    expect(validate.stderr).not.toContain('will not follow or open');
    expect(validate.stderr).toContain('reference.json (written by reference_answers.py) does not match its contract');
    expect((await run(artifact, ['report', artifact.dir])).exitCode).toBe(0);
    const published = await run(artifact, ['publish', artifact.dir, '--repo', 'me/linked']);
    expect(published.exitCode, published.stderr).toBe(0);
    expect(hub.filesAt('me/linked').get('config.json')!.content).toEqual(artifact.files.get('config.json'));
    expect(hub.filesAt('me/linked').get('sub/config.json')!.content).toEqual(artifact.files.get('config.json'));
  });

  it('a huggingface_hub snapshot is accepted with links into its own blobs/, and refused with a link into another repository\'s', async () => {
    const artifact = await handMadeArtifact();
    const { snapshot } = await hubSnapshot(artifact);
    expect((await run(artifact, ['report', snapshot])).exitCode).toBe(0);
    const published = await run(artifact, ['publish', snapshot, '--repo', 'me/from-snapshot']);
    expect(published.exitCode, published.stderr).toBe(0);
    for (const [file, content] of artifact.files) expect(hub.filesAt('me/from-snapshot').get(file)!.content, file).toEqual(content);

    const other = path.join(rootOf(artifact), 'hf', 'hub', 'models--someone--else', 'blobs');
    await mkdir(other, { recursive: true });
    const content = artifact.files.get('config.json')!;
    await writeFile(path.join(other, sha256(content)), content);
    await rm(path.join(snapshot, 'config.json'));
    await symlink(path.relative(snapshot, path.join(other, sha256(content))), path.join(snapshot, 'config.json'));
    const refused = await run(artifact, ['report', snapshot]);
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toMatch(/config\.json is a link to \.\.\/\.\.\/\.\.\/models--someone--else\/blobs\/[0-9a-f]{64} \(.*\), outside the artifact folder/);
  });
});

describe('device results are written into the artifact, never through a link', () => {
  it('a validation/ that links to a folder outside: validate refuses the artifact, and a result is never written there', async () => {
    const artifact = await handMadeArtifact();
    const shared = path.join(rootOf(artifact), 'shared-results');
    await mkdir(shared);
    await writeFile(path.join(shared, 'keep.json'), '{"mine": true}');
    await rm(path.join(artifact.dir, 'validation'), { recursive: true });
    await symlink('../../shared-results', path.join(artifact.dir, 'validation'));
    const { exitCode, stderr } = await run(artifact, READERS(artifact.dir).validate);
    expect(exitCode, stderr).toBe(1);
    expect(stderr).toContain(`validation is a link to a folder, ../../shared-results (${shared}): phiforge does not follow links into folders`);

    const written = writeDeviceResult(artifact.dir, artifact.results[0]);
    await expect(written).rejects.toBeInstanceOf(ArtifactEntryError);
    await expect(written).rejects.toThrow('validation is a link to ../../shared-results: phiforge writes validation/CPU-box0.json into the artifact folder, never through a link');
    expect(await readdir(shared)).toEqual(['keep.json']);
    expect(await readFile(path.join(shared, 'keep.json'), 'utf8')).toBe('{"mine": true}');
  });

  it('a result file that is a link is replaced, and the file it pointed to keeps its bytes', async () => {
    const artifact = await handMadeArtifact();
    const other = await victim(artifact, 'other.json', '{"someone": "else"}');
    await replaceWithLink(artifact, 'validation/CPU-box0.json', '../../../other.json');
    const file = await writeDeviceResult(artifact.dir, artifact.results[0]);
    expect((await lstat(file)).isFile()).toBe(true);
    expect(JSON.parse(await readFile(file, 'utf8'))).toEqual(artifact.results[0]);
    expect(await readFile(other.file)).toEqual(other.content);
    expect(await readdir(path.join(artifact.dir, 'validation'))).toEqual(['CPU-box0.json']);
  });

  it('writeIntoArtifact makes the folders on the way and leaves no temporary file', async () => {
    const dir = await workspace();
    await writeIntoArtifact(dir, 'validation/deeper/x.json', '{}');
    expect(await readFile(path.join(dir, 'validation', 'deeper', 'x.json'), 'utf8')).toBe('{}');
    expect(await readdir(path.join(dir, 'validation', 'deeper'))).toEqual(['x.json']);
  });
});

describe('publish --revision takes branch names only', () => {
  it.each(['main', 'int4-g128', 'feature/int4', 'v1.0', 'release_2026'])('%s is a branch', (name) => {
    expect(refNameProblem(name)).toBeUndefined();
  });

  it.each([
    '@',
    '-x',
    '/main',
    'main/',
    'a//b',
    'a..b',
    'main@{1}',
    'main~1',
    'main^',
    'main:x',
    'what?',
    'int4*',
    '[x]',
    'a\\b',
    'my branch',
    'tab\there',
    'main.',
    'x/.hidden',
    'int4.lock',
  ])('%j is refused', (name) => {
    expect(refNameProblem(name)).toBeDefined();
  });

  it('publish refuses one with exit 2 and a hint, before reading the artifact or asking the hub', async () => {
    const artifact = await handMadeArtifact();
    const { exitCode, stderr } = await run(artifact, ['publish', artifact.dir, '--repo', 'me/tiny', '--revision', 'main~1:x', '--dry-run']);
    expect(exitCode).toBe(2);
    expect(stderr).toContain(`error: --revision "main~1:x": not a branch name the Hub accepts (it contains "~")`);
    expect(stderr).toContain('hint: Name a branch, not a commit expression');
    expect(hub.requests).toEqual([]);
    await expect(lstat(path.join(artifact.dir, 'README.md'))).rejects.toThrow('ENOENT');
  });
});
