import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { alteredCopy } from '../support/artifact-copy.js';
import { deviceResults, REPO_ROOT, runCli, SHARED_CACHE, workspace } from '../support/cli.js';

// The NPU path with the real OpenVINO GenAI: compile, export and re-import the blob, emulated through
// NPUW on the CPU since this machine has no NPU.

const TIMEOUT = 900_000;
const DEMO = path.join(REPO_ROOT, 'recipes', 'demo', 'phi3-tiny-int4-npu.yaml');
const args = (...rest: string[]) => [...rest, '--cache-dir', SHARED_CACHE, '--out', 'dist'];

describe('NPU recipes', () => {
  it('--emulate-npu ships a blob, re-imports it with the same answers as the plain CPU pipeline (a gate), and labels everything emulated', async () => {
    const cwd = await workspace();
    const result = await runCli(args('build', DEMO, '--emulate-npu', '--junit', 'junit.xml'), { cwd });
    expect(result.exitCode, result.stderr).toBe(0);
    const artifact = path.join(cwd, 'dist', 'phi3-tiny-int4-npu');
    expect(existsSync(path.join(artifact, 'openvino_model.blob'))).toBe(true);
    const npu = JSON.parse(await readFile(path.join(artifact, 'npu.json'), 'utf8'));
    expect(npu).toMatchObject({ compiled: true, emulated: true, npu_driver: null, max_prompt_len: 256, min_response_len: 64 });
    expect(npu.openvino).toMatch(/^2026\.4\.1/);

    expect(result.stdout).toContain('NPU (emulated)  passed');
    expect(result.stdout).toMatch(/NPU \(emulated\): same tokens as the plain CPU pipeline on 1\/1 prompt\(s\); its latency is the CPU's, not an NPU's/);
    const [npuResult] = await deviceResults(artifact);
    expect(npuResult.report).toMatchObject({ device: 'NPU', emulated: true, status: 'passed' });
    expect(npuResult.report.gates).toEqual([{ gate: 'emulated_agreement_min', limit: 1, value: 1, unit: 'prompts', passed: true }]);
    expect(existsSync(path.join(artifact, 'validation', `NPU-emulated-${npuResult.host.name}.json`))).toBe(true);
    const manifest = JSON.parse(await readFile(path.join(artifact, 'manifest.json'), 'utf8'));
    expect(manifest.steps.find((step: { id: string }) => step.id === 'compile').facts.npu.emulated).toBe(true);
    expect(await readFile(path.join(cwd, 'junit.xml'), 'utf8')).toContain('classname="phi3-tiny-int4-npu.NPU.emulated"');

    // What the blob depends on, recorded where it was compiled (npu.json and so the manifest), and
    // matched by the runner before it imported the blob.
    expect(npu.compiled_for).toMatchObject({
      openvino: npu.openvino,
      openvino_genai: npu.openvino_genai,
      npu_compiler: 'emulated',
      npu_driver: 'emulated',
      device_architecture: expect.stringMatching(/^emulated on CPU \S+/),
      weightless: false,
      properties: { MAX_PROMPT_LEN: '256', MIN_RESPONSE_LEN: '64', NPUW_DEVICES: 'CPU', NPUW_ONLINE_PIPELINE: 'NONE' },
    });
    expect(manifest.steps.find((step: { id: string }) => step.id === 'compile').facts.npu.compiled_for).toEqual(npu.compiled_for);
    expect(npuResult.run.npu_blob).toMatchObject({ shipped: true, used: true, mismatches: [], runner: npu.compiled_for });
    expect(npuResult.report.npu_blob).toMatchObject({ shipped: true, used: true });
  }, TIMEOUT);

  it('a blob compiled for another OpenVINO and MAX_PROMPT_LEN: validate compiles the IR instead and says so (never publishable); --require-blob exits 1 naming the mismatch', async () => {
    const cwd = await workspace();
    const built = await runCli(args('build', DEMO, '--emulate-npu', '--no-validate'), { cwd });
    expect(built.exitCode, built.stderr).toBe(0);
    const artifact = path.join(cwd, 'dist', 'phi3-tiny-int4-npu');
    const { openvino } = JSON.parse(await readFile(path.join(artifact, 'npu.json'), 'utf8')).compiled_for;
    // Otherwise consistent: npu.json is listed again in the copy's manifest with its new digest.
    const copy = path.join(cwd, 'elsewhere', 'phi3-tiny-int4-npu');
    await alteredCopy(artifact, copy, 'npu.json', (bytes) => {
      const npu = JSON.parse(bytes.toString('utf8'));
      npu.compiled_for.openvino = '2025.3.0-19807';
      npu.compiled_for.properties.MAX_PROMPT_LEN = '512';
      return Buffer.from(JSON.stringify(npu, null, 1));
    });

    const recompiled = await runCli(['validate', copy, '--emulate-npu', '--cache-dir', SHARED_CACHE], { cwd });
    expect(recompiled.exitCode, recompiled.stderr).toBe(0);
    const mismatch = `openvino 2025.3.0-19807 in the blob, ${openvino} on this runner; properties.MAX_PROMPT_LEN 512 in the blob, 256 on this runner`;
    expect(recompiled.stderr).toContain(`NPU (emulated): the shipped blob was not used: ${mismatch}; the IR was compiled here instead.`);
    const [result] = await deviceResults(copy);
    expect(result.run.npu_blob).toMatchObject({ shipped: true, used: false, mismatches: [{ key: 'openvino', blob: '2025.3.0-19807', runner: openvino }, { key: 'properties.MAX_PROMPT_LEN', blob: '512', runner: '256' }] });
    expect(result.report).toMatchObject({ status: 'passed', npu_blob: { shipped: true, used: false } });
    // A pass of the IR compiled on the runner is no pass of the blob that ships.
    const publish = await runCli(['publish', copy, '--repo', 'me/npu', '--dry-run'], { cwd });
    expect(publish.exitCode).toBe(1);
    expect(publish.stderr).toContain('passed without the shipped blob (the shipped blob was not used: openvino 2025.3.0-19807 in the blob');

    const required = await runCli(['validate', copy, '--emulate-npu', '--require-blob', '--cache-dir', SHARED_CACHE], { cwd });
    expect(required.exitCode).toBe(1);
    expect(required.stderr).toContain(`NPU (emulated): the shipped blob was not used: ${mismatch}; --require-blob is set, so the IR was not compiled instead`);
    expect(required.stderr).not.toContain('the IR was compiled here instead');
    // The untouched artifact's blob fits: --require-blob imports it and passes.
    const fits = await runCli(['validate', artifact, '--emulate-npu', '--require-blob', '--cache-dir', SHARED_CACHE], { cwd });
    expect(fits.exitCode, fits.stderr).toBe(0);
  }, TIMEOUT);

  it('plan says an NPU target is emulated with --emulate-npu, and how it is checked', async () => {
    const cwd = await workspace();
    const planned = await runCli(['plan', DEMO, '--emulate-npu', '--cache-dir', SHARED_CACHE], { cwd });
    expect(planned.exitCode, planned.stderr).toBe(0);
    expect(planned.stdout).toContain("NPU: EMULATED through NPUW on the CPU where no NPU is present (--emulate-npu), with OpenVINO GenAI; its latency is the CPU's and its answers must equal the plain CPU pipeline's");
    const plain = await runCli(['plan', DEMO, '--cache-dir', SHARED_CACHE, '--json'], { cwd });
    expect(JSON.parse(plain.stdout).targets).toEqual([{ device: 'NPU', device_class: 'npu', runtime: 'OpenVINO GenAI', toolchains: ['openvino-runtime'], emulated: false }]);
  });

  it('without --emulate-npu the NPU target is skipped (exit 0), and --require-device fails it', async () => {
    const cwd = await workspace();
    const skipped = await runCli(args('build', DEMO), { cwd });
    expect(skipped.exitCode, skipped.stderr).toBe(0);
    expect(skipped.stdout).toContain('skipped: device NPU not present (available: CPU)');
    const required = await runCli(args('build', DEMO, '--require-device'), { cwd });
    expect(required.exitCode).toBe(1);
    expect(required.stderr).toContain('NPU: device NPU not present (available: CPU) and --require-device is set');
  }, TIMEOUT);

  it('refuses an NPU recipe with asymmetric weights before anything runs', async () => {
    const recipe = (await readFile(DEMO, 'utf8')).replace('sym: true', 'sym: false');
    const bad = await workspace({ 'npu.yaml': recipe });
    const result = await runCli(['build', 'npu.yaml', '--cache-dir', path.join(bad, 'cache')], { cwd: bad });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/npu\.yaml:\d+:\d+ quantization\.sym: an NPU target needs symmetric weights/);
    expect(result.stderr).toContain('hint: The NPU needs weight_format int4, sym: true, ratio: 1.0 and group_size 128 or -1');
    expect(existsSync(path.join(bad, 'cache'))).toBe(false);
  });
});

