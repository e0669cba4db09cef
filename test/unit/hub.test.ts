import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { downloadConfig, downloadSnapshot, resolveCommit, snapshotDir } from '../../src/hub/hub.js';
import { runCli, workspace } from '../support/cli.js';

// phiforge's hub code (src/hub/hub.ts, on top of @huggingface/hub) against a fake Hugging Face Hub
// on loopback. The fake answers only the requests those library functions make:
//   GET  /api/models/{id}/revision/{rev}      modelInfo: the commit a branch names (`sha`)
//   GET  /api/models/{id}/tree/{rev}          listFiles (snapshotDownload): every file of the repo
//   POST /api/models/{id}/paths-info/{rev}    pathsInfo (downloadFileToCacheDir): oid / lfs.oid -> blob name
//   GET  /{id}/resolve/{rev}/{path}           the file; `Range: bytes=0-0` first to learn size and ETag.
//                                             LFS files redirect to /cdn/{sha256}, as the Hub sends them to its CDN.
// Never xet: a response without the application/vnd.xet-fileinfo+json type keeps the library on plain HTTP.
// The repo is private: every request but the CDN's must carry `Authorization: Bearer <TOKEN>`.

const REPO = 'org/tiny-phi3';
const COMMIT = createHash('sha1').update('org/tiny-phi3 initial commit').digest('hex');
// The library insists on the hf_ prefix of real tokens; the random part makes it findable anywhere.
const TOKEN = `hf_phiforgeTestSecret${randomBytes(12).toString('hex')}`;

interface HubFile {
  path: string;
  content: Buffer;
  lfs: boolean;
}

const FILES: HubFile[] = [
  {
    path: 'config.json',
    content: Buffer.from(
      JSON.stringify({ architectures: ['Phi3ForCausalLM'], model_type: 'phi3', hidden_size: 3072, intermediate_size: 8192, num_hidden_layers: 32, num_attention_heads: 32, vocab_size: 32064 }, null, 2),
    ),
    lfs: false,
  },
  { path: 'model.safetensors', content: Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7) % 256)), lfs: true },
  { path: 'tokenizer_config.json', content: Buffer.from(JSON.stringify({ tokenizer_class: 'LlamaTokenizer', model_max_length: 4096 })), lfs: false },
];
const WEIGHTS = 'model.safetensors';

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
/** The git blob id, which the Hub reports as `oid` and huggingface_hub names non-LFS blobs by. */
const gitOid = (bytes: Buffer) => createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex');
/** The name huggingface_hub gives the file's blob in the cache: sha256 for LFS files, the git oid otherwise. */
const blobName = (file: HubFile) => (file.lfs ? sha256(file.content) : gitOid(file.content));

function treeEntry(file: HubFile) {
  return {
    type: 'file',
    path: file.path,
    size: file.content.length,
    oid: gitOid(file.content),
    ...(file.lfs && { lfs: { oid: sha256(file.content), size: file.content.length, pointerSize: 134 } }),
    lastCommit: { id: COMMIT, title: 'initial commit', date: '2024-05-01T00:00:00.000Z' },
  };
}

interface SeenRequest {
  method: string;
  /** Path and query exactly as sent. */
  url: string;
  authorization?: string;
  body: string;
}

interface Reply {
  status: number;
  headers?: Record<string, string>;
  body?: Buffer | string;
}

const json = (status: number, value: unknown, headers: Record<string, string> = {}): Reply => ({
  status,
  headers: { 'Content-Type': 'application/json; charset=utf-8', ...headers },
  body: JSON.stringify(value),
});

/** The file's bytes, or the part a `Range: bytes=a-b` asks for (206 with Content-Range, which the library reads the size from). */
function bytes(content: Buffer, etag: string, range: string | undefined): Reply {
  const headers = { 'Content-Type': 'application/octet-stream', 'Accept-Ranges': 'bytes', ETag: `"${etag}"` };
  const asked = range?.match(/^bytes=(\d+)-(\d*)$/);
  if (!asked) return { status: 200, headers, body: content };
  const start = Number(asked[1]);
  const end = asked[2] ? Math.min(Number(asked[2]), content.length - 1) : content.length - 1;
  return { status: 206, headers: { ...headers, 'Content-Range': `bytes ${start}-${end}/${content.length}` }, body: content.subarray(start, end + 1) };
}

