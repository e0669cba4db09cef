import os from 'node:os';
import type { Host } from './contract.js';

/**
 * The machine figures are measured on: recorded with every device result, part of its file name, and
 * part of the NPU compile step's key (a blob belongs to the device and driver that compiled it).
 */
export function hostFingerprint(): Host {
  return { name: os.hostname(), cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length, memory_gib: Math.round(os.totalmem() / 2 ** 30), platform: `${os.platform()}-${os.arch()}` };
}
