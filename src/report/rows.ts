import { existsSync } from 'node:fs';
import { lstat } from 'node:fs/promises';
import path from 'node:path';
import { inspectArtifactFolder } from '../artifact/check.js';
import { MANIFEST_FILE, readManifest, type Manifest } from '../artifact/manifest.js';
import { UsageError } from '../errors.js';
import type { DeviceResult, TargetReport } from '../validate/contract.js';
import { round, targetLabel, type ValidationReport } from '../validate/evaluate.js';
import { readDeviceResults } from '../validate/results.js';
import { DATA_AWARE_ALGORITHMS } from '../recipe/schema.js';

// One row per artifact x device: the table `phiforge report`, the GitHub step summary and the model
// card all show, built once here from each artifact's manifest and the device results beside it.

export interface ArtifactRow {
  artifact: string;
  backend: string;
  /** "int4 sym g128 r0.6", "fp16", "int4 sym block 64", "int4 sym g64 r0.6 awq+scale_estimation" */
  quantization: string;
  /** The share of the weights stored in 4 bits, as the artifact's graph has it (manifest.weights). */
  int4Share?: number;
  sizeBytes: number;
  /** The device as the result names it, "NPU (emulated)" for an emulated one; absent when not validated. */
  device?: string;
  deviceClass?: string;
  emulated: boolean;
  structural: boolean;
  status: 'passed' | 'failed' | 'skipped' | 'not validated';
  similarity?: number;
  matchTokens?: number;
  perplexityRatio?: number;
  ttftMs?: number;
  /** TTFT per prompt length of the latency sweep. */
  ttftByPromptTokens?: Record<number, number>;
  tpotMs?: number;
  tokensPerS?: number;
  loadMs?: number;
  peakRssMb?: number;
  failedGates: string[];
  measuredAt?: string;
  host?: string;
  /** Why a device was skipped or a run was structural. */
  reason?: string;
}

export interface ArtifactDetails {
  dir: string;
  manifest: Manifest;
  results: DeviceResult[];
}

/** Reads an artifact folder: its manifest (checked) and every device result beside it. A folder without a manifest is a usage error. */
export async function readArtifact(dir: string): Promise<ArtifactDetails> {
  if (!existsSync(dir)) throw new UsageError(`${dir} does not exist`, 'Give artifact folders made by phiforge build (dist/<name>).');
  // lstat: a manifest.json that is a dangling link is refused by name below, not called missing.
  if (!(await lstat(path.join(dir, MANIFEST_FILE)).then(() => true, () => false))) {
    throw new UsageError(`${dir} is not an artifact: it has no ${MANIFEST_FILE}`, 'Give artifact folders made by phiforge build (dist/<name>).');
  }
  // Walked before its manifest and results are read: none of them is read through a link out of the folder or a FIFO.
  await inspectArtifactFolder(dir);
  return { dir, manifest: await readManifest(dir), results: await readDeviceResults(dir) };
}

/** How the artifact's weights were quantized, in a few words. */
export function quantizationSummary(manifest: Manifest): string {
  const recipe = manifest.recipe.resolved as { quantization?: Record<string, unknown>; ort?: Record<string, unknown> };
  const q = recipe.quantization ?? {};
  const parts = [String(q.weight_format ?? '?')];
  if (q.weight_format === 'int4' || q.weight_format === 'int8') parts.push(q.sym ? 'sym' : 'asym');
  if (manifest.backend === 'ort-genai' && q.weight_format === 'int4') parts.push(`block ${recipe.ort?.block_size}`);
  if (q.group_size !== undefined) parts.push(q.group_size === -1 ? 'channel-wise' : `g${q.group_size}`);
  if (q.ratio !== undefined) parts.push(`r${q.ratio}`);
  const dataAware = DATA_AWARE_ALGORITHMS.filter((algorithm) => q[algorithm] === true);
  if (dataAware.length) parts.push(dataAware.join('+'));
  else if (q.calibration !== undefined) parts.push('data-aware');
  return parts.join(' ');
}

type RowBase = Pick<ArtifactRow, 'artifact' | 'backend' | 'quantization' | 'int4Share' | 'sizeBytes'>;

function rowBase(manifest: Manifest): RowBase {
  return {
    artifact: manifest.name,
    backend: manifest.backend,
    quantization: quantizationSummary(manifest),
    int4Share: manifest.weights?.int4_share,
    sizeBytes: manifest.files.reduce((sum, file) => sum + file.size, 0),
  };
}

