import { describe, expect, it } from 'vitest';
import { RecipeSchema } from '../../src/backends/index.js';
import type { Manifest } from '../../src/artifact/manifest.js';
import { RunsFile, type DeviceResult, type NpuBlobUse, type TargetRun } from '../../src/validate/contract.js';
import { combineReports, evaluateTarget } from '../../src/validate/evaluate.js';
import { validationStanding } from '../../src/validate/results.js';
import { deviceResult } from '../support/artifact-folder.js';

// What validation makes of the runner's word on an NPU blob (toolchains/common/scripts/npu_blob.py):
// a blob that did not fit was replaced by the IR compiled on the runner, which the result says and
// which never makes the blob publishable; under --require-blob the target fails, naming the mismatch.

const recipe = RecipeSchema.parse({
  name: 'npu',
  model: { synthetic: 'phi3-mini-tiny' },
  pipeline: 'openvino-npu',
  quantization: { weight_format: 'int4', group_size: 128, ratio: 1, sym: true },
  targets: [{ device: 'NPU' }],
});

const runner = {
  openvino: '2026.4.1-22982',
  openvino_genai: '2026.4.1.0',
  npu_compiler: 'emulated',
  npu_driver: 'emulated',
  device_architecture: 'emulated on CPU intel64',
  device_name: 'emulated through NPUW on Test CPU',
  weightless: false,
  properties: { MAX_PROMPT_LEN: '256', MIN_RESPONSE_LEN: '64', NPUW_DEVICES: 'CPU', NPUW_ONLINE_PIPELINE: 'NONE' },
};
const used: NpuBlobUse = { shipped: true, used: true, compiled_for: runner, runner, mismatches: [] };
const notUsed: NpuBlobUse = {
  shipped: true,
  used: false,
  compiled_for: { ...runner, openvino: '2025.3.0', properties: { ...runner.properties, MAX_PROMPT_LEN: '512' } },
  runner,
  mismatches: [
    { key: 'openvino', blob: '2025.3.0', runner: '2026.4.1-22982' },
    { key: 'properties.MAX_PROMPT_LEN', blob: '512', runner: '256' },
  ],
};

const measurement = { ttft_ms: 10, tpot_ms: 2, tokens_per_s: 500, new_tokens: 3, generate_ms: 14, decode_ms: [2, 2] };
const ran = (npuBlob: NpuBlobUse): TargetRun => ({
  device: 'NPU',
  status: 'ran',
  emulated: true,
  cpu_agreement: { prompts: 1, identical: 1 },
  load_ms: 5,
  peak_rss_mb: 100,
  prompts: [{ id: 'p1', token_ids: [1, 2], text: 'hi', runs: [measurement] }],
  npu_blob: npuBlob,
});
const evaluate = (run: TargetRun) => evaluateTarget({ run, gates: {}, settings: recipe.validate, requireDevice: false });

describe('the NPU blob on load', () => {
  it('a blob that fits is reported imported', () => {
    const report = evaluate(ran(used));
    expect(report.status).toBe('passed');
    expect(report.npu_blob).toEqual({ shipped: true, used: true, detail: 'imported the shipped blob (compiled for OpenVINO 2026.4.1-22982, NPU compiler emulated, driver emulated, emulated on CPU intel64)' });
  });

  it('a blob that does not fit: the run of the IR compiled here still passes, and the result says the blob was not used and why', () => {
    const report = evaluate(ran(notUsed));
    expect(report.status).toBe('passed');
    expect(report.npu_blob).toEqual({
      shipped: true,
      used: false,
      detail: 'the shipped blob was not used: openvino 2025.3.0 in the blob, 2026.4.1-22982 on this runner; properties.MAX_PROMPT_LEN 512 in the blob, 256 on this runner',
    });
  });

  it('under --require-blob the runner declines to compile the IR, and the target fails naming each mismatch', () => {
    const refused: TargetRun = { device: 'NPU', status: 'skipped', reason: 'the shipped blob does not fit this runner, and require_blob forbids compiling the IR', emulated: true, npu_blob: notUsed };
    const report = evaluate(refused);
    expect(report.status).toBe('failed');
    expect(combineReports('npu', 'openvino', [report]).failures).toEqual([
      'NPU (emulated): the shipped blob was not used: openvino 2025.3.0 in the blob, 2026.4.1-22982 on this runner; properties.MAX_PROMPT_LEN 512 in the blob, 256 on this runner; --require-blob is set, so the IR was not compiled instead',
    ]);
  });

  it('under --require-blob an artifact that ships no blob fails too', () => {
    const none: TargetRun = { device: 'NPU', status: 'skipped', reason: 'the artifact ships no compiled blob, and require_blob forbids compiling the IR', emulated: true, npu_blob: { shipped: false, used: false, runner, mismatches: [] } };
    expect(evaluate(none).failures).toEqual(['NPU (emulated): the artifact ships no compiled blob; --require-blob is set, so the IR was not compiled instead']);
  });

  it("an artifact of an older phiforge records nothing: the runner's reason is shown", () => {
    const unrecorded: NpuBlobUse = { shipped: true, used: false, runner, mismatches: [{ key: 'compiled_for', blob: null, runner: 'a record', why: 'npu.json records nothing the blob was compiled for (an artifact of an older phiforge)' }] };
    expect(evaluate(ran(unrecorded)).npu_blob?.detail).toBe('the shipped blob was not used: npu.json records nothing the blob was compiled for (an artifact of an older phiforge)');
  });

  it("runs.json carries the runner's record; a record missing a field breaks the contract", () => {
    const runs = { runtime: {}, available: [{ device: 'CPU', name: 'x' }], targets: [ran(notUsed)] };
    expect(RunsFile.safeParse(runs).success).toBe(true);
    const { npu_driver: _driver, ...partial } = runner;
    expect(RunsFile.safeParse({ ...runs, targets: [ran({ ...notUsed, runner: partial as typeof runner })] }).success).toBe(false);
  });
});

describe('publishing an NPU artifact', () => {
  const manifest = { name: 'npu', backend: 'openvino', files: [{ path: 'openvino_model.blob', size: 1, sha256: 'a'.repeat(64) }] } as Manifest;
  const npuResult = (npuBlob: NpuBlobUse, index: number): DeviceResult => {
    const result = deviceResult(manifest, { device: 'NPU', status: 'passed', emulated: true }, index);
    return { ...result, run: ran(npuBlob), report: { ...evaluate(ran(npuBlob)) } };
  };

  it('a pass without the shipped blob is no pass of the blob: not publishable, and the reason says why', () => {
    const standing = validationStanding(manifest.files, [npuResult(notUsed, 0)]);
    expect(standing.passed).toBe(false);
    expect(standing.reasons).toEqual([expect.stringMatching(/^NPU \(emulated\) on box0 passed without the shipped blob \(the shipped blob was not used: openvino 2025\.3\.0 in the blob/)]);
  });

  it('another result of the same files that ran the blob and passed vouches for it', () => {
    expect(validationStanding(manifest.files, [npuResult(notUsed, 0), npuResult(used, 1)]).passed).toBe(true);
    expect(validationStanding(manifest.files, [npuResult(used, 1)]).passed).toBe(true);
  });
});
