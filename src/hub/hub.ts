import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { HubError } from '../errors.js';
import { readRegularFile } from '../exec/preflight.js';
import { COMMIT_ID } from './names.js';

// Talks to the Hugging Face Hub the way huggingface_hub does: the same cache layout and variables
// (HF_HUB_CACHE, HF_HOME, HF_TOKEN, HF_ENDPOINT, HF_HUB_OFFLINE), so Python tools reuse the downloads.


/** Loaded on first use: most builds (local and generated models) never talk to the hub. */
export const hubLibrary = () => import('@huggingface/hub');

function hfHome(): string {
  return process.env.HF_HOME ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'huggingface');
}

export function hubCacheDir(): string {
  if (process.env.HF_HUB_CACHE) return process.env.HF_HUB_CACHE;
  return path.join(hfHome(), 'hub');
}

/** HF_ENDPOINT without the trailing slash huggingface_hub strips too (the library would ask for //api/...). */
export function hubUrl(): string | undefined {
  return process.env.HF_ENDPOINT?.replace(/\/+$/, '') || undefined;
}

/**
 * The token huggingface_hub would use: HF_TOKEN, else the file HF_TOKEN_PATH names, else the one
 * `hf auth login` saved in $HF_HOME/token. It is handed to the hub library only.
 */
/** A token is under a hundred characters; a file far larger than that is not a token file. */
const TOKEN_MAX_BYTES = 64 * 1024;

export async function hubToken(): Promise<string | undefined> {
  if (process.env.HF_TOKEN) return process.env.HF_TOKEN.trim();
  const file = process.env.HF_TOKEN_PATH || path.join(hfHome(), 'token');
  const saved = await readRegularFile(file, TOKEN_MAX_BYTES);
  return ('bytes' in saved && saved.bytes.toString('utf8').trim()) || undefined;
}

/** The folder huggingface_hub would use for this model at this commit. */
export function snapshotDir(id: string, commit: string): string {
  return path.join(hubCacheDir(), `models--${id.replaceAll('/', '--')}`, 'snapshots', commit);
}

interface HubAccess {
  hubUrl?: string;
  accessToken?: string;
}

async function access(): Promise<HubAccess> {
  // The token is passed to the library only; it never enters a log, a manifest or a command line.
  // A user who logged in with `hf auth login` has no HF_TOKEN, and gated models need the saved token.
  return { hubUrl: hubUrl(), accessToken: await hubToken() };
}

function offline(): boolean {
  return ['1', 'true', 'yes', 'on'].includes((process.env.HF_HUB_OFFLINE ?? '').toLowerCase());
}

/** A pinned commit stays as it is; a branch or tag costs one API call to learn the commit it names. */
export async function resolveCommit(id: string, revision: string): Promise<string> {
  if (COMMIT_ID.test(revision)) return revision;
  if (offline()) throw new HubError(`cannot resolve revision "${revision}" of ${id}: HF_HUB_OFFLINE is set`, 'Pin a 40-character commit id in the recipe.', 2);
  try {
    const { modelInfo } = await hubLibrary();
    const info = await modelInfo({ name: id, revision, additionalFields: ['sha'], ...(await access()) } as Parameters<typeof modelInfo>[0]);
    const sha = (info as unknown as { sha?: string }).sha;
    if (!sha || !COMMIT_ID.test(sha)) throw new Error(`the hub returned no commit for ${revision}`);
    return sha;
  } catch (error) {
    throw hubError(error, `resolve ${id}@${revision}`);
  }
}

/** Downloads config.json alone, so the recipe can be checked against the model before the weights come. */
export async function downloadConfig(id: string, commit: string): Promise<string> {
  if (offline()) {
    const cached = path.join(snapshotDir(id, commit), 'config.json');
    if (existsSync(cached)) return cached;
    throw new HubError(`${id}@${commit} is not in the Hugging Face cache and HF_HUB_OFFLINE is set`, 'Unset HF_HUB_OFFLINE to download it, or pass --model <local folder>.', 2);
  }
  const { downloadFileToCacheDir } = await hubLibrary();
  const credentials = await access();
  return withQuietLibrary(() => downloadFileToCacheDir({ repo: { type: 'model', name: id }, path: 'config.json', revision: commit, cacheDir: hubCacheDir(), ...credentials })).catch(
    (error) => {
      throw hubError(error, `download config.json of ${id}@${commit}`);
    },
  );
}

