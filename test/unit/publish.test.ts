import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { checkArtifact } from '../../src/artifact/check.js';
import { readManifest } from '../../src/artifact/manifest.js';
import { downloadSnapshot } from '../../src/hub/hub.js';
import { handMadeArtifact, type HandMadeArtifact } from '../support/artifact-folder.js';
import { workspace } from '../support/cli.js';
import { sha256, TOKEN, useFakeHub } from '../support/fake-hub.js';
import { phiforge } from '../support/in-process.js';

// `phiforge publish` in-process against a fake Hugging Face Hub on loopback: what it refuses, what
// it sends, what a download of the result holds, and that the token shows nowhere.

const hub = useFakeHub();
let home: string;
beforeAll(async () => {
  home = await workspace();
});

/** A user's shell: the hub variables, and an HF_HOME of its own so no real token file is read. */
function hubEnv(extra: Record<string, string | undefined> = {}) {
  return { HF_ENDPOINT: hub.url, HF_TOKEN: TOKEN, HF_TOKEN_PATH: undefined, HF_HOME: path.join(home, 'hf-home'), HF_HUB_CACHE: path.join(home, 'hf-cache'), HF_HUB_OFFLINE: '', CI: '1', ...extra };
}

async function publish(artifact: HandMadeArtifact, args: string[], env: Record<string, string | undefined> = {}) {
  const result = await phiforge(['publish', artifact.dir, ...args], { cwd: path.dirname(path.dirname(artifact.dir)), env: hubEnv(env) });
  return { ...result, output: `${result.stdout}\n${result.stderr}` };
}

/** Every file under a folder, as text, to look for what must never be written. */
async function textsUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return Promise.all(entries.filter((entry) => entry.isFile()).map((entry) => readFile(path.join(entry.parentPath, entry.name), 'latin1')));
}

const lfsPuts = () => hub.requests.filter((request) => request.method === 'PUT' && request.url.startsWith('/lfs-upload/'));

describe('phiforge publish refuses what it cannot stand behind', () => {
  it('an artifact with no device result: exit 1 with a hint, and not one request to the hub', async () => {
    const artifact = await handMadeArtifact({ results: [] });
    const { exitCode, stderr } = await publish(artifact, ['--repo', 'me/refused']);
    expect(exitCode, stderr).toBe(1);
    expect(stderr).toContain('has no passing validation of its files');
    expect(stderr).toContain('no device has validated these files');
    expect(stderr).toMatch(/hint: .*phiforge validate .*--allow-unvalidated/);
    expect(hub.requests).toEqual([]);
  });

  it('a failed device result, naming the device; results of other bytes do not count', async () => {
    const failed = await handMadeArtifact({ results: [{ device: 'CPU', status: 'passed' }, { device: 'GPU', status: 'failed' }] });
    const refused = await publish(failed, ['--repo', 'me/refused', '--json']);
    expect(refused.exitCode, refused.stderr).toBe(1);
    expect(refused.stderr).toContain('GPU on box1 failed: GPU: gate ttft_ms_max: measured 41 ms, limit <= 10 ms');
    expect(JSON.parse(refused.stdout).error).toMatchObject({ code: 'NOT_VALIDATED', reasons: [expect.stringContaining('GPU on box1 failed')] });

    const stale = await handMadeArtifact({ results: [{ device: 'CPU', status: 'passed', otherBytes: true }] });
    const staleRefused = await publish(stale, ['--repo', 'me/refused']);
    expect(staleRefused.exitCode).toBe(1);
    expect(staleRefused.stderr).toContain('no device has validated these files (1 result(s) beside it measured other bytes)');

    const skipped = await handMadeArtifact({ results: [{ device: 'NPU', status: 'skipped' }] });
    const skippedRefused = await publish(skipped, ['--repo', 'me/refused']);
    expect(skippedRefused.exitCode).toBe(1);
    expect(skippedRefused.stderr).toContain('every device was skipped (NPU on box0: device NPU not present)');
    expect(hub.requests).toEqual([]);
  });

  it('a file that no longer matches its manifest digest: exit 1 naming it, before anything is sent', async () => {
    const artifact = await handMadeArtifact();
    await writeFile(path.join(artifact.dir, 'config.json'), '{"changed": true}');
    const { exitCode, stderr } = await publish(artifact, ['--repo', 'me/changed']);
    expect(exitCode).toBe(1);
    expect(stderr).toContain('config.json does not match its sha256 in manifest.json');
    expect(hub.requests).toEqual([]);
  });

  it('a malformed --repo is a usage error (exit 2); no token is exit 2 with a hint to log in', async () => {
    const artifact = await handMadeArtifact();
    const badRepo = await publish(artifact, ['--repo', 'no-slash']);
    expect(badRepo.exitCode).toBe(2);
    expect(badRepo.stderr).toContain('--repo no-slash: expected <owner>/<name>');
    const noToken = await publish(artifact, ['--repo', 'me/no-token'], { HF_TOKEN: undefined });
    expect(noToken.exitCode).toBe(2);
    expect(noToken.stderr).toMatch(/no Hugging Face token[\s\S]*hint: Set HF_TOKEN, or log in with `hf auth login`/);
    expect(hub.requests).toEqual([]);
  });
});

