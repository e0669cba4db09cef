import { readFile } from 'node:fs/promises';
import os from 'node:os';
import { freeBytes } from '../exec/preflight.js';
import { captureCommand } from '../exec/command.js';

export interface SystemFacts {
  os: string;
  cpu: string;
  cores: number;
  /** The instruction-set extensions that decide OpenVINO's CPU kernels (and its default bf16 precision). */
  cpuFlags: string[];
  memoryBytes: number;
  freeMemoryBytes: number;
  cacheDiskFreeBytes?: number;
  python?: string;
}

const INTERESTING_FLAGS = ['avx2', 'avx512f', 'avx512_bf16', 'avx512_vnni', 'avx_vnni', 'amx_bf16', 'amx_int8', 'amx_tile'];

export async function systemFacts(cacheRoot: string, python: string): Promise<SystemFacts> {
  const flags: string[] = await readFile('/proc/cpuinfo', 'utf8').then((text) => /^flags\s*:\s*(.*)$/m.exec(text)?.[1].split(/\s+/) ?? [], () => []);
  // doctor creates nothing: ask the nearest folder that exists.
  const free = await freeBytes(cacheRoot);
  const probe = await captureCommand(python, ['--version']);
  return {
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    cpuFlags: INTERESTING_FLAGS.filter((flag) => flags.includes(flag)),
    memoryBytes: os.totalmem(),
    freeMemoryBytes: os.freemem(),
    cacheDiskFreeBytes: free,
    python: probe.exitCode === 0 ? probe.stdout.trim() || probe.stderr.trim() : undefined,
  };
}

export const gib = (bytes: number) => `${(bytes / 2 ** 30).toFixed(1)} GiB`;
