import { mkdtemp, rm, unlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { freshCache } from './cli.js';

/**
 * The e2e lane's globalSetup: every run starts from a step cache of its own, so a green run means the
 * converters ran with this code; nothing a test checks was left by an earlier run. Only the venvs and
 * tools are shared (symlinked from the repository's cache/: they come from hash-checked locks). The
 * tests of one run share the cache (test/support/cli.ts SHARED_CACHE reads PHIFORGE_TEST_CACHE); a
 * test that wants a warm cache fills it itself. A PHIFORGE_TEST_CACHE set beforehand is used as it is,
 * to iterate on one test against a warm cache by choice.
 */
export default async function setup(): Promise<(() => Promise<void>) | undefined> {
  if (process.env.PHIFORGE_TEST_CACHE) return undefined;
  // Imported before this variable is set, cli.ts links the venvs from the repository's cache/.
  const root = await mkdtemp(path.join(os.tmpdir(), 'phiforge-e2e-'));
  const cache = await freshCache(root);
  // Workers are started after global setup, with this process's environment.
  process.env.PHIFORGE_TEST_CACHE = cache;
  return async () => {
    delete process.env.PHIFORGE_TEST_CACHE;
    // The links first, so that removing the run's outputs can never reach the shared venvs.
    for (const shared of ['toolchains', 'tools']) await unlink(path.join(cache, shared));
    await rm(root, { recursive: true, force: true });
  };
}