describe('phiforge publish --dry-run', () => {
  it('prints the files with their sizes and the card, writes README.md, and makes no network call and needs no token', async () => {
    const artifact = await handMadeArtifact();
    const { exitCode, stdout, stderr } = await publish(artifact, ['--repo', 'me/tiny', '--dry-run'], { HF_TOKEN: undefined, HF_ENDPOINT: 'http://127.0.0.1:9' });
    expect(exitCode, stderr).toBe(0);
    expect(hub.requests).toEqual([]);
    for (const file of artifact.manifest.files) expect(stdout).toMatch(new RegExp(`\\d+(\\.\\d)? (B|KiB|MiB)  ${file.path.replace('.', '\\.')}\\n`));
    expect(stdout).toContain('validation/CPU-box0.json');
    expect(stdout).toContain('README.md');
    const card = await readFile(path.join(artifact.dir, 'README.md'), 'utf8');
    expect(stdout).toContain(card);
    expect(card).toMatch(/^---\n/);

    const json = await publish(artifact, ['--repo', 'me/tiny', '--dry-run', '--json'], { HF_TOKEN: undefined });
    const report = JSON.parse(json.stdout);
    expect(report).toMatchObject({ ok: true, dry_run: true, repo: 'me/tiny', revision: 'main', validated: true, card });
    expect(report.files.map((file: { path: string }) => file.path)).toEqual([...artifact.manifest.files.map((file) => file.path), 'manifest.json', 'validation/CPU-box0.json', 'README.md']);
    expect(report.commit).toBeUndefined();
    expect(hub.requests).toEqual([]);
  });
});

