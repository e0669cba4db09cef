import { existsSync, realpathSync } from 'node:fs';
import { lstat, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { UsageError } from '../errors.js';
import { readRegularFile } from '../exec/preflight.js';

/** A manifest lists files and steps: a few hundred kB at most; far more is not one phiforge wrote. */
const MANIFEST_MAX_BYTES = 64 * 2 ** 20;

// What phiforge may delete or overwrite, written once: its own cache, artifact folders that hold a
// phiforge manifest (or nothing yet), and its own staging folders inside those. Every delete of a
// cache part and every replacement of an artifact folder goes through this module, and every name
// that becomes a path passes one slug rule, so a careless --cache-dir, --out or --name cannot reach a
// user's files.

/** The longest artifact name: far below any file system's 255-byte limit, with room for staging suffixes. */
export const ARTIFACT_NAME_MAX = 96;
const ARTIFACT_NAME = /^[a-z0-9][a-z0-9._-]*$/;

/**
 * Why `name` cannot name an artifact folder (<out>/<name>), or undefined when it can: lower-case
 * letters, digits, ".", "_" and "-", starting with a letter or digit (so never "", "." or ".."), no
 * separator, at most ARTIFACT_NAME_MAX characters.
 */
export function artifactNameProblem(name: string): string | undefined {
  if (name.length === 0) return 'the name is empty';
  if (name.length > ARTIFACT_NAME_MAX) return `the name has ${name.length} characters; at most ${ARTIFACT_NAME_MAX} are allowed`;
  if (!ARTIFACT_NAME.test(name)) return 'a name is lower-case letters, digits, ".", "_" or "-", and starts with a letter or digit';
  return undefined;
}

export const ARTIFACT_NAME_HINT = `For example phi3-mini-int4-ov: lower-case letters, digits, ".", "_" or "-", at most ${ARTIFACT_NAME_MAX} characters (it becomes the folder <out>/<name>).`;

/** The file that marks a folder as a phiforge cache; only phiforge writes it. */
export const CACHE_MARK = '.phiforge-cache';

/**
 * Everything any phiforge version writes at a cache's top level. A folder holding nothing else is a
 * phiforge cache even without the mark (a fresh clone's cache/, one restored by actions/cache, a
 * runner's persistent cache from before the mark existed): phiforge adopts and marks it.
 */
const CACHE_LAYOUT = new Set(['steps', 'toolchains', 'tools', 'logs', 'locks', 'runs', 'derived', 'digests.json', '.gitkeep', CACHE_MARK]);
/** Transient names phiforge gives its own files there: verify's scratch caches, the digest memo's and the write probe's temporaries. */
const CACHE_TRANSIENT = /^(verify-[A-Za-z0-9]{6}|digests\.json\.\d+|\.phiforge-probe-\d+)$/;

const isCacheEntry = (name: string) => CACHE_LAYOUT.has(name) || CACHE_TRANSIENT.test(name);

/** The first entries of `dir` that phiforge did not write, or [] when it is (or can become) a phiforge cache. */
async function foreignCacheEntries(dir: string): Promise<string[]> {
  if (existsSync(path.join(dir, CACHE_MARK))) return [];
  const names = await readdir(dir).catch((error: NodeJS.ErrnoException) => (error.code === 'ENOENT' ? [] : Promise.reject(error)));
  return names.filter((name) => !isCacheEntry(name)).sort();
}

/**
 * Refuses (exit 2) a cache folder that is not phiforge's, naming the first entry phiforge did not
 * write: a folder that does not exist yet, one that carries the mark, or one that holds nothing but
 * phiforge's layout is phiforge's. Reads only; `claimCache` marks.
 */
export async function refuseForeignCache(cacheRoot: string, shown: string = cacheRoot): Promise<void> {
  const info = await lstat(cacheRoot).catch(() => undefined);
  if (info && !info.isDirectory() && !(info.isSymbolicLink() && existsSync(cacheRoot))) {
    throw new UsageError(`--cache-dir ${shown} is not a folder`, 'Point --cache-dir at a folder phiforge may own (it is created if missing).');
  }
  const foreign = await foreignCacheEntries(cacheRoot);
  if (foreign.length === 0) return;
  const more = foreign.length > 1 ? ` (and ${foreign.length - 1} more entr${foreign.length === 2 ? 'y' : 'ies'})` : '';
  throw new UsageError(
    `--cache-dir ${shown || '""'} (${cacheRoot}) is not a phiforge cache: it holds "${foreign[0]}"${more}, which phiforge did not write, and phiforge deletes only in its own cache`,
    'Point --cache-dir (or PHIFORGE_CACHE) at an empty or new folder, or at a phiforge cache such as cache/ of a checkout.',
  );
}

/**
 * Makes `cacheRoot` phiforge's before anything is written there: one that holds only phiforge's
 * layout is adopted and marked, any other is refused. A missing folder is left missing (a refused
 * command leaves no trace); what phiforge then creates there is its own layout, adopted next time.
 */
export async function claimCache(cacheRoot: string, shown?: string): Promise<void> {
  await refuseForeignCache(cacheRoot, shown);
  if (!existsSync(cacheRoot) || existsSync(path.join(cacheRoot, CACHE_MARK))) return;
  await writeFile(path.join(cacheRoot, CACHE_MARK), 'This folder is a phiforge cache: phiforge creates, reuses and deletes what is in it.\n');
}

/** The real path of `target`, or of its nearest existing ancestor with the rest appended: links resolved where they exist. */
function realTarget(target: string): string {
  const absolute = path.resolve(target);
  let existing = absolute;
  while (!existsSync(existing) && path.dirname(existing) !== existing) existing = path.dirname(existing);
  return path.join(realpathSync(existing), path.relative(existing, absolute));
}

/** Whether `inner` is `outer` or lies under it. */
function within(outer: string, inner: string): boolean {
  const relative = path.relative(outer, inner);
  return relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative));
}

