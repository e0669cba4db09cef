import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { writeIntoArtifact } from '../artifact/check.js';
import { filesDigest, VALIDATION_DIR, type FileEntry } from '../artifact/manifest.js';
import { readContractFile } from '../contract.js';
import { DeviceResult } from './contract.js';
import { blobNotUsed } from './evaluate.js';

// Device results live beside an artifact, in validation/<device>-<host>.json, never among its files:
// CI device runners each add theirs, and a report or publish job collects them all.

const SAFE = /[^A-Za-z0-9._-]+/g;

/** validation/NPU-emulated-buildhost.json: one file per device, flavour and machine. */
export function resultFileName(result: Pick<DeviceResult, 'device' | 'host' | 'run'>): string {
  const flavour = result.run.status === 'ran' ? (result.run.emulated ? '-emulated' : result.run.structural ? '-structural' : '') : '';
  return `${result.device.replace(SAFE, '_')}${flavour}-${result.host.name.replace(SAFE, '_')}.json`;
}

/** Replaces (never writes through) what stands at its name; a validation/ that is a link is refused. */
export async function writeDeviceResult(artifactDir: string, result: DeviceResult): Promise<string> {
  return writeIntoArtifact(artifactDir, `${VALIDATION_DIR}/${resultFileName(result)}`, `${JSON.stringify(result, null, 2)}\n`);
}

/** Every device result beside an artifact, each checked against its contract. */
export async function readDeviceResults(artifactDir: string): Promise<DeviceResult[]> {
  return (await readDeviceResultFiles(artifactDir)).map(({ result }) => result);
}

/** The same, with each result's file (relative to the artifact folder, e.g. validation/CPU-host.json). */
export async function readDeviceResultFiles(artifactDir: string): Promise<Array<{ file: string; result: DeviceResult }>> {
  const dir = path.join(artifactDir, VALIDATION_DIR);
  if (!existsSync(dir)) return [];
  const files = (await readdir(dir)).filter((name) => name.endsWith('.json')).sort();
  return Promise.all(files.map(async (name) => ({ file: `${VALIDATION_DIR}/${name}`, result: await readContractFile(DeviceResult, path.join(dir, name), 'phiforge validate') })));
}

/** Where an artifact's validation stands for its exact files. */
export interface ValidationStanding {
  /** The results that measured exactly these files (artifact.files_sha256 equals the files' digest). */
  current: DeviceResult[];
  /** Results of other bytes (an earlier build of the same name): they say nothing of these files. */
  stale: DeviceResult[];
  /** No current result failed, at least one measured a device rather than skipping it, and no device passed only without the blob the artifact ships. */
  passed: boolean;
  /** Why it did not pass, one line each; empty when it passed. */
  reasons: string[];
}

export function validationStanding(files: FileEntry[], results: DeviceResult[]): ValidationStanding {
  const digest = filesDigest(files);
  const current = results.filter((result) => result.artifact.files_sha256 === digest);
  const stale = results.filter((result) => result.artifact.files_sha256 !== digest);
  const label = (result: DeviceResult) => `${result.device}${result.report.emulated ? ' (emulated)' : ''} on ${result.host.name}`;
  const reasons = current
    .filter((result) => result.report.status === 'failed')
    .map((result) => `${label(result)} failed: ${result.report.failures.join('; ') || result.report.reason || 'see its result file'}`);
  // A pass of the IR compiled on the runner is no pass of the blob that ships: unless another result
  // of the device ran that blob and passed, publishing would vouch for a blob no device ran.
  const passedWithBlob = new Set(current.filter((result) => result.report.status === 'passed' && !blobNotUsed(result.report)).map((result) => result.device));
  for (const result of current.filter((each) => each.report.status === 'passed' && blobNotUsed(each.report) && !passedWithBlob.has(each.device))) {
    reasons.push(`${label(result)} passed without the shipped blob (${result.report.npu_blob!.detail}): no result of these files ran the blob; validate on a machine it fits, or rebuild the blob on this one`);
  }
  if (!current.some((result) => result.report.status === 'passed')) {
    const skipped = current.filter((result) => result.report.status === 'skipped');
    if (current.length === 0) reasons.push(`no device has validated these files${stale.length ? ` (${stale.length} result(s) beside it measured other bytes)` : ''}`);
    else if (skipped.length === current.length) reasons.push(`every device was skipped (${skipped.map((result) => `${label(result)}: ${result.report.reason ?? 'skipped'}`).join('; ')})`);
  }
  return { current, stale, passed: reasons.length === 0, reasons };
}
