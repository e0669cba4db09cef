import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { cachePath, type Context } from '../context.js';
import { canonicalJson, digestFolder, fileDigest, sha256, sha256File, stampsOf, type FileDigest } from './digest.js';
import { removeInside } from './ownership.js';
import { DigestMemo } from './digest-memo.js';
import { OutputHasher } from './output-hasher.js';
import { withLock } from './lock.js';
import { OutputCheckError } from '../errors.js';

/** Everything that decides a step's output; its canonical JSON hashes to the step's cache key. */
export interface StepKeyInputs {
  kind: string;
  /** Bumped by hand, only for a change of output that the command, its request files and its scripts do not show. */
  kindVersion?: number;
  params: Record<string, unknown>;
  /** Keys (or content digests) of the upstream outputs this step reads. */
  inputs: Record<string, string>;
  toolchainLock?: string;
  /** sha256 of each script the step runs, by file name. */
  scripts: Record<string, string>;
  /** The environment the command sets. */
  env: Record<string, string>;
  /** The exact command, with phiforge's own folders as placeholders (<work>, <venv>, <cache>, <package>, <input:id>). */
  command?: { argv: string[]; cwd?: string; links?: Record<string, string> };
  /** The text of every file written for the command (its JSON request), placeholders as in `command`. */
  requestFiles?: Record<string, string>;
}

export function stepKey(inputs: StepKeyInputs): string {
  return sha256(canonicalJson(inputs));
}

export async function scriptDigests(files: string[]): Promise<Record<string, string>> {
  const entries = await Promise.all(files.map(async (file) => [path.basename(file), await sha256File(file)] as const));
  return Object.fromEntries(entries);
}

export interface StepEntry {
  key: string;
  kind: string;
  params: Record<string, unknown>;
  commandLine?: string;
  durationMs: number;
  /** Files under out/, checked against the disk every time the entry is reused. */
  files: FileDigest[];
  facts: Record<string, unknown>;
  /** The venv that ran the command, as the manifest reports it. */
  toolchain?: { name: string; lockDigest: string; python: string; installed: Record<string, string> };
}

export interface CachedStepResult {
  entry: StepEntry;
  /** The output folder (`<entry>/out`). */
  outDir: string;
  /** True when an existing entry was reused. */
  reused: boolean;
}

export const COMMITTED = 'COMMITTED';
/** `<cache>/steps/<key>/`: committed entries; `<cache>/steps/tmp/<key>/`: entries being made. */
export const STEPS_DIR = 'steps';
export const WORK_DIR = 'tmp';
/**
 * A converter's temporary files (TMPDIR) go into its work folder: on the cache's filesystem, so that
 * optimum-cli's final move of a quantized export into out/ is a rename, not a copy of gigabytes (nor
 * 7.6 GB of RAM for a full-size intermediate where /tmp is a tmpfs); and removed with the work folder.
 */
export const CONVERTER_TEMP_DIR = 'scratch';

export function stepEntryDir(context: Pick<Context, 'cacheRoot'>, key: string): string {
  return cachePath(context, STEPS_DIR, key);
}

/** Where a step writes while it runs; renamed to stepEntryDir only once complete. */
export function stepWorkDir(context: Pick<Context, 'cacheRoot'>, key: string): string {
  return cachePath(context, STEPS_DIR, WORK_DIR, key);
}

/**
 * Returns the committed entry for `key`, or runs `produce` to make it. An entry is only served if it
 * has its commit marker and every file still has its recorded digest; anything else is discarded and
 * rebuilt. The per-key lock makes concurrent builds of one step run it once. `force` rebuilds regardless.
 */
