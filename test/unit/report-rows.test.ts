import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { markdownTable, readArtifact, rowsOf } from '../../src/report/rows.js';
import { UsageError } from '../../src/errors.js';
import { workspace } from '../support/cli.js';

// The one table of artifacts x devices that the report, the CI summary and the model card share.

const sha = (character: string) => character.repeat(64);
const manifest = (name: string) => ({
  schema: 'phiforge.manifest/1',
  phiforge: { version: '0.1.0' },
  name,
  backend: 'openvino',
  pipeline: 'openvino',
  recipe: { file: 'r.yaml', resolved: { quantization: { weight_format: 'int4', group_size: 128, ratio: 0.6, sym: true } } },
  model: { source: 'synthetic', key: sha('b'), files: [] },
  toolchains: {},
  steps: [],
  files: [{ path: 'openvino_model.bin', size: 3 * 2 ** 20, sha256: sha('a') }],
});

describe('artifact rows', () => {
  it('gives an artifact without device results one "not validated" row, and refuses a folder that is no artifact', async () => {
    const root = await workspace({ 'a/manifest.json': JSON.stringify(manifest('a')), 'b/readme.txt': 'hello' });
    const rows = rowsOf(await readArtifact(path.join(root, 'a')));
    expect(rows).toEqual([expect.objectContaining({ artifact: 'a', status: 'not validated', quantization: 'int4 sym g128 r0.6', sizeBytes: 3 * 2 ** 20 })]);
    expect(markdownTable(rows).split('\n')[2]).toContain('| a | openvino | int4 sym g128 r0.6 | – | 3.0 MiB | – | not validated |');
    await expect(readArtifact(path.join(root, 'b'))).rejects.toBeInstanceOf(UsageError);
  });

  it("shows the 4-bit share the manifest records and the data-aware algorithms the recipe ran", async () => {
    const dataAware = {
      ...manifest('d'),
      recipe: { file: 'r.yaml', resolved: { quantization: { weight_format: 'int4', group_size: 64, ratio: 0.6, sym: true, awq: true, scale_estimation: true } } },
      weights: { four_bit: 917504, eight_bit: 1245184, other: 0, int4_share: 917504 / 2162688, ratio_achieved: 0.583 },
    };
    const root = await workspace({ 'd/manifest.json': JSON.stringify(dataAware) });
    const rows = rowsOf(await readArtifact(path.join(root, 'd')));
    expect(markdownTable(rows).split('\n')[2]).toContain('| d | openvino | int4 sym g64 r0.6 awq+scale_estimation | 0.424 | 3.0 MiB |');
  });

  it('has a row per device result', async () => {
    const root = await workspace({ 'a/manifest.json': JSON.stringify(manifest('a')) });
    const figures = { median: 10, min: 9, max: 11, mean: 10, std: 1 };
    for (const [device, emulated] of [['CPU', false], ['NPU', true]] as const) {
      const result = {
        schema: 'phiforge.validation/1',
        artifact: { name: 'a', backend: 'openvino', files_sha256: sha('f') },
        device,
        device_class: device.toLowerCase(),
        host: { name: 'box', cpu: 'x', cores: 2, memory_gib: 8, platform: 'linux-x64' },
        measured_at: '2026-12-03T08:00:00.000Z',
        phiforge: '0.1.0',
        runtime: { toolchain: 'openvino-runtime', lock_sha256: sha('c'), packages: {} },
        settings_sha256: sha('d'),
        run: { device, status: 'skipped', reason: 'x' },
        report: {
          device,
          status: emulated ? 'failed' : 'passed',
          emulated,
          structural: false,
          figures: { ttft_ms: figures, tpot_ms: figures, tokens_per_s: figures, load_ms: 300, peak_rss_mb: 120, runs: 3 },
          agreement: { prompts: 1, identical: 0, match_tokens_mean: 4, similarity_mean: 0.9 },
          prompts: [],
          gates: emulated ? [{ gate: 'emulated_agreement_min', limit: 1, value: 0, unit: 'prompts', passed: false }] : [],
          failures: [],
        },
      };
      await mkdir(path.join(root, 'a', 'validation'), { recursive: true });
      await writeFile(path.join(root, 'a', 'validation', `${device}-box.json`), JSON.stringify(result));
    }
    const rows = rowsOf(await readArtifact(path.join(root, 'a')));
    expect(rows.map((row) => [row.device, row.status, row.failedGates])).toEqual([
      ['CPU', 'passed', []],
      ['NPU (emulated)', 'failed', ['emulated_agreement_min']],
    ]);
    expect(markdownTable(rows).split('\n')).toHaveLength(4);
  });
});
