import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { parse } from 'yaml';

// A fake Hugging Face Hub on loopback, for phiforge's hub code (src/hub/, on top of @huggingface/hub).
// It keeps repositories in memory (branches, commits, files, an LFS object store) and answers only
// the requests those library functions make:
//
//   downloads
//   GET  /api/models/{id}                      repoExists
//   GET  /api/models/{id}/revision/{rev}       modelInfo: the commit a branch names (`sha`), cardData
//   GET  /api/models/{id}/tree/{rev}           listFiles (snapshotDownload): every file of the repo
//   POST /api/models/{id}/paths-info/{rev}     pathsInfo (downloadFileToCacheDir): oid / lfs.oid -> blob name
//   GET  /{id}/resolve/{rev}/{path}            the file; `Range: bytes=0-0` first to learn size and ETag.
//                                              LFS files redirect to /cdn/{sha256}, as the Hub sends them to its CDN.
//   uploads
//   POST /api/repos/create                     createRepo; 409 when it exists
//   POST /api/models/{id}/branch/{branch}      createBranch; 409 when it exists
//   POST /api/models/{id}/preupload/{branch}   which files go through LFS (uploadMode)
//   POST /{id}.git/info/lfs/objects/batch      LFS batch: an upload action for each object the store lacks,
//                                              none for one it holds (so the client sends nothing for it)
//   PUT  /lfs-upload/{sha256}                  the LFS bytes (no token, like a presigned URL); the sha256 is checked
//   POST /api/models/{id}/commit/{branch}      the NDJSON commit; every lfsFile must be in the store
//
// Never xet: the batch reply says transfer "basic", and a resolve reply without the
// application/vnd.xet-fileinfo+json type keeps the library on plain HTTP.
// Every request but the CDN's and the LFS PUTs must carry `Authorization: Bearer <TOKEN>`.

export const REPO = 'org/tiny-phi3';
export const COMMIT = createHash('sha1').update('org/tiny-phi3 initial commit').digest('hex');
// The library insists on the hf_ prefix of real tokens; the random part makes it findable anywhere.
export const TOKEN = `hf_phiforgeTestSecret${randomBytes(12).toString('hex')}`;

export interface HubFile {
  path: string;
  content: Buffer;
  lfs: boolean;
}

