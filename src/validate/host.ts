import os from 'node:os';

/**
 * What makes measurements from one machine differ from another's: part of the cache key of runner
 * steps, so cached figures are only reused on the machine that measured them.
 */
export function hostFingerprint(): Record<string, string | number> {
  return { hostname: os.hostname(), cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length, memory_gib: Math.round(os.totalmem() / 2 ** 30), platform: `${os.platform()}-${os.arch()}` };
}
