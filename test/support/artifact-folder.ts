import { createHash, randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { filesDigest, type Manifest } from '../../src/artifact/manifest.js';
import type { DeviceResult } from '../../src/validate/contract.js';
import { workspace } from './cli.js';

// A small OpenVINO artifact folder made by hand, as `phiforge build` would leave it: files listed in
// manifest.json with their sha256, and device results beside them in validation/. Enough for every
// check publish makes, with no converter run.

/** One weight of the hand-made IR: a compressed constant feeding its layer through NNCF's decompression nodes. */
interface Weight {
  name: string;
  type: 'i4' | 'u8';
  shape: number[];
  consumer: 'MatMul' | 'Gather';
}

/**
 * An openvino_model.xml with NNCF's structure: 4-bit symmetric weights (Convert -> Multiply by a
 * scale) and 8-bit asymmetric ones (Convert -> Subtract a zero point -> Multiply), an embedding
 * feeding a Gather and linear layers feeding MatMuls, plus the rt_info NNCF writes.
 */
export function irXml(weights: Weight[], compression: Record<string, string>): string {
  const layers: string[] = [];
  const edges: string[] = [];
  let next = 0;
  const layer = (type: string, name: string, data = '') => {
    const id = next++;
    layers.push(`<layer id="${id}" name="${name}" type="${type}" version="opset1">${data ? `<data ${data}/>` : ''}</layer>`);
    return id;
  };
  const edge = (from: number, to: number, port: number) => edges.push(`<edge from-layer="${from}" from-port="0" to-layer="${to}" to-port="${port}"/>`);
  const input = layer('Parameter', 'input_ids', 'shape="1,?" element_type="i64"');
  for (const weight of weights) {
    const constant = layer('Const', weight.name, `element_type="${weight.type}" shape="${weight.shape.join(',')}" offset="0" size="1"`);
    const convert = layer('Convert', `${weight.name}/convert`);
    edge(constant, convert, 0);
    let value = convert;
    if (weight.type === 'u8') {
      const zeroPoint = layer('Const', `${weight.name}/zero_point`, `element_type="u8" shape="${weight.shape[0]},1" offset="0" size="1"`);
      const zeroConvert = layer('Convert', `${weight.name}/zero_point/convert`);
      edge(zeroPoint, zeroConvert, 0);
      const subtract = layer('Subtract', `${weight.name}/subtract`);
      edge(convert, subtract, 0);
      edge(zeroConvert, subtract, 1);
      value = subtract;
    }
    const scale = layer('Const', `${weight.name}/scale`, `element_type="f16" shape="${weight.shape[0]},1" offset="0" size="1"`);
    const multiply = layer('Multiply', `${weight.name}/fq_weights`);
    edge(value, multiply, 0);
    edge(scale, multiply, 1);
    const consumer = layer(weight.consumer, `${weight.name}/${weight.consumer}`);
    edge(multiply, consumer, 0);
    edge(input, consumer, 1);
  }
  const rtInfo = Object.entries(compression)
    .map(([key, value]) => `<${key} value="${value}" />`)
    .join('');
  return `<?xml version="1.0"?>\n<net name="Model0" version="11">\n<layers>${layers.join('\n')}</layers>\n<edges>${edges.join('\n')}</edges>\n<rt_info><nncf><weight_compression>${rtInfo}</weight_compression></nncf></rt_info>\n</net>\n`;
}

/** Embedding and lm_head in 8 bits, four linear layers of which two (half their weights) in 4 bits. */
export const TINY_WEIGHTS: Weight[] = [
  { name: 'embed_tokens', type: 'u8', shape: [128, 64], consumer: 'Gather' },
  { name: 'layers.0.qkv_proj', type: 'i4', shape: [192, 1, 64], consumer: 'MatMul' },
  { name: 'layers.0.down_proj', type: 'u8', shape: [64, 192], consumer: 'MatMul' },
  { name: 'layers.1.qkv_proj', type: 'u8', shape: [192, 64], consumer: 'MatMul' },
  { name: 'layers.1.down_proj', type: 'i4', shape: [64, 3, 64], consumer: 'MatMul' },
  { name: 'lm_head', type: 'u8', shape: [128, 64], consumer: 'MatMul' },
];

export const TINY_COMPRESSION = { all_layers: 'False', backup_mode: 'int8_asym', group_size: '64', mode: 'int4_sym', ratio: '0.6' };

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

export interface ArtifactOptions {
  name?: string;
  /** The model the manifest names as source (default: the synthetic tiny preset). */
  model?: Manifest['model'];
  /** The devices of the recipe's targets (default: CPU). */
  targets?: string[];
  /** Device results to leave beside it: status per device, measuring these files unless `otherBytes`. */
  results?: Array<{ device: string; status: 'passed' | 'failed' | 'skipped'; emulated?: boolean; otherBytes?: boolean; similarity?: number; blobNotUsed?: boolean }>;
}

export interface HandMadeArtifact {
  dir: string;
  manifest: Manifest;
  /** The artifact's files and their bytes. */
  files: Map<string, Buffer>;
  results: DeviceResult[];
}

export function deviceResult(manifest: Manifest, options: NonNullable<ArtifactOptions['results']>[number], index: number): DeviceResult {
  const spread = (median: number) => ({ median, min: median * 0.9, max: median * 1.1, mean: median, std: 0.1 });
  const { device, status, emulated = false } = options;
  const measured = status !== 'skipped';
  return {
    schema: 'phiforge.validation/1',
    artifact: { name: manifest.name, backend: manifest.backend, files_sha256: options.otherBytes ? 'e'.repeat(64) : filesDigest(manifest.files) },
    device,
    device_class: device.toLowerCase(),
    host: { name: `box${index}`, cpu: 'Test CPU', cores: 2, memory_gib: 8, platform: 'linux-x64' },
    measured_at: `2026-11-0${index + 1}T10:00:00.000Z`,
    phiforge: '0.1.0',
    runtime: { toolchain: 'openvino-runtime', lock_sha256: 'c'.repeat(64), packages: { openvino: '2026.4.1', openvino_genai: '2026.4.1.0' } },
    settings_sha256: 'd'.repeat(64),
    run: measured ? { device, status: 'ran', load_ms: 300, peak_rss_mb: 120 + index, prompts: [], ...(emulated ? { emulated: true } : {}) } : { device, status: 'skipped', reason: `device ${device} not present` },
    report: {
      device,
      status,
      ...(measured ? {} : { reason: `device ${device} not present` }),
      emulated,
      structural: false,
      ...(options.blobNotUsed ? { npu_blob: { shipped: true, used: false, detail: 'the shipped blob was not used: openvino 2025.1 in the blob, 2026.4.1 on this runner' } } : {}),
      ...(measured
        ? {
            figures: { ttft_ms: spread(40 + index), tpot_ms: spread(12 + index), tokens_per_s: spread(80 - index), load_ms: 300, peak_rss_mb: 120 + index, runs: 3 },
            agreement: { prompts: 1, identical: 1, match_tokens_mean: 16 - index, similarity_mean: options.similarity ?? 0.95 },
          }
        : {}),
      prompts: [],
      gates: status === 'failed' ? [{ gate: 'ttft_ms_max', limit: 10, value: 40 + index, unit: 'ms', passed: false }] : [],
      failures: status === 'failed' ? [`${device}: gate ttft_ms_max: measured ${40 + index} ms, limit <= 10 ms`] : [],
    },
  } as DeviceResult;
}

/** Writes the folder; the weights are random, so two artifacts never share LFS objects by chance. */
export async function handMadeArtifact(options: ArtifactOptions = {}): Promise<HandMadeArtifact> {
  const name = options.name ?? 'tiny-int4-ov';
  const root = await workspace();
  const dir = path.join(root, 'dist', name);
  const files = new Map<string, Buffer>([
    ['config.json', Buffer.from(JSON.stringify({ model_type: 'phi3', hidden_size: 64, num_hidden_layers: 2 }))],
    ['openvino_model.xml', Buffer.from(irXml(TINY_WEIGHTS, TINY_COMPRESSION))],
    ['openvino_model.bin', randomBytes(48 * 1024)],
    ['openvino_tokenizer.bin', randomBytes(4 * 1024)],
    ['reference.json', Buffer.from(JSON.stringify({ answers: [] }))],
  ]);
  for (const [file, content] of files) {
    await mkdir(path.dirname(path.join(dir, file)), { recursive: true });
    await writeFile(path.join(dir, file), content);
  }
  const manifest: Manifest = {
    schema: 'phiforge.manifest/1',
    phiforge: { version: '0.1.0' },
    name,
    backend: 'openvino',
    pipeline: 'openvino',
    recipe: {
      file: `recipes/${name}.yaml`,
      resolved: { name, model: { synthetic: 'phi3-mini-tiny' }, pipeline: 'openvino', quantization: { weight_format: 'int4', group_size: 64, ratio: 0.6, sym: true }, targets: (options.targets ?? ['CPU']).map((device) => ({ device })) },
    },
    model: options.model ?? { source: 'synthetic', preset: 'phi3-mini-tiny', seed: 1234, key: 'b'.repeat(64), files: [] },
    toolchains: {
      openvino: { lockDigest: 'a'.repeat(64), python: '3.11.7', installed: { openvino: '2026.4.1', 'openvino-genai': '2026.4.1.0', nncf: '3.4.0', 'optimum-intel': '2.2.0', transformers: '5.5.4' } },
    },
    steps: [],
    files: [...files].map(([file, content]) => ({ path: file, size: content.length, sha256: sha256(content) })).sort((a, b) => (a.path < b.path ? -1 : 1)),
  };
  await writeFile(path.join(dir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  const results = (options.results ?? [{ device: 'CPU', status: 'passed' }]).map((result, index) => deviceResult(manifest, result, index));
  if (results.length > 0) await mkdir(path.join(dir, 'validation'), { recursive: true });
  for (const [index, result] of results.entries()) await writeFile(path.join(dir, 'validation', `${result.device}-box${index}.json`), JSON.stringify(result, null, 2));
  return { dir, manifest, files, results };
}
