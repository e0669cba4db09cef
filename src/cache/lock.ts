import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import lockfile from 'proper-lockfile';

/**
 * Holds a cross-process lock named `name` under `<cacheRoot>/locks` while `work` runs, so that
 * concurrent builds sharing a cache create each venv and each step output once. The lock is
 * refreshed while held; one left by a crashed process goes stale and is taken over.
 */
export async function withLock<T>(cacheRoot: string, name: string, work: () => Promise<T>): Promise<T> {
  const dir = path.join(cacheRoot, 'locks');
  await mkdir(dir, { recursive: true });
  const release = await lockfile.lock(path.join(dir, name), {
    realpath: false,
    stale: 30_000,
    update: 5_000,
    // Wait as long as the holder works (a 3.8B export takes many minutes). `forever` rather than a
    // huge retry count, for which the retry library precomputes every delay: 10 ms per lock.
    retries: { forever: true, retries: 20, factor: 1.2, minTimeout: 100, maxTimeout: 500 },
  });
  try {
    return await work();
  } finally {
    await release().catch(() => undefined);
  }
}
