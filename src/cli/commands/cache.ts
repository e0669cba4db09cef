import { existsSync } from 'node:fs';
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { COMMITTED, readValidEntry, type StepEntry } from '../../cache/step-cache.js';
import { cachePath, type Context } from '../../context.js';
import { CacheDamagedError } from '../../errors.js';
import { listToolchains, loadToolchain, venvDir } from '../../toolchain/definition.js';

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

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

interface StepEntryRow {
  key: string;
  kind: string;
  committed: boolean;
  lastUsed?: string;
  bytes: number;
}

async function stepEntries(context: Context): Promise<StepEntryRow[]> {
  const root = cachePath(context, 'steps');
  if (!existsSync(root)) return [];
  const rows: StepEntryRow[] = [];
  for (const name of await readdir(root)) {
    if (name === 'tmp') continue;
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
  return Promise.all((await readdir(root)).map(async (name) => ({ dir: path.join(root, name), current: current.has(path.join(root, name)), bytes: await sizeOf(path.join(root, name)) })));
}

export async function list(context: Context): Promise<void> {
  const steps = await stepEntries(context);
  const environments = await venvs(context);
  if (context.json) {
    process.stdout.write(`${JSON.stringify({ steps, venvs: environments }, null, 2)}\n`);
    return;
  }
  for (const row of steps) process.stdout.write(`step  ${row.key.slice(0, 16)}  ${row.kind.padEnd(24)} ${mib(row.bytes).padStart(11)}  ${row.committed ? `last used ${row.lastUsed}` : 'UNFINISHED'}\n`);
  for (const venv of environments) process.stdout.write(`venv  ${path.basename(venv.dir).padEnd(42)} ${mib(venv.bytes).padStart(11)}  ${venv.current ? 'current' : 'old lock'}\n`);
  const total = [...steps, ...environments].reduce((sum, row) => sum + row.bytes, 0);
  process.stdout.write(`${steps.length} step output(s), ${environments.length} venv(s), ${mib(total)} in ${context.cacheRoot}\n`);
}

export async function gc(context: Context, olderThanDays?: number): Promise<void> {
  const removed: string[] = [];
  const cutoff = olderThanDays === undefined ? undefined : Date.now() - olderThanDays * 86_400_000;
  for (const row of await stepEntries(context)) {
    const old = cutoff !== undefined && row.lastUsed !== undefined && Date.parse(row.lastUsed) < cutoff;
    if (!row.committed || old) {
      await rm(cachePath(context, 'steps', row.key), { recursive: true, force: true });
      removed.push(`step ${row.key.slice(0, 16)} (${row.kind}, ${row.committed ? 'unused' : 'unfinished'})`);
    }
  }
  for (const venv of await venvs(context)) {
    if (venv.current) continue;
    await rm(venv.dir, { recursive: true, force: true });
    removed.push(`venv ${path.basename(venv.dir)} (old lock)`);
  }
  // Work folders of interrupted steps; a running build would hold the step's lock, so skip locked ones.
  const work = cachePath(context, 'steps', 'tmp');
  for (const name of existsSync(work) ? await readdir(work) : []) {
    if (existsSync(cachePath(context, 'locks', `step-${name}.lock`))) continue;
    await rm(path.join(work, name), { recursive: true, force: true });
    removed.push(`work folder ${name.slice(0, 16)}`);
  }
  if (context.json) process.stdout.write(`${JSON.stringify({ removed }, null, 2)}\n`);
  else process.stdout.write(removed.length ? `${removed.map((line) => `removed ${line}`).join('\n')}\n` : 'nothing to remove\n');
}

/**
 * Reads every byte of every committed step output against its recorded sha256. Builds trust a file
 * whose size, inode and mtime are unchanged; this is the check for what that cannot see.
 */
export async function verify(context: Context): Promise<void> {
  const damaged: string[] = [];
  let checked = 0;
  for (const row of await stepEntries(context)) {
    if (!row.committed) continue;
    const dir = cachePath(context, 'steps', row.key);
    const entry = await readFile(path.join(dir, 'entry.json'), 'utf8').then((text) => JSON.parse(text) as StepEntry, () => undefined);
    const { problem } = await readValidEntry(dir, entry?.inputDigest);
    checked++;
    if (!problem) continue;
    await rm(dir, { recursive: true, force: true });
    damaged.push(`step ${row.key.slice(0, 16)} (${row.kind}): ${problem}`);
  }
  if (damaged.length) throw new CacheDamagedError(damaged);
  if (context.json) process.stdout.write(`${JSON.stringify({ checked, damaged }, null, 2)}\n`);
  else process.stdout.write(`${checked} step output(s) checked, all intact\n`);
}

export async function clean(context: Context, all: boolean): Promise<void> {
  const targets = ['steps', 'logs', 'digests.json', ...(all ? ['toolchains', 'tools', 'locks'] : [])].map((part) => cachePath(context, part));
  for (const target of targets) await rm(target, { recursive: true, force: true });
  if (context.json) process.stdout.write(`${JSON.stringify({ removed: targets })}\n`);
  else process.stdout.write(`removed ${targets.join(', ')}\n`);
}