/** `revision` is what the recipe named (a branch, a tag or the commit itself). */
export async function downloadSnapshot(id: string, commit: string, revision: string = commit): Promise<string> {
  if (offline()) return snapshotDir(id, commit);
  const { snapshotDownload } = await hubLibrary();
  const credentials = await access();
  const snapshot = await withQuietLibrary(() => snapshotDownload({ repo: { type: 'model', name: id }, revision: commit, cacheDir: hubCacheDir(), ...credentials })).catch((error) => {
    throw hubError(error, `download ${id}@${commit}`);
  });
  // Asked for by commit, the library writes no ref; huggingface_hub records the branch the user named, once its files are here.
  if (revision !== commit) {
    const ref = path.join(snapshot, '..', '..', 'refs', revision);
    await mkdir(path.dirname(ref), { recursive: true });
    await writeFile(ref, commit);
  }
  return snapshot;
}

/** The library announces each file with console.debug on stdout, which would corrupt --json output. */
async function withQuietLibrary<T>(work: () => Promise<T>): Promise<T> {
  const debug = console.debug;
  console.debug = (...args: unknown[]) => process.stderr.write(`${args.join(' ')}\n`);
  try {
    return await work();
  } finally {
    console.debug = debug;
  }
}

function hubError(error: unknown, action: string): HubError {
  const status = (error as { statusCode?: number }).statusCode;
  const message = error instanceof Error ? error.message : String(error);
  if (status === 401 || status === 403) {
    return new HubError(`${action}: access denied (${status})`, 'Accept the model licence on its hub page, then set HF_TOKEN to a token with read access or log in with `hf auth login`.');
  }
  if (status === 404) return new HubError(`${action}: not found on the hub`, 'Check the model id and revision.', 2);
  return new HubError(`${action}: ${message}`, 'No network or no hub here? Download the model elsewhere and pass --model <local folder>.');
}

/** What a model's card says about its licence (its YAML metadata). */
export interface SourceLicense {
  license?: string;
  license_name?: string;
  license_link?: string;
}

function licenseOf(metadata: unknown): SourceLicense | undefined {
  if (!metadata || typeof metadata !== 'object') return undefined;
  const fields = metadata as Record<string, unknown>;
  const text = (key: string) => (typeof fields[key] === 'string' ? (fields[key] as string) : undefined);
  const found = { license: text('license'), license_name: text('license_name'), license_link: text('license_link') };
  return found.license ? found : undefined;
}

/** The YAML metadata block at the top of a model card (README.md), or undefined. */
async function cardMetadata(readme: string): Promise<unknown> {
  const match = /^---\r?\n([\s\S]*?)\r?\n---\s*(\r?\n|$)/.exec(readme);
  if (!match) return undefined;
  const { parse } = await import('yaml');
  try {
    return parse(match[1]);
  } catch {
    return undefined;
  }
}

/**
 * The licence of a hub model at a commit: from its card in the Hugging Face cache (the build
 * downloaded it), else, when `ask` allows, from the hub's model info. Undefined when unknown.
 */
export async function sourceLicense(id: string, commit: string, options: { ask: boolean; accessToken?: string }): Promise<SourceLicense | undefined> {
  const cached = await readFile(path.join(snapshotDir(id, commit), 'README.md'), 'utf8').catch(() => undefined);
  if (cached !== undefined) return licenseOf(await cardMetadata(cached));
  if (!options.ask || offline()) return undefined;
  try {
    const { modelInfo } = await hubLibrary();
    const info = await modelInfo({ name: id, revision: commit, additionalFields: ['cardData'], hubUrl: hubUrl(), accessToken: options.accessToken ?? (await hubToken()) });
    return licenseOf((info as unknown as { cardData?: unknown }).cardData);
  } catch {
    // The licence is a courtesy of the card: a hub that cannot say leaves it unknown, which the card states.
    return undefined;
  }
}
