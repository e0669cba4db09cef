import { existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { lockHeld } from '../cache/lock.js';
import { removeInside } from '../cache/ownership.js';
import { COMMITTED, readValidEntry, stepEntryDir, STEPS_DIR, WORK_DIR } from '../cache/step-cache.js';
import { cachePath, type Context } from '../context.js';
import { CacheDamagedError } from '../errors.js';
import { listToolchains, loadToolchain, venvDir } from '../toolchain/definition.js';

async function sizeOf(target: string): Promise<number> {
  const info = await stat(target).catch(() => undefined);
  if (!info) return 0;
  if (!info.isDirectory()) return info.size;
  let total = 0;
  for (const entry of await readdir(target, { withFileTypes: true })) {
    if (!entry.isSymbolicLink()) total += await sizeOf(path.join(target, entry.name));
  }
  return total;
}

export interface StepEntryRow {
  key: string;
  kind: string;
  committed: boolean;
  lastUsed?: string;
  bytes: number;
}

/** A step entry's folder name: its key, a sha256. Anything else under steps/ was not written by phiforge and is left alone. */
const STEP_KEY = /^[0-9a-f]{64}$/;

async function stepEntries(context: Context): Promise<StepEntryRow[]> {
  const root = cachePath(context, STEPS_DIR);
  if (!existsSync(root)) return [];
  const rows: StepEntryRow[] = [];
  for (const name of await readdir(root)) {
    if (!STEP_KEY.test(name)) continue;
    const dir = path.join(root, name);
    const marker = await stat(path.join(dir, COMMITTED)).catch(() => undefined);
    const kind = await readFile(path.join(dir, 'entry.json'), 'utf8').then((text) => (JSON.parse(text) as { kind: string }).kind, () => '?');
    rows.push({ key: name, kind, committed: Boolean(marker), lastUsed: marker?.mtime.toISOString(), bytes: await sizeOf(dir) });
  }
  return rows;
}

/** Venv folders under the cache, and whether a current lock still points at them. */
async function venvs(context: Context): Promise<Array<{ dir: string; current: boolean; bytes: number }>> {
  const root = cachePath(context, 'toolchains');
  if (!existsSync(root)) return [];
  const current = new Set<string>();
  for (const name of await listToolchains()) {
    const toolchain = await loadToolchain(name);
    if (toolchain.lockDigest) current.add(venvDir(context, toolchain));
  }
  // Only folders named as phiforge names venvs (<toolchain>-<lock digest prefix>) are venvs.
  const names = (await readdir(root)).filter((name) => /^[a-z0-9][a-z0-9._-]*-[0-9a-f]{16}$/.test(name));
  return Promise.all(names.map(async (name) => ({ dir: path.join(root, name), current: current.has(path.join(root, name)), bytes: await sizeOf(path.join(root, name)) })));
}

/** What the cache holds: step outputs and venvs, with their sizes. */
export async function listCache(context: Context) {
  return { steps: await stepEntries(context), venvs: await venvs(context) };
}

/** Removes what no build can reuse: unfinished entries, venvs of old locks, work folders of dead builds, and (optionally) old outputs. */
export async function collectGarbage(context: Context, olderThanDays?: number): Promise<string[]> {
  const removed: string[] = [];
  const cutoff = olderThanDays === undefined ? undefined : Date.now() - olderThanDays * 86_400_000;
  for (const row of await stepEntries(context)) {
    const old = cutoff !== undefined && row.lastUsed !== undefined && Date.parse(row.lastUsed) < cutoff;
    if (!row.committed || old) {
      await removeInside(context.cacheRoot, stepEntryDir(context, row.key));
      removed.push(`step ${row.key.slice(0, 16)} (${row.kind}, ${row.committed ? 'unused' : 'unfinished'})`);
    }
  }
  for (const venv of await venvs(context)) {
    if (venv.current) continue;
    await removeInside(context.cacheRoot, venv.dir);
    removed.push(`venv ${path.basename(venv.dir)} (old lock)`);
  }
  // Work folders of interrupted steps; a running build holds the step's lock, so skip those whose
  // holder is alive (a killed one's lock stays behind and must not keep its folder for ever).
  const work = cachePath(context, STEPS_DIR, WORK_DIR);
  for (const name of existsSync(work) ? await readdir(work) : []) {
    // <key> while its step runs, <key>.old-<pid> while a rebuild's output takes its place.
    const key = /^([0-9a-f]{64})(\.old-\d+)?$/.exec(name)?.[1];
    if (!key || (await lockHeld(context.cacheRoot, `step-${key}`))) continue;
    await removeInside(context.cacheRoot, path.join(work, name));
    removed.push(`work folder ${name.slice(0, 16)}`);
  }
  return removed;
}

/**
 * Reads every byte of every committed step output against its recorded sha256. Builds trust a file
 * whose size, inode and mtime are unchanged; this is the check for what that cannot see.
 */
export async function verifyCache(context: Context): Promise<{ checked: number }> {
  const damaged: string[] = [];
  let checked = 0;
  for (const row of await stepEntries(context)) {
    if (!row.committed) continue;
    const dir = stepEntryDir(context, row.key);
    const { problem } = await readValidEntry(dir);
    checked++;
    if (!problem) continue;
    await removeInside(context.cacheRoot, dir);
    damaged.push(`step ${row.key.slice(0, 16)} (${row.kind}): ${problem}`);
  }
  if (damaged.length) throw new CacheDamagedError(damaged);
  return { checked };
}

/** Removes step outputs, logs and digests (with `all`, venvs and tools too). */
export async function cleanCache(context: Context, all: boolean): Promise<string[]> {
  const targets = [STEPS_DIR, 'logs', 'runs', 'digests.json', ...(all ? ['toolchains', 'tools', 'locks'] : [])].map((part) => cachePath(context, part));
  for (const target of targets) await removeInside(context.cacheRoot, target);
  return targets;
}
