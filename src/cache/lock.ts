import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import lockfile from 'proper-lockfile';
import { throwIfInterrupted } from '../exec/command.js';

interface Owner {
  pid: number;
  host: string;
  since: string;
}

const POLL_MIN_MS = 50;
const POLL_MAX_MS = 500;
/** How long a holder's silence means it died, when it cannot be asked (another host, a shared disk). */
const STALE_MS = 30_000;

/** Whether a process of this host is still running (EPERM: it is, but someone else's). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readOwner(file: string): Promise<Owner | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as Owner;
  } catch {
    return undefined;
  }
}

function isDead(owner: Owner): boolean {
  return owner.host === os.hostname() && owner.pid !== process.pid && !processAlive(owner.pid);
}

/**
 * Removes a dead holder's lock. Two waiters may both have seen the dead holder: the removal happens
 * under a second lock and only while the owner file still names that holder, so a waiter that comes
 * second never removes the lock the first one has taken since.
 */
async function takeOver(target: string, ownerFile: string, dead: Owner): Promise<void> {
  let release: (() => Promise<void>) | undefined;
  try {
    release = await lockfile.lock(`${target}.takeover`, { realpath: false, stale: 10_000, retries: 0 });
  } catch {
    return; // another waiter is taking it over
  }
  try {
    const now = await readOwner(ownerFile);
    if (now && now.pid === dead.pid && now.since === dead.since) {
      await rm(ownerFile, { force: true });
      await rm(`${target}.lock`, { recursive: true, force: true });
    }
  } finally {
    await release().catch(() => undefined);
  }
}

/**
 * Whether the lock `name` under `<cacheRoot>/locks` is held by a process that may still be running:
 * one of this host that is alive, or one of another host (which cannot be asked) that refreshed it
 * within STALE_MS. A lock whose holder was killed (kill -9 leaves it behind) is not held.
 */
export async function lockHeld(cacheRoot: string, name: string): Promise<boolean> {
  const target = path.join(cacheRoot, 'locks', name);
  const info = await stat(`${target}.lock`).catch(() => undefined);
  if (!info) return false;
  const owner = await readOwner(`${target}.owner`);
  if (owner && owner.host === os.hostname()) return owner.pid === process.pid || processAlive(owner.pid);
  return Date.now() - info.mtimeMs < STALE_MS;
}

/**
 * Holds a cross-process lock named `name` under `<cacheRoot>/locks` while `work` runs, so that
 * concurrent builds sharing a cache create each venv and each step output once. The lock is
 * refreshed while held. A lock whose holder on this machine is no longer running (killed, Ctrl-C)
 * is taken over at once; one held by a live process is waited for, with a message saying by whom;
 * one left on another machine goes stale after STALE_MS of silence.
 */
export async function withLock<T>(cacheRoot: string, name: string, work: () => Promise<T>, say?: (line: string) => void): Promise<T> {
  // Work of this process on one lock queues here first: only one of it polls the lock file.
  const target = path.join(cacheRoot, 'locks', name);
  const before = queued.get(target) ?? Promise.resolve();
  let done!: () => void;
  const mine = new Promise<void>((resolve) => (done = resolve));
  queued.set(target, mine);
  try {
    await before;
    return await withFileLock(target, name, work, say);
  } finally {
    done();
    if (queued.get(target) === mine) queued.delete(target);
  }
}

const queued = new Map<string, Promise<void>>();

async function withFileLock<T>(target: string, name: string, work: () => Promise<T>, say?: (line: string) => void): Promise<T> {
  const dir = path.dirname(target);
  await mkdir(dir, { recursive: true });
  const ownerFile = `${target}.owner`;
  let release: (() => Promise<void>) | undefined;
  let delay = POLL_MIN_MS;
  let announced = false;
  while (!release) {
    throwIfInterrupted();
    try {
      release = await lockfile.lock(target, { realpath: false, stale: STALE_MS, update: 5_000, retries: 0 });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ELOCKED') throw error;
      const owner = await readOwner(ownerFile);
      if (owner && isDead(owner)) {
        // Its holder is gone: nothing will release it, and waiting for it to go stale wastes half a minute.
        await takeOver(target, ownerFile, owner);
        continue;
      }
      if (!announced && say) {
        say(`waiting for ${name.replace(/-/, ' ')}: held by ${owner ? `process ${owner.pid}${owner.host === os.hostname() ? '' : ` on ${owner.host}`} since ${owner.since}` : 'another phiforge'}`);
        announced = true;
      }
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 1.5, POLL_MAX_MS);
    }
  }
  try {
    await writeFile(ownerFile, JSON.stringify({ pid: process.pid, host: os.hostname(), since: new Date().toISOString() } satisfies Owner));
    return await work();
  } finally {
    await rm(ownerFile, { force: true });
    await release().catch(() => undefined);
  }
}