describe('phiforge publish to the hub, and back', () => {
  it('creates the repository, uploads in one commit, and a download holds every file with its digest', async () => {
    const artifact = await handMadeArtifact({ results: [{ device: 'CPU', status: 'passed' }, { device: 'NPU', status: 'passed', emulated: true }, { device: 'GPU', status: 'passed', otherBytes: true }] });
    const { exitCode, stdout, stderr } = await publish(artifact, ['--repo', 'me/tiny-int4', '--private', '--json']);
    expect(exitCode, stderr).toBe(0);
    const report = JSON.parse(stdout);
    const repo = hub.repos.get('me/tiny-int4')!;
    expect(repo.private).toBe(true);
    expect(report).toMatchObject({ ok: true, created_repository: true, commit: { id: repo.branches.get('main'), url: `${hub.url}/me/tiny-int4/commit/${repo.branches.get('main')}` } });
    // One commit on top of the repository's initial one.
    expect(repo.commits.size).toBe(2);
    expect(hub.requests.filter((request) => request.url.startsWith('/api/models/me/tiny-int4/commit/'))).toHaveLength(1);
    // Large files went through LFS and their bytes were sent once, checked against their sha256 by the hub.
    const lfsFiles = artifact.manifest.files.filter((file) => file.path.endsWith('.bin'));
    expect(report.lfs).toMatchObject({ files: lfsFiles.length, sent: { files: lfsFiles.length, bytes: lfsFiles.reduce((sum, file) => sum + file.size, 0) }, alreadyThere: { files: 0, bytes: 0 } });
    expect(lfsPuts().map((request) => request.url).sort()).toEqual(lfsFiles.map((file) => `/lfs-upload/${file.sha256}`).sort());
    // Progress, off a terminal: plain lines on stderr.
    expect(stderr).toContain('uploading 52.0 KiB of LFS objects');
    expect(stderr).toMatch(/52\.0 KiB \/ 52\.0 KiB \(100 %\)/);

    const snapshot = await downloadFromHub('me/tiny-int4', report.commit.id);
    const manifest = await readManifest(snapshot);
    expect(manifest).toEqual(artifact.manifest);
    await checkArtifact(snapshot, manifest.files);
    for (const file of manifest.files) expect(sha256(await readFile(path.join(snapshot, file.path))), file.path).toBe(file.sha256);
    // The proof travels with it: the results of these files (not the GPU's, which measured others), and the card.
    expect((await readdir(path.join(snapshot, 'validation'))).sort()).toEqual(['CPU-box0.json', 'NPU-box1.json']);
    expect(await readFile(path.join(snapshot, 'README.md'), 'utf8')).toBe(await readFile(path.join(artifact.dir, 'README.md'), 'utf8'));
  });

  it('publishing the same artifact again sends no LFS byte: the hub already holds every object', async () => {
    const artifact = await handMadeArtifact();
    const first = await publish(artifact, ['--repo', 'me/again', '--json']);
    expect(first.exitCode, first.stderr).toBe(0);
    const receivedBefore = hub.lfsBytesReceived();
    hub.requests.length = 0;

    const second = await publish(artifact, ['--repo', 'me/again', '--json']);
    expect(second.exitCode, second.stderr).toBe(0);
    const report = JSON.parse(second.stdout);
    expect(report.created_repository).toBe(false);
    expect(report.lfs).toMatchObject({ files: 2, sent: { files: 0, bytes: 0 }, alreadyThere: { files: 2 } });
    expect(lfsPuts()).toEqual([]);
    expect(hub.lfsBytesReceived()).toBe(receivedBefore);
    expect(report.commit.id).not.toBe(JSON.parse(first.stdout).commit.id);

    const human = await publish(artifact, ['--repo', 'me/again']);
    expect(human.exitCode, human.stderr).toBe(0);
    expect(human.stdout).toContain('2 through LFS (0 sent, 0 B; 2 already on the Hub');
    expect(human.stdout).toMatch(new RegExp(`commit [0-9a-f]{40}\\n  ${hub.url}/me/again/commit/[0-9a-f]{40}`));
  });

  it('commits to another branch, creating it, and leaves main as it was', async () => {
    const artifact = await handMadeArtifact();
    expect((await publish(artifact, ['--repo', 'me/branches'])).exitCode).toBe(0);
    const main = hub.repos.get('me/branches')!.branches.get('main');
    const { exitCode, stdout, stderr } = await publish(artifact, ['--repo', 'me/branches', '--revision', 'int4-g64', '--message', 'INT4, group 64', '--json']);
    expect(exitCode, stderr).toBe(0);
    const repo = hub.repos.get('me/branches')!;
    expect(JSON.parse(stdout)).toMatchObject({ revision: 'int4-g64', created_branch: true, commit: { id: repo.branches.get('int4-g64') } });
    expect(repo.branches.get('main')).toBe(main);
    expect(repo.commits.get(repo.branches.get('int4-g64')!)!.title).toBe('INT4, group 64');
  });

  it('--allow-unvalidated publishes, and the card and its tags say it was not validated', async () => {
    const artifact = await handMadeArtifact({ results: [{ device: 'CPU', status: 'failed' }] });
    const { exitCode, stderr } = await publish(artifact, ['--repo', 'me/unvalidated', '--allow-unvalidated']);
    expect(exitCode, stderr).toBe(0);
    expect(stderr).toContain('warning: publishing without a passing validation (--allow-unvalidated): CPU on box0 failed');
    const card = hub.filesAt('me/unvalidated').get('README.md')!.content.toString('utf8');
    expect(card).toContain('> **Not validated.** This artifact was published with `--allow-unvalidated`: CPU on box0 failed');
    expect(parse(card.split('---\n')[1]).tags).toContain('not-validated');
  });

  it('takes the token from the file huggingface_hub saves, and the token appears in no output, request log, file or card', async () => {
    const artifact = await handMadeArtifact();
    const tokenHome = await workspace({ 'hf-home/token': `${TOKEN}\n` });
    const runs = [
      await publish(artifact, ['--repo', 'me/secret', '--verbose'], { HF_TOKEN: undefined, HF_HOME: path.join(tokenHome, 'hf-home') }),
      await publish(artifact, ['--repo', 'me/secret', '--json', '--verbose'], { HF_TOKEN: undefined, HF_TOKEN_PATH: path.join(tokenHome, 'hf-home', 'token') }),
      await publish(artifact, ['--repo', 'me/secret', '--dry-run'], { HF_TOKEN: undefined, HF_HOME: path.join(tokenHome, 'hf-home') }),
    ];
    expect(runs.map((run) => run.exitCode)).toEqual([0, 0, 0]);
    // It was used: every hub API request carried it, and only those (LFS PUTs go to storage without it).
    const api = hub.requests.filter((request) => !request.url.startsWith('/lfs-upload/'));
    expect(api.length).toBeGreaterThan(5);
    for (const request of api) expect(request.authorization, request.url).toBe(`Bearer ${TOKEN}`);
    for (const request of lfsPuts()) expect(request.authorization).toBeUndefined();
    const secret = TOKEN.slice(3);
    for (const run of runs) expect(run.output).not.toContain(secret);
    for (const request of hub.requests) expect(request.body).not.toContain(secret);
    for (const text of await textsUnder(artifact.dir)) expect(text).not.toContain(secret);
    for (const file of hub.filesAt('me/secret').values()) expect(file.content.toString('latin1')).not.toContain(secret);
  });

  it('a refused token and a hub error are reported without the token', async () => {
    const artifact = await handMadeArtifact();
    const wrong = `hf_wrongMarker${'x'.repeat(20)}`;
    const denied = await publish(artifact, ['--repo', 'me/denied'], { HF_TOKEN: wrong });
    expect(denied.exitCode).toBe(1);
    expect(denied.stderr).toContain('publish to me/denied: access denied (401)');
    expect(denied.stderr).toMatch(/hint: Use a token with write access/);
    expect(denied.output).not.toContain(wrong);

    const notAToken = await publish(artifact, ['--repo', 'me/denied'], { HF_TOKEN: 'abcSecretMarker' });
    expect(notAToken.exitCode).toBe(2);
    expect(notAToken.stderr).toContain('the Hugging Face token is not one (it must start with hf_)');
    expect(notAToken.output).not.toContain('abcSecretMarker');
  });
});

/** The repository as a user gets it: phiforge's own download code (src/hub/hub.ts) into a fresh HF cache. */
async function downloadFromHub(repo: string, commit: string): Promise<string> {
  const saved = { ...process.env };
  Object.assign(process.env, { HF_ENDPOINT: hub.url, HF_TOKEN: TOKEN, HF_HUB_CACHE: path.join(await workspace(), 'hf'), HF_HUB_OFFLINE: '' });
  try {
    return await downloadSnapshot(repo, commit);
  } finally {
    for (const name of ['HF_ENDPOINT', 'HF_TOKEN', 'HF_HUB_CACHE', 'HF_HUB_OFFLINE']) {
      if (saved[name] === undefined) delete process.env[name];
      else process.env[name] = saved[name];
    }
  }
}