export const FILES: HubFile[] = [
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
export const WEIGHTS = 'model.safetensors';

export const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
/** The git blob id, which the Hub reports as `oid` and huggingface_hub names non-LFS blobs by. */
export const gitOid = (bytes: Buffer) => createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex');
/** The name huggingface_hub gives the file's blob in the cache: sha256 for LFS files, the git oid otherwise. */
export const blobName = (file: HubFile) => (file.lfs ? sha256(file.content) : gitOid(file.content));

/** Files the Hub stores through LFS: its default .gitattributes patterns, and anything of 10 MB or more. */
const LFS_PATTERN = /\.(bin|blob|data|gguf|onnx|pt|pth|safetensors)$/;
export const goesThroughLfs = (path: string, size: number) => size > 0 && (LFS_PATTERN.test(path) || size >= 10_000_000);

/** What a new repository holds, as on the Hub: a .gitattributes. */
const GITATTRIBUTES = Buffer.from(['*.bin filter=lfs diff=lfs merge=lfs -text', '*.onnx filter=lfs diff=lfs merge=lfs -text', '*.safetensors filter=lfs diff=lfs merge=lfs -text', ''].join('\n'));

export interface StoredCommit {
  id: string;
  title: string;
  description?: string;
  date: string;
  files: Map<string, HubFile>;
}

export interface StoredRepo {
  private: boolean;
  branches: Map<string, string>;
  commits: Map<string, StoredCommit>;
}

export interface SeenRequest {
  method: string;
  /** Path and query exactly as sent. */
  url: string;
  authorization?: string;
  /** The body as text; an LFS PUT's bytes are only counted. */
  body: string;
  bytes: number;
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
  // An empty file cannot answer bytes 0-0; the library accepts a 200 with the size in Content-Range.
  if (content.length === 0) return { status: 200, headers: { ...headers, 'Content-Range': 'bytes */0' }, body: content };
  const start = Number(asked[1]);
  const end = asked[2] ? Math.min(Number(asked[2]), content.length - 1) : content.length - 1;
  return { status: 206, headers: { ...headers, 'Content-Range': `bytes ${start}-${end}/${content.length}` }, body: content.subarray(start, end + 1) };
}

export interface FakeHub {
  url: string;
  requests: SeenRequest[];
  repos: Map<string, StoredRepo>;
  /** The LFS store, by sha256. */
  lfs: Map<string, Buffer>;
  /** LFS bytes received through PUTs since the hub started. */
  lfsBytesReceived(): number;
  /** The files of a repository at a branch or commit. */
  filesAt(repo: string, revision?: string): Map<string, HubFile>;
  close(): Promise<void>;
}

/**
 * The fake Hub of one test file: started before its tests, its request log emptied before each test,
 * closed after them. Call it at the top of the file; the handle reaches the running hub.
 */
export function useFakeHub(): FakeHub {
  let running: FakeHub | undefined;
  beforeAll(async () => {
    running = await startFakeHub();
  });
  afterAll(async () => {
    await running?.close();
  });
  beforeEach(() => {
    if (running) running.requests.length = 0;
  });
  return new Proxy({} as FakeHub, {
    get(_target, key) {
      if (!running) throw new Error('the fake hub starts in beforeAll: use it inside a test');
      const value = Reflect.get(running, key) as unknown;
      return typeof value === 'function' ? value.bind(running) : value;
    },
  });
}

export async function startFakeHub(): Promise<FakeHub> {
  const requests: SeenRequest[] = [];
  const repos = new Map<string, StoredRepo>();
  const lfs = new Map<string, Buffer>();
  let lfsBytesReceived = 0;
  let base = '';

  // The repository the download tests read: private, one commit.
  repos.set(REPO, {
    private: true,
    branches: new Map([['main', COMMIT]]),
    commits: new Map([[COMMIT, { id: COMMIT, title: 'initial commit', date: '2024-05-01T00:00:00.000Z', files: new Map(FILES.map((file) => [file.path, file])) }]]),
  });
  for (const file of FILES) if (file.lfs) lfs.set(sha256(file.content), file.content);

  const commitOf = (repo: StoredRepo, revision: string) => {
    const wanted = decodeURIComponent(revision);
    const id = repo.branches.get(wanted === 'HEAD' ? 'main' : wanted) ?? (repo.commits.has(wanted) ? wanted : undefined);
    return id ? repo.commits.get(id) : undefined;
  };

  function treeEntry(file: HubFile, commit: StoredCommit) {
    return {
      type: 'file',
      path: file.path,
      size: file.content.length,
      oid: gitOid(file.content),
      ...(file.lfs && { lfs: { oid: sha256(file.content), size: file.content.length, pointerSize: 134 } }),
      lastCommit: { id: commit.id, title: commit.title, date: commit.date },
    };
  }

  function cardData(commit: StoredCommit): unknown {
    const readme = commit.files.get('README.md')?.content.toString('utf8');
    const header = readme && /^---\n([\s\S]*?)\n---/.exec(readme);
    return header ? parse(header[1]) : undefined;
  }

  function createRepo(body: string): Reply {
    const { name, organization, type, visibility } = JSON.parse(body) as { name: string; organization: string; type: string; visibility?: string };
    const id = `${organization}/${name}`;
    if (type !== 'model') return json(400, { error: `fake hub: only model repositories, not ${type}` });
    if (repos.has(id)) return json(409, { error: 'You already created this model repo', url: `${base}/${id}` });
    const initial = createHash('sha1').update(`${id} initial commit`).digest('hex');
    const files = new Map([['.gitattributes', { path: '.gitattributes', content: GITATTRIBUTES, lfs: false }]]);
    repos.set(id, { private: visibility === 'private', branches: new Map([['main', initial]]), commits: new Map([[initial, { id: initial, title: 'initial commit', date: new Date().toISOString(), files }]]) });
    return json(200, { url: `${base}/${id}`, name: id, id: randomBytes(12).toString('hex') });
  }

  function commit(id: string, repo: StoredRepo, branch: string, body: string): Reply {
    const parentId = repo.branches.get(branch);
    if (!parentId) return json(404, { error: `Invalid rev id: ${branch}` }, { 'X-Error-Code': 'RevisionNotFound' });
    const files = new Map(repo.commits.get(parentId)!.files);
    let header: { summary: string; description?: string } | undefined;
    for (const line of body.split('\n').filter(Boolean)) {
      const { key, value } = JSON.parse(line) as { key: string; value: Record<string, string & number> };
      if (key === 'header') header = value as unknown as { summary: string; description?: string };
      else if (key === 'file') files.set(value.path, { path: value.path, content: Buffer.from(value.content, value.encoding === 'base64' ? 'base64' : 'utf8'), lfs: false });
      else if (key === 'lfsFile') {
        const content = lfs.get(value.oid);
        if (!content || content.length !== value.size) return json(422, { error: `LFS object ${value.oid} (${value.path}) was never uploaded` });
        files.set(value.path, { path: value.path, content, lfs: true });
      } else if (key === 'deletedFile') files.delete(value.path);
      else return json(400, { error: `fake hub: unknown commit line ${key}` });
    }
    if (!header) return json(400, { error: 'the commit has no header' });
    const commitId = createHash('sha1').update(`${parentId}\n${body}\n${repo.commits.size}`).digest('hex');
    repo.commits.set(commitId, { id: commitId, title: header.summary, description: header.description, date: new Date().toISOString(), files });
    repo.branches.set(branch, commitId);
    return json(200, { success: true, commitOid: commitId, commitUrl: `${base}/${id}/commit/${commitId}`, hookOutput: '' });
  }

  /** What the fake Hub answers; `pathname` is the raw path (never parsed as a URL, so a `//` stays visible). */
  function answer(method: string, pathname: string, query: URLSearchParams, headers: IncomingHttpHeaders, body: Buffer): Reply {
    const cdn = pathname.match(/^\/cdn\/([0-9a-f]{64})$/);
    if (cdn) {
      const content = lfs.get(cdn[1]);
      return content ? bytes(content, cdn[1], headers.range) : json(404, { error: 'Not found' });
    }
    const upload = pathname.match(/^\/lfs-upload\/([0-9a-f]{64})$/);
    if (upload && method === 'PUT') {
      if (sha256(body) !== upload[1]) return json(400, { error: `the bytes sent have sha256 ${sha256(body)}, not ${upload[1]}` });
      lfs.set(upload[1], body);
      lfsBytesReceived += body.length;
      return { status: 200 };
    }
    if (headers.authorization !== `Bearer ${TOKEN}`) return json(401, { error: 'Invalid credentials in Authorization header' });
    const text = body.toString('utf8');
    if (pathname === '/api/repos/create' && method === 'POST') return createRepo(text);

    const api = pathname.match(/^\/api\/models\/([^/]+\/[^/]+)(?:\/(revision|tree|paths-info|preupload|commit|branch)\/([^/]+)(?:\/(.*))?)?$/);
    const resolve = pathname.match(/^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/);
    const batch = pathname.match(/^\/([^/]+\/[^/]+)\.git\/info\/lfs\/objects\/batch$/);
    const id = api?.[1] ?? resolve?.[1] ?? batch?.[1];
    if (!id) return json(404, { error: 'Not found' });
    const repo = repos.get(id);
    if (!repo) return json(404, { error: 'Repository not found' }, { 'X-Error-Code': 'RepoNotFound' });

    if (api && !api[2] && method === 'GET') return json(200, { id, private: repo.private, likes: 0 });
    if (api?.[2] === 'branch' && method === 'POST') {
      const branch = decodeURIComponent(api[3]);
      if (repo.branches.has(branch)) return json(409, { error: `Reference already exists: ${branch}` });
      repo.branches.set(branch, repo.branches.get('main')!);
      return json(200, {});
    }
    if (api?.[2] === 'preupload' && method === 'POST') {
      const { files } = JSON.parse(text) as { files: Array<{ path: string; size: number }> };
      return json(200, { files: files.map((file) => ({ path: file.path, uploadMode: goesThroughLfs(file.path, file.size) ? 'lfs' : 'regular', shouldIgnore: false })) });
    }
    if (api?.[2] === 'commit' && method === 'POST') return commit(id, repo, decodeURIComponent(api[3]), text);
    if (batch && method === 'POST') {
      const { objects } = JSON.parse(text) as { objects: Array<{ oid: string; size: number }> };
      return {
        status: 200,
        headers: { 'Content-Type': 'application/vnd.git-lfs+json' },
        body: JSON.stringify({
          transfer: 'basic',
          objects: objects.map((object) => (lfs.has(object.oid) ? { oid: object.oid, size: object.size } : { oid: object.oid, size: object.size, authenticated: true, actions: { upload: { href: `${base}/lfs-upload/${object.oid}` } } })),
        }),
      };
    }

    const revision = api?.[3] ?? resolve?.[2];
    const at = revision === undefined ? undefined : commitOf(repo, revision);
    if (!at) return json(404, { error: `Invalid rev id: ${revision}` }, { 'X-Error-Code': 'RevisionNotFound' });
    if (api?.[2] === 'revision' && method === 'GET') {
      const expand = query.getAll('expand');
      return json(200, {
        _id: '665f0000000000000000abcd',
        id,
        sha: at.id,
        private: repo.private,
        gated: false,
        pipeline_tag: 'text-generation',
        downloads: 0,
        likes: 0,
        lastModified: at.date,
        ...(expand.includes('cardData') ? { cardData: cardData(at) } : {}),
      });
    }
    if (api?.[2] === 'tree' && method === 'GET') {
      const prefix = api[4] ? `${api[4]}/` : '';
      return json(200, [...at.files.values()].filter((file) => file.path.startsWith(prefix)).map((file) => treeEntry(file, at)));
    }
    if (api?.[2] === 'paths-info' && method === 'POST') {
      const { paths } = JSON.parse(text) as { paths: string[] };
      return json(200, [...at.files.values()].filter((file) => paths.includes(file.path)).map((file) => treeEntry(file, at)));
    }
    if (resolve && (method === 'GET' || method === 'HEAD')) {
      const file = at.files.get(decodeURIComponent(resolve[3]));
      if (!file) return json(404, { error: 'Entry not found' }, { 'X-Error-Code': 'EntryNotFound' });
      if (file.lfs) {
        const oid = sha256(file.content);
        return { status: 302, headers: { Location: `/cdn/${oid}`, 'X-Linked-ETag': `"${oid}"`, 'X-Linked-Size': String(file.content.length) } };
      }
      return bytes(file.content, gitOid(file.content), headers.range);
    }
    return json(405, { error: 'Method not allowed' });
  }

  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks);
      const url = request.url ?? '/';
      const method = request.method ?? 'GET';
      requests.push({ method, url, authorization: request.headers.authorization, body: method === 'PUT' ? '' : body.toString('utf8'), bytes: body.length });
      const [pathname, search = ''] = url.split('?');
      const reply = answer(method, pathname, new URLSearchParams(search), request.headers, body);
      response.writeHead(reply.status, reply.headers).end(reply.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  base = `http://127.0.0.1:${port}`;
  return {
    url: base,
    requests,
    repos,
    lfs,
    lfsBytesReceived: () => lfsBytesReceived,
    filesAt(id, revision = 'main') {
      const repo = repos.get(id);
      const at = repo && commitOf(repo, revision);
      if (!at) throw new Error(`fake hub: no ${id}@${revision}`);
      return at.files;
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
