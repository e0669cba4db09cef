import { existsSync } from 'node:fs';
import { mkdir, readdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { readContractFile } from '../contract.js';
import { VALIDATION_DIR } from '../artifact/manifest.js';
import { DeviceResult } from './contract.js';

// Device results live beside an artifact, in validation/<device>-<host>.json, never among its files:
// CI device runners each add theirs, and a report or publish job collects them all.

const SAFE = /[^A-Za-z0-9._-]+/g;

/** validation/NPU-emulated-buildhost.json: one file per device, flavour and machine. */
export function resultFileName(result: Pick<DeviceResult, 'device' | 'host' | 'run'>): string {
  const flavour = result.run.status === 'ran' ? (result.run.emulated ? '-emulated' : result.run.structural ? '-structural' : '') : '';
  return `${result.device.replace(SAFE, '_')}${flavour}-${result.host.name.replace(SAFE, '_')}.json`;
}

export async function writeDeviceResult(artifactDir: string, result: DeviceResult): Promise<string> {
  const dir = path.join(artifactDir, VALIDATION_DIR);
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, resultFileName(result));
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify(result, null, 2)}\n`);
  await rename(temporary, file);
  return file;
}

/** Every device result beside an artifact, each checked against its contract. */
export async function readDeviceResults(artifactDir: string): Promise<DeviceResult[]> {
  const dir = path.join(artifactDir, VALIDATION_DIR);
  if (!existsSync(dir)) return [];
  const files = (await readdir(dir)).filter((name) => name.endsWith('.json')).sort();
  return Promise.all(files.map((name) => readContractFile(DeviceResult, path.join(dir, name), 'phiforge validate')));
}
