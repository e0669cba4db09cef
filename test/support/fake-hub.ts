import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

// A fake Hugging Face Hub on loopback, for phiforge's hub code (src/hub/hub.ts, on top of @huggingface/hub). The fake answers only the requests those library functions make:
//   GET  /api/models/{id}/revision/{rev}      modelInfo: the commit a branch names (`sha`)
//   GET  /api/models/{id}/tree/{rev}          listFiles (snapshotDownload): every file of the repo
//   POST /api/models/{id}/paths-info/{rev}    pathsInfo (downloadFileToCacheDir): oid / lfs.oid -> blob name
//   GET  /{id}/resolve/{rev}/{path}           the file; `Range: bytes=0-0` first to learn size and ETag.
//                                             LFS files redirect to /cdn/{sha256}, as the Hub sends them to its CDN.
// Never xet: a response without the application/vnd.xet-fileinfo+json type keeps the library on plain HTTP.
// The repo is private: every request but the CDN's must carry `Authorization: Bearer <TOKEN>`.

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

export interface SeenRequest {
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

export interface FakeHub {
  url: string;
  requests: SeenRequest[];
  close(): Promise<void>;
}

export async function startFakeHub(): Promise<FakeHub> {
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