/** What the fake Hub answers; `pathname` is the raw path (never parsed as a URL, so a `//` stays visible). */
function answer(method: string, pathname: string, headers: IncomingHttpHeaders, body: string): Reply {
  const cdn = pathname.match(/^\/cdn\/([0-9a-f]{64})$/);
  if (cdn) {
    const file = FILES.find((candidate) => candidate.lfs && sha256(candidate.content) === cdn[1]);
    return file ? bytes(file.content, cdn[1], headers.range) : json(404, { error: 'Not found' });
  }
  if (headers.authorization !== `Bearer ${TOKEN}`) return json(401, { error: 'Invalid credentials in Authorization header' });

  const api = pathname.match(/^\/api\/models\/([^/]+\/[^/]+)\/(revision|tree|paths-info)\/([^/]+)$/);
  const resolve = pathname.match(/^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/);
  const [, repo, revision] = api ? [api[0], api[1], api[3]] : resolve ? resolve : [];
  if (!repo) return json(404, { error: 'Not found' });
  if (repo !== REPO) return json(404, { error: 'Repository not found' }, { 'X-Error-Code': 'RepoNotFound' });
  if (![COMMIT, 'main'].includes(decodeURIComponent(revision!))) return json(404, { error: `Invalid rev id: ${revision}` }, { 'X-Error-Code': 'RevisionNotFound' });

  if (api?.[2] === 'revision' && method === 'GET') {
    return json(200, { _id: '665f0000000000000000abcd', id: REPO, sha: COMMIT, private: true, gated: false, pipeline_tag: 'text-generation', downloads: 0, likes: 0, lastModified: '2024-05-01T00:00:00.000Z' });
  }
  if (api?.[2] === 'tree' && method === 'GET') return json(200, FILES.map(treeEntry));
  if (api?.[2] === 'paths-info' && method === 'POST') {
    const { paths } = JSON.parse(body) as { paths: string[] };
    return json(200, FILES.filter((file) => paths.includes(file.path)).map(treeEntry));
  }
  if (resolve && (method === 'GET' || method === 'HEAD')) {
    const file = FILES.find((candidate) => candidate.path === resolve[3]);
    if (!file) return json(404, { error: 'Entry not found' }, { 'X-Error-Code': 'EntryNotFound' });
    if (file.lfs) {
      const oid = sha256(file.content);
      return { status: 302, headers: { Location: `/cdn/${oid}`, 'X-Linked-ETag': `"${oid}"`, 'X-Linked-Size': String(file.content.length) } };
    }
    return bytes(file.content, gitOid(file.content), headers.range);
  }
  return json(405, { error: 'Method not allowed' });
}

interface FakeHub {
  url: string;
  requests: SeenRequest[];
  close(): Promise<void>;
}