describe('phiforge doctor', () => {
  it('lists the system, toolchains and OpenVINO devices, and estimates the real Phi-3-mini export', async () => {
    const cwd = await workspace({
      // Phi-3-mini-4k-instruct's published config.json sizes: enough for the estimate, no weights needed.
      'phi3-config/config.json': JSON.stringify({ model_type: 'phi3', hidden_size: 3072, intermediate_size: 8192, num_hidden_layers: 32, num_attention_heads: 32, num_key_value_heads: 32, vocab_size: 32064, tie_word_embeddings: false }),
    });
    // doctor asks each runtime for its devices through an existing venv; it installs nothing itself.
    expect((await runCli(['toolchain', 'install', 'openvino-runtime', '--cache-dir', SHARED_CACHE], { cwd })).exitCode).toBe(0);
    const result = await runCli(['doctor', path.join(REPO_ROOT, 'recipes', 'phi3-int4-ov.yaml'), '--model', 'phi3-config', '--cache-dir', SHARED_CACHE, '--json'], { cwd });
    expect(result.exitCode, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report.system.cores).toBeGreaterThan(0);
    expect(report.toolchains.map((toolchain: { name: string }) => toolchain.name)).toContain('openvino');
    expect(report.toolchains.map((toolchain: { name: string }) => toolchain.name)).toContain('openvino-runtime');
    expect(report.openvino.devices.map((device: { device: string }) => device.device)).toContain('CPU');
    expect(report.resources.estimate.parameters / 1e9).toBeCloseTo(3.82, 1);
    // Calibrated against a real-size build (bench/real-size.mjs): the guide's INT4 export peaks near 10 GiB.
    expect(report.resources.estimate.steps.export.memoryBytes / 2 ** 30).toBeGreaterThan(8);
    expect(report.resources.estimate.steps.export.memoryBytes / 2 ** 30).toBeLessThan(14);
    // ...and the source model's reference answers, the bf16 weights computed in FP32 a module at a
    // time, a little over the checkpoint's 7.1 GiB: the export is the build's peak.
    expect(report.resources.estimate.steps.reference.memoryBytes / 2 ** 30).toBeGreaterThan(7.1);
    expect(report.resources.estimate.steps.reference.memoryBytes / 2 ** 30).toBeLessThan(10);
    expect(report.resources.estimate.buildMemoryBytes).toBe(report.resources.estimate.steps.export.memoryBytes);
  });
});