export async function getOrProduce(
  context: Context,
  key: string,
  produce: (workDir: string) => Promise<Omit<StepEntry, 'key' | 'files'>>,
  options: { force?: boolean; onDiscard?: (reason: string) => void } = {},
): Promise<CachedStepResult> {
  const dir = stepEntryDir(context, key);
  const memo = DigestMemo.of(context.cacheRoot);
  if (!options.force) {
    const existing = await readValidEntry(dir, memo);
    if (existing.entry) {
      // The marker's mtime is the entry's last use, for `cache gc --older-than`.
      const now = new Date();
      await utimes(path.join(dir, COMMITTED), now, now).catch(() => undefined);
      return { entry: existing.entry, outDir: path.join(dir, 'out'), reused: true };
    }
  }
  return withLock(
    context.cacheRoot,
    `step-${key}`,
    async () => {
      const again = options.force ? { problem: 'rebuild forced' } : await readValidEntry(dir, memo);
      if (again.entry) return { entry: again.entry, outDir: path.join(dir, 'out'), reused: true };
      if (again.problem && existsSync(dir) && !options.force) options.onDiscard?.(again.problem);
      const workDir = stepWorkDir(context, key);
      await removeInside(context.cacheRoot, workDir);
      await mkdir(path.join(workDir, 'out'), { recursive: true });
      await mkdir(path.join(workDir, CONVERTER_TEMP_DIR));
      let made: Omit<StepEntry, 'key' | 'files'>;
      const hasher = new OutputHasher(path.join(workDir, 'out'));
      try {
        made = await produce(workDir);
      } catch (error) {
        await hasher.stop();
        // The log stays in cache/logs; a half-made output is of no use. An output that ran but failed
        // its check stays for inspection (the error names it) until the next run or `cache gc`.
        if (!(error instanceof OutputCheckError)) await removeInside(context.cacheRoot, workDir);
        throw error;
      }
      await hasher.stop();
      await removeInside(context.cacheRoot, path.join(workDir, CONVERTER_TEMP_DIR));
      const stampsBeforeHash = await stampsOf(path.join(workDir, 'out'));
      const entry: StepEntry = { key, ...made, files: await digestFolder(path.join(workDir, 'out'), { memo: hasher }) };
      const entryText = JSON.stringify(entry, null, 1);
      await writeFile(path.join(workDir, 'entry.json'), entryText);
      // Only now does an earlier entry make way (a failed --force keeps it).
      const previous = `${workDir}.old-${process.pid}`;
      if (existsSync(dir)) await rename(dir, previous);
      await mkdir(path.dirname(dir), { recursive: true });
      await rename(workDir, dir);
      // The marker names entry.json's digest: an entry whose file list was edited is not trusted.
      await writeFile(path.join(dir, COMMITTED), sha256(entryText));
      await removeInside(context.cacheRoot, previous);
      for (const file of entry.files) {
        const before = stampsBeforeHash.get(file.path);
        const absolute = path.join(dir, 'out', file.path);
        const after = await stat(absolute, { bigint: true }).catch(() => undefined);
        if (before && after) memo.rememberProduced(absolute, before, after, file.sha256);
      }
      return { entry, outDir: path.join(dir, 'out'), reused: false };
    },
    context.say,
  );
}

/**
 * The entry in `dir` if it is committed and every file still has its recorded size and sha256. With
 * a memo, files stat() shows unchanged are not read again; without one (`cache verify`) every byte is.
 */
export async function readValidEntry(dir: string, memo?: DigestMemo): Promise<{ entry?: StepEntry; problem?: string }> {
  const marker = await readFile(path.join(dir, COMMITTED), 'utf8').catch(() => undefined);
  if (marker === undefined) return { problem: 'entry was never completed' };
  let entry: StepEntry;
  try {
    const text = await readFile(path.join(dir, 'entry.json'), 'utf8');
    if (sha256(text) !== marker.trim()) return { problem: 'entry.json is not the one its commit marker names (edited, or made by an older phiforge)' };
    entry = JSON.parse(text) as StepEntry;
  } catch {
    return { problem: 'entry.json is unreadable' };
  }
  const problems = await Promise.all(
    entry.files.map(async (file) => {
      const absolute = path.join(dir, 'out', file.path);
      const size = await stat(absolute).then((info) => info.size, () => -1);
      if (size !== file.size) return `${file.path} is missing or has a different size`;
      if ((await fileDigest(absolute, memo)).sha256 !== file.sha256) return `${file.path} does not match its recorded sha256`;
      return undefined;
    }),
  );
  const problem = problems.find(Boolean);
  return problem ? { problem } : { entry };
}