/**
 * --out and the cache may not contain each other: a cache gc would take a published artifact for an
 * unfinished step, and replacing an artifact would delete the cache inside it.
 */
export function refuseOverlap(outRoot: string, cacheRoot: string, shown: { out: string; cache: string } = { out: outRoot, cache: cacheRoot }): void {
  const out = realTarget(outRoot);
  const cache = realTarget(cacheRoot);
  if (!within(out, cache) && !within(cache, out)) return;
  const how = out === cache ? 'are the same folder' : within(cache, out) ? 'lies inside the cache' : 'holds the cache';
  throw new UsageError(
    `--out ${shown.out || '""'} and --cache-dir ${shown.cache || '""'} overlap: the output folder ${how}`,
    'Keep artifacts and the cache apart, e.g. --out dist --cache-dir cache (the defaults).',
  );
}

/**
 * Deletes `target`, which must lie strictly inside `root` (a cache or an output folder phiforge owns):
 * the one way phiforge removes a folder, so that no computed path can climb out of its own folders.
 */
export async function removeInside(root: string, target: string): Promise<void> {
  const relative = path.relative(path.resolve(root), path.resolve(target));
  if (relative === '' || relative.startsWith('..') || path.isAbsolute(relative)) {
    throw new Error(`refusing to delete ${target}: it is not inside ${root}`);
  }
  await rm(target, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
}

/**
 * Whether `<outRoot>/<name>` may be replaced by a new artifact: it does not exist, is empty, or holds
 * a manifest.json that phiforge wrote. Anything else (a user's folder, a file, a link) is refused.
 */
export async function refuseForeignArtifactFolder(outRoot: string, name: string, manifestFile: string): Promise<void> {
  const dir = path.join(outRoot, name);
  const info = await lstat(dir).catch(() => undefined);
  if (!info) return;
  const hint = `Give the artifact another name (--name), choose another --out, or move ${dir} away.`;
  if (!info.isDirectory()) throw new UsageError(`${dir} exists and is not an artifact folder (a ${info.isSymbolicLink() ? 'symbolic link' : 'file'}); phiforge replaces only artifact folders it made`, hint);
  const entries = await readdir(dir);
  if (entries.length === 0) return;
  // Bounded, and never opened unless a regular file: a FIFO named manifest.json would block the read.
  const read = await readRegularFile(path.join(dir, manifestFile), MANIFEST_MAX_BYTES);
  if ('bytes' in read && madeByPhiforge(read.bytes.toString('utf8'))) return;
  throw new UsageError(`${dir} holds files but no phiforge manifest ("${entries.sort()[0]}"${entries.length > 1 ? ` and ${entries.length - 1} more` : ''}); phiforge replaces only artifact folders it made`, hint);
}

function madeByPhiforge(manifestText: string): boolean {
  try {
    const manifest = JSON.parse(manifestText) as { schema?: unknown };
    return typeof manifest.schema === 'string' && manifest.schema.startsWith('phiforge.manifest/');
  } catch {
    return false;
  }
}
