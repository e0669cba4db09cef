import { lstat, mkdir, readdir, readFile, readlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { downloadConfig, downloadSnapshot, resolveCommit, snapshotDir } from '../../src/hub/hub.js';
import { workspace } from '../support/cli.js';
import { blobName, COMMIT, FILES, REPO, sha256, TOKEN, useFakeHub } from '../support/fake-hub.js';

// src/hub/hub.ts called directly against a fake Hugging Face Hub on loopback.

const hub = useFakeHub();

const repoFolder = (hfCache: string) => path.join(hfCache, 'models--org--tiny-phi3');
const asked = (fragment: string) => hub.requests.filter((request) => request.url.includes(fragment));

describe('the download itself (src/hub/hub.ts called directly)', () => {
  const saved: Record<string, string | undefined> = {};
  let hfCache: string;

  beforeAll(async () => {
    hfCache = path.join(await workspace(), 'hf');
    const env = { HF_ENDPOINT: hub.url, HF_HUB_CACHE: hfCache, HF_TOKEN: TOKEN, HF_HUB_OFFLINE: '' };
    for (const [name, value] of Object.entries(env)) {
      saved[name] = process.env[name];
      process.env[name] = value;
    }
  });
  afterAll(() => {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });

  it('fills HF_HUB_CACHE with the huggingface_hub layout: blobs/, snapshots/<commit>/ of relative symlinks, refs/main', async () => {
    const commit = await resolveCommit(REPO, 'main');
    expect(commit).toBe(COMMIT);
    const configPath = await downloadConfig(REPO, commit);
    expect(configPath).toBe(path.join(snapshotDir(REPO, commit), 'config.json'));
    const snapshot = await downloadSnapshot(REPO, commit, 'main');

    const repo = repoFolder(hfCache);
    expect(snapshot).toBe(path.join(repo, 'snapshots', COMMIT));
    expect(snapshotDir(REPO, COMMIT)).toBe(snapshot);
    expect((await readdir(snapshot)).sort()).toEqual(FILES.map((file) => file.path).sort());
    for (const file of FILES) {
      const pointer = path.join(snapshot, file.path);
      expect((await lstat(pointer)).isSymbolicLink(), file.path).toBe(true);
      expect(await readlink(pointer)).toBe(path.join('..', '..', 'blobs', blobName(file)));
      expect((await readFile(pointer)).equals(file.content), file.path).toBe(true);
    }
    // No leftovers (*.incomplete) next to the blobs.
    expect((await readdir(path.join(repo, 'blobs'))).sort()).toEqual(FILES.map(blobName).sort());
    expect((await readFile(path.join(repo, 'refs', 'main'), 'utf8')).trim()).toBe(COMMIT);
    // The weights came through the LFS redirect, with the content the Hub described.
    expect(asked(`/cdn/${sha256(FILES[1].content)}`).length).toBeGreaterThan(0);
  });

  it('downloads nothing again once the snapshot is there', async () => {
    const snapshot = await downloadSnapshot(REPO, COMMIT);
    expect(snapshot).toBe(snapshotDir(REPO, COMMIT));
    expect(hub.requests.filter((request) => request.url.includes('/resolve/') || request.url.startsWith('/cdn/'))).toEqual([]);
    expect(await downloadConfig(REPO, COMMIT)).toBe(path.join(snapshot, 'config.json'));
  });

  it('with HF_HUB_OFFLINE set, serves what the cache has and asks the hub nothing', async () => {
    process.env.HF_HUB_OFFLINE = '1';
    try {
      expect(await downloadConfig(REPO, COMMIT)).toBe(path.join(snapshotDir(REPO, COMMIT), 'config.json'));
      expect(await downloadSnapshot(REPO, COMMIT)).toBe(snapshotDir(REPO, COMMIT));
      await expect(resolveCommit(REPO, 'main')).rejects.toMatchObject({ exitCode: 2, message: expect.stringContaining('HF_HUB_OFFLINE') });
      const other = '0'.repeat(40);
      await expect(downloadConfig(REPO, other)).rejects.toMatchObject({ exitCode: 2, message: expect.stringContaining('not in the Hugging Face cache') });
    } finally {
      process.env.HF_HUB_OFFLINE = '';
    }
    expect(hub.requests).toEqual([]);
  });
});

describe('the token a download uses, as huggingface_hub finds it', () => {
  const names = ['HF_ENDPOINT', 'HF_HUB_CACHE', 'HF_TOKEN', 'HF_TOKEN_PATH', 'HF_HOME', 'HF_HUB_OFFLINE'] as const;
  const saved: Record<string, string | undefined> = {};
  let folder: string;

  beforeAll(async () => {
    folder = await workspace();
    for (const name of names) saved[name] = process.env[name];
  });
  afterAll(() => {
    for (const name of names) {
      if (saved[name] === undefined) delete process.env[name];
      else process.env[name] = saved[name];
    }
  });
  const setEnv = (env: Partial<Record<(typeof names)[number], string>>) => {
    for (const name of names) delete process.env[name];
    Object.assign(process.env, { HF_ENDPOINT: hub.url, ...env });
  };

  it('without HF_TOKEN, uses the token `hf auth login` saved in $HF_HOME/token', async () => {
    const home = path.join(folder, 'home');
    await mkdir(home, { recursive: true });
    await writeFile(path.join(home, 'token'), `${TOKEN}\n`);
    setEnv({ HF_HOME: home });
    const config = await downloadConfig(REPO, COMMIT);
    expect(config).toBe(path.join(home, 'hub', 'models--org--tiny-phi3', 'snapshots', COMMIT, 'config.json'));
    expect(asked('/resolve/').length).toBeGreaterThan(0);
    expect(asked('/resolve/').every((request) => request.authorization === `Bearer ${TOKEN}`)).toBe(true);
  });

  it('reads the file HF_TOKEN_PATH names before $HF_HOME/token', async () => {
    const file = path.join(folder, 'elsewhere-token');
    await writeFile(file, TOKEN);
    const home = path.join(folder, 'stale-home');
    await mkdir(home, { recursive: true });
    await writeFile(path.join(home, 'token'), 'hf_revokedLongAgo');
    setEnv({ HF_HOME: home, HF_TOKEN_PATH: file });
    expect(await resolveCommit(REPO, 'main')).toBe(COMMIT);
    expect(hub.requests.map((request) => request.authorization)).toEqual(hub.requests.map(() => `Bearer ${TOKEN}`));
  });

  it('with no token anywhere, a hub that wants one is refused with a hint naming both ways to give it', async () => {
    setEnv({ HF_HOME: path.join(folder, 'nobody') });
    const refused = downloadConfig(REPO, COMMIT);
    await expect(refused).rejects.toMatchObject({ message: expect.stringContaining('access denied (401)') });
    await expect(refused).rejects.toMatchObject({ hint: expect.stringMatching(/HF_TOKEN.*hf auth login/) });
  });
});