/** One target's verdict and figures as a row. */
function rowOf(base: RowBase, report: TargetReport, where: { deviceClass?: string; measuredAt?: string; host?: string }): ArtifactRow {
  const figures = report.figures;
  return {
    ...base,
    device: targetLabel(report),
    deviceClass: where.deviceClass,
    emulated: report.emulated,
    structural: report.structural,
    status: report.status,
    similarity: report.agreement?.similarity_mean ?? undefined,
    matchTokens: report.agreement?.match_tokens_mean,
    perplexityRatio: report.perplexity?.ratio ?? undefined,
    ttftMs: figures?.ttft_ms.median,
    ttftByPromptTokens: figures?.sweep && Object.fromEntries(figures.sweep.map((point) => [point.prompt_tokens, point.ttft_ms.median])),
    tpotMs: figures?.tpot_ms.median,
    tokensPerS: figures?.tokens_per_s.median,
    loadMs: figures?.load_ms,
    peakRssMb: figures?.peak_rss_mb,
    failedGates: report.gates.filter((gate) => !gate.passed).map((gate) => `${gate.gate}${gate.prompt_tokens ? `@${gate.prompt_tokens}` : ''}`),
    measuredAt: where.measuredAt,
    host: where.host,
    reason: report.reason,
  };
}

export function rowsOf(details: ArtifactDetails): ArtifactRow[] {
  const base = rowBase(details.manifest);
  if (details.results.length === 0) return [{ ...base, status: 'not validated', emulated: false, structural: false, failedGates: [] }];
  return details.results.map((result) => rowOf(base, result.report, { deviceClass: result.device_class, measuredAt: result.measured_at, host: result.host.name }));
}

/**
 * The rows of one validation as it just happened (skipped targets included, which leave no result
 * file): what build and validate write to the GitHub step summary.
 */
export function rowsOfValidation(manifest: Manifest, report: ValidationReport, deviceClass: (device: string) => string): ArtifactRow[] {
  const base = rowBase(manifest);
  return report.targets.map((target, index) => {
    const measured = report.measured?.[index];
    return rowOf(base, target, { deviceClass: deviceClass(target.device), measuredAt: target.status === 'skipped' ? undefined : measured?.at, host: target.status === 'skipped' ? undefined : measured?.host });
  });
}

/** A figure as the terminal's validation table writes it: with the given decimals, else as round() does (three below 100, one above). */
const cell = (value: number | undefined, digits?: number) => (value === undefined ? '–' : digits === undefined ? String(round(value)) : value.toFixed(digits));
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

/** TTFT of the recipe's prompts, then at each prompt length of the latency sweep: "1.3 (64 tok: 2.1, 512 tok: 9.8)". */
function ttftCell(row: ArtifactRow): string {
  const sweep = Object.entries(row.ttftByPromptTokens ?? {}).sort(([a], [b]) => Number(a) - Number(b));
  const median = cell(row.ttftMs);
  return sweep.length === 0 ? median : `${median} (${sweep.map(([tokens, ms]) => `${tokens} tok: ${cell(ms)}`).join(', ')})`;
}

/** The table's header and cells as text: the one content that the Markdown and the HTML report both lay out. */
export function tableOf(rows: ArtifactRow[]): { header: string[]; body: string[][] } {
  const header = ['artifact', 'backend', 'quantization', '4-bit share', 'size', 'device', 'status', 'similarity', 'match tok', 'ppl ratio', 'TTFT ms', 'TPOT ms', 'tok/s', 'load ms', 'peak MiB', 'failed gates', 'measured'];
  const body = rows.map((row) => [
    row.artifact,
    row.backend,
    row.quantization,
    cell(row.int4Share, 3),
    mib(row.sizeBytes),
    row.device ?? '–',
    row.status,
    cell(row.similarity, 3),
    cell(row.matchTokens),
    cell(row.perplexityRatio, 3),
    ttftCell(row),
    cell(row.tpotMs),
    cell(row.tokensPerS),
    cell(row.loadMs, 0),
    cell(row.peakRssMb, 0),
    row.failedGates.join(', ') || '–',
    row.measuredAt ? `${row.measuredAt.slice(0, 16).replace('T', ' ')} on ${row.host}` : '–',
  ]);
  return { header, body };
}

/** The rows as a GitHub-flavoured Markdown table (step summaries, model cards, `report --md`). */
export function markdownTable(rows: ArtifactRow[]): string {
  const { header, body } = tableOf(rows);
  const escape = (text: string) => text.replace(/\|/g, '\\|');
  return [header, header.map(() => '---'), ...body].map((line) => `| ${line.map(escape).join(' | ')} |`).join('\n');
}