async function startFakeHub(): Promise<FakeHub> {
  const requests: SeenRequest[] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const url = request.url ?? '/';
      requests.push({ method: request.method ?? 'GET', url, authorization: request.headers.authorization, body });
      const reply = answer(request.method ?? 'GET', url.split('?')[0], request.headers, body);
      response.writeHead(reply.status, reply.headers).end(reply.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, requests, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

// ---------------------------------------------------------------------------------------------

const recipe = (options: { id?: string; revision?: string; groupSize?: number } = {}) =>
  [
    'name: tiny-phi3-int4',
    'model:',
    `  id: ${options.id ?? REPO}`,
    `  revision: ${options.revision ?? 'main'}`,
    'pipeline: openvino',
    'quantization:',
    '  weight_format: int4',
    `  group_size: ${options.groupSize ?? 128}`, // line 8
    '  ratio: 0.6',
    '  sym: true',
    '',
  ].join('\n');

let hub: FakeHub;

beforeAll(async () => {
  hub = await startFakeHub();
});
afterAll(async () => {
  await hub?.close();
});
beforeEach(() => {
  hub.requests.length = 0;
});

/** A user's shell: the hub variables, nothing inherited that could send phiforge elsewhere or offline. */
async function userRun(args: string[], recipeText: string, env: Record<string, string> = {}) {
  const cwd = await workspace({ 'recipe.yaml': recipeText });
  const hfCache = path.join(cwd, 'hf');
  const result = await runCli(args, { cwd, env: { HF_ENDPOINT: hub.url, HF_HUB_CACHE: hfCache, HF_TOKEN: TOKEN, HF_HUB_OFFLINE: '', HF_HOME: path.join(cwd, 'hf-home'), ...env } });
  return { ...result, cwd, hfCache, output: `${result.stdout}\n${result.stderr}` };
}

const repoFolder = (hfCache: string) => path.join(hfCache, 'models--org--tiny-phi3');
const asked = (fragment: string) => hub.requests.filter((request) => request.url.includes(fragment));

describe('phiforge against a Hugging Face Hub (a fake one on loopback)', () => {
  it('plan resolves the branch to its commit with one API call and shows the snapshot folder in HF_HUB_CACHE', async () => {
    const { exitCode, stdout, stderr, hfCache } = await userRun(['plan', 'recipe.yaml'], recipe());
    expect(exitCode, stderr).toBe(0);
    const snapshot = path.join(repoFolder(hfCache), 'snapshots', COMMIT);
    expect(stdout).toContain(`download ${REPO}@${COMMIT} into the Hugging Face cache (${snapshot})`);
    expect(stdout).toContain(`output: ${snapshot}\n`);
    expect(stdout).toContain(`ln -sfn ${snapshot} model && `);
    // One question, about the branch; plan downloads nothing.
    expect(hub.requests.map(({ method, url }) => `${method} ${url.split('?')[0]}`)).toEqual([`GET /api/models/${REPO}/revision/main`]);
    expect(new URL(hub.requests[0].url, hub.url).searchParams.getAll('expand')).toContain('sha');
    expect(existsSync(hfCache)).toBe(false);
  });

  it('a pinned commit needs no hub at all to plan', async () => {
    const { exitCode, stdout, stderr } = await userRun(['plan', 'recipe.yaml', '--json'], recipe({ revision: COMMIT }));
    expect(exitCode, stderr).toBe(0);
    expect(JSON.parse(stdout).steps[0].output).toMatch(new RegExp(`/models--org--tiny-phi3/snapshots/${COMMIT}$`));
    expect(hub.requests).toEqual([]);
  });

  it('build checks the recipe against config.json before any weights are downloaded (exit 2, located)', async () => {
    const { exitCode, stdout, stderr, cwd, hfCache } = await userRun(['build', 'recipe.yaml', '--json'], recipe({ groupSize: 100 }));
    expect(exitCode, stderr).toBe(2);
    expect(stderr).toContain("recipe.yaml:8:15 quantization.group_size: group_size 100 does not divide the model's hidden_size (3072)");
    expect(stderr).toContain('hint: Use -1 (channel-wise) or one of 16, 32, 64, 128, 256.');
    // stdout stays one JSON document: the library's download chatter went to stderr.
    const report = JSON.parse(stdout);
    expect(report.error.code).toBe('INPUT_INVALID');
    expect(report.error.problems.map((problem: { key: string; location: { line: number } }) => [problem.key, problem.location.line])).toEqual([
      ['quantization.group_size', 8],
      ['quantization.group_size', 8],
    ]);

    // config.json was fetched (and cached the huggingface_hub way); the weights were never asked for.
    expect(asked(`/${REPO}/resolve/${COMMIT}/config.json`).length).toBeGreaterThan(0);
    expect(hub.requests.filter((request) => request.url.includes(WEIGHTS) || request.body.includes(WEIGHTS) || request.url.startsWith('/cdn/'))).toEqual([]);
    expect(asked('/tree/')).toEqual([]);
    const config = FILES.find((file) => file.path === 'config.json')!;
    expect(await readdir(path.join(repoFolder(hfCache), 'blobs'))).toEqual([blobName(config)]);
    expect(existsSync(path.join(cwd, 'dist'))).toBe(false);
  });

  it('sends HF_TOKEN to the hub as a bearer token and never prints it', async () => {
    const runs = [
      await userRun(['plan', 'recipe.yaml', '--verbose'], recipe()),
      await userRun(['build', 'recipe.yaml', '--verbose'], recipe({ groupSize: 100 })),
      await userRun(['build', 'recipe.yaml', '--json', '--verbose'], recipe({ groupSize: 100, revision: COMMIT })),
    ];
    expect(runs.map((run) => run.exitCode)).toEqual([0, 2, 2]);
    const toHub = hub.requests.filter((request) => !request.url.startsWith('/cdn/'));
    expect(toHub.length).toBeGreaterThanOrEqual(5);
    for (const request of toHub) expect(request.authorization, `${request.method} ${request.url}`).toBe(`Bearer ${TOKEN}`);
    for (const run of runs) {
      expect(run.output).not.toContain(TOKEN);
      expect(run.output).not.toContain(TOKEN.slice(3)); // not even without its hf_ prefix
    }
  });

  it('a 401 exits 1 with a hint to set HF_TOKEN; a model the hub does not have exits 2', async () => {
    const wrongToken = `hf_wrong${randomBytes(8).toString('hex')}`;
    const denied = await userRun(['plan', 'recipe.yaml'], recipe(), { HF_TOKEN: wrongToken });
    expect(denied.exitCode, denied.stderr).toBe(1);
    expect(denied.stderr).toContain(`resolve ${REPO}@main: access denied (401)`);
    expect(denied.stderr).toMatch(/hint: .*HF_TOKEN/);
    expect(denied.output).not.toContain(wrongToken);
    expect(hub.requests.at(-1)?.authorization).toBe(`Bearer ${wrongToken}`);

    const deniedDownload = await userRun(['build', 'recipe.yaml'], recipe({ revision: COMMIT }), { HF_TOKEN: wrongToken });
    expect(deniedDownload.exitCode, deniedDownload.stderr).toBe(1);
    expect(deniedDownload.stderr).toContain(`download config.json of ${REPO}@${COMMIT}: access denied (401)`);
    expect(deniedDownload.stderr).toMatch(/hint: .*HF_TOKEN/);

    const missing = await userRun(['plan', 'recipe.yaml'], recipe({ id: 'org/no-such-model' }));
    expect(missing.exitCode, missing.stderr).toBe(2);
    expect(missing.stderr).toContain('resolve org/no-such-model@main: not found on the hub');
    expect(missing.stderr).toContain('hint: Check the model id and revision.');
  });
  it('accepts HF_ENDPOINT with a trailing slash, as huggingface_hub does', async () => {
    const { exitCode, stderr } = await userRun(['plan', 'recipe.yaml'], recipe(), { HF_ENDPOINT: `${hub.url}/` });
    expect(exitCode, stderr).toBe(0);
    expect(hub.requests.map((request) => request.url.split('?')[0])).toEqual([`/api/models/${REPO}/revision/main`]);
  });

  it('with HF_HUB_OFFLINE set, a model that is not in the cache fails (exit 2) without a request to the hub', async () => {
    const { exitCode, stderr } = await userRun(['build', 'recipe.yaml'], recipe({ revision: COMMIT }), { HF_HUB_OFFLINE: '1' });
    expect(hub.requests).toEqual([]);
    expect(exitCode, stderr).toBe(2);
    expect(stderr).toContain('HF_HUB_OFFLINE');
  });
});

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
