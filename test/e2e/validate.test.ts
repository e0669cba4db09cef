import { existsSync } from 'node:fs';
import { cp, mkdir, open, readdir, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { deviceResults, runCli, SHARED_CACHE, workspace } from '../support/cli.js';
import { TINY_INT4 } from '../support/recipes.js';

// Validation with the real OpenVINO GenAI runner and the real reference model, on the tiny demo model
// (its export is shared with the build tests through the cache). Every test stands alone.

const recipe = (name: string, targets: string, validate = '') => `name: ${name}
${TINY_INT4}targets:
${targets}
validate:
  max_new_tokens: 12
  repetitions: 2
  prompts:
    - id: intro
      messages: [{ role: user, content: Can you introduce yourself? }]
      expect: { not_empty: true, min_new_tokens: 1 }
${validate}`;

const args = (...rest: string[]) => [...rest, '--cache-dir', SHARED_CACHE, '--out', 'dist'];

async function built(name: string, targets = '  - device: CPU', validate = '') {
  const cwd = await workspace({ [`recipes/${name}.yaml`]: recipe(name, targets, validate) });
  const result = await runCli(args('build', `recipes/${name}.yaml`), { cwd });
  return { cwd, result, artifact: path.join(cwd, 'dist', name) };
}

/** Every distribution installed in the venvs of a cache, by name. */
async function installedPackages(cache: string): Promise<string[]> {
  const names: string[] = [];
  for (const venv of await readdir(path.join(cache, 'toolchains'))) {
    const sitePackages = path.join(cache, 'toolchains', venv, 'lib', 'python3.11', 'site-packages');
    for (const entry of await readdir(sitePackages)) if (entry.endsWith('.dist-info')) names.push(entry.split('-')[0].toLowerCase().replace(/_/g, '-'));
  }
  return names;
}

describe('validation of OpenVINO artifacts', () => {
  it('fails the build with exit 1 on an impossibly tight gate, naming gate, value and limit; the JUnit file and the device result show it', async () => {
    const cwd = await workspace({ 'recipes/tight.yaml': recipe('tight', '  - device: CPU\n    gates: { ttft_ms_max: 0.0001, similarity_min: 0.0 }\n  - device: GPU') });
    const result = await runCli(args('build', 'recipes/tight.yaml', '--junit', 'reports/junit.xml'), { cwd });
    expect(result.exitCode, result.stderr).toBe(1);
    expect(result.stderr).toMatch(/tight: CPU: gate ttft_ms_max: measured [\d.]+ ms, limit <= 0\.0001 ms/);
    expect(result.stdout).toContain('GPU     skipped: device GPU not present (available: CPU)');
    const junit = await readFile(path.join(cwd, 'reports', 'junit.xml'), 'utf8');
    expect(junit).toMatch(/<testcase name="gate ttft_ms_max" classname="tight\.CPU">\s*<failure message="measured [\d.]+ ms, limit &lt;= 0\.0001 ms"/);
    expect(junit).toMatch(/<testcase name="gate similarity_min" classname="tight\.CPU"(\/>|>\s*<\/testcase>)/);
    expect(junit).toMatch(/<testcase name="GPU device" classname="tight\.GPU">\s*<skipped message="device GPU not present \(available: CPU\)"/);
    // The artifact is still published, its verdict beside it, for whoever needs to read the figures.
    const [cpu] = await deviceResults(path.join(cwd, 'dist', 'tight'));
    expect(cpu.report).toMatchObject({ device: 'CPU', status: 'failed' });
  });

  it('skips an absent device with its reason and exits 0; --require-device makes it a failure', async () => {
    const { cwd, result } = await built('gpu-only', '  - device: GPU');
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toContain('skipped: device GPU not present (available: CPU)');
    const required = await runCli(args('validate', 'dist/gpu-only', '--require-device'), { cwd });
    expect(required.exitCode).toBe(1);
    expect(required.stderr).toContain('GPU: device GPU not present (available: CPU) and --require-device is set');
  });

  it("reports medians and GenAI-pooled means of the runner's own perf_metrics, with the source model's answers, beside the artifact", async () => {
    const { result, artifact } = await built('cpu', '  - device: CPU\n    runtime: { PERFORMANCE_HINT: LATENCY, NUM_STREAMS: 1 }');
    expect(result.exitCode, result.stderr).toBe(0);
    const [cpu] = await deviceResults(artifact);
    expect(cpu.report).toMatchObject({ device: 'CPU', status: 'passed', emulated: false });
    expect(cpu.runtime.toolchain).toBe('openvino-runtime');
    const { figures, prompts } = cpu.report;
    expect(figures.runs).toBe(2);
    expect(prompts[0].new_tokens).toBeGreaterThan(0);
    expect(prompts[0].reference.reference_tokens).toBeGreaterThan(0);
    const run = cpu.run as { prompts: Array<{ runs: Array<{ ttft_ms: number }> }>; genai_aggregate: { ttft_ms: number; tpot_ms: number; tokens_per_s: number } };
    const ttfts = run.prompts[0].runs.map((measurement) => measurement.ttft_ms).sort((a, b) => a - b);
    expect(figures.ttft_ms.median).toBeCloseTo((ttfts[0] + ttfts[1]) / 2, 6);
    // The means phiforge pools from the raw samples are the ones GenAI's own PerfMetrics addition gives.
    const relative = (ours: number, theirs: number) => Math.abs(ours / theirs - 1);
    expect(relative(figures.ttft_ms.mean, run.genai_aggregate.ttft_ms)).toBeLessThan(1e-4);
    expect(relative(figures.tpot_ms.mean, run.genai_aggregate.tpot_ms)).toBeLessThan(1e-4);
    expect(relative(figures.tokens_per_s.mean, run.genai_aggregate.tokens_per_s)).toBeLessThan(1e-4);
  });

  it('a copy of the artifact validates with an empty cache, installing only the runtime; a changed or deleted file fails it', async () => {
    const { cwd, result, artifact } = await built('portable');
    expect(result.exitCode, result.stderr).toBe(0);
    const copy = path.join(cwd, 'downloaded', 'portable');
    await cp(artifact, copy, { recursive: true });
    await rm(path.join(copy, 'validation'), { recursive: true });
    const empty = path.join(cwd, 'empty-cache');
    await mkdir(empty);

    const fresh = await runCli(['validate', copy, '--cache-dir', empty, '--json'], { cwd });
    expect(fresh.exitCode, fresh.stderr).toBe(0);
    expect(JSON.parse(fresh.stdout).results[0].validation.passed).toBe(true);
    expect((await deviceResults(copy)).map((each) => each.device)).toEqual(['CPU']);
    // No export, no reference answers: only the runtime toolchain, and no converter or torch in it.
    expect(existsSync(path.join(empty, 'steps'))).toBe(false);
    expect((await readdir(path.join(empty, 'toolchains'))).map((venv) => venv.replace(/-[0-9a-f]{16}$/, ''))).toEqual(['openvino-runtime']);
    const packages = await installedPackages(empty);
    expect(packages).toContain('openvino-genai');
    for (const converter of ['torch', 'optimum', 'optimum-intel', 'nncf', 'transformers', 'sentence-transformers']) expect(packages).not.toContain(converter);

    const distManifest = await stat(path.join(artifact, 'manifest.json'));
    const handle = await open(path.join(copy, 'openvino_model.bin'), 'r+');
    const byte = Buffer.alloc(1);
    await handle.read(byte, 0, 1, 4096);
    await handle.write(Buffer.from([byte[0] ^ 0xff]), 0, 1, 4096);
    await handle.close();
    const flipped = await runCli(['validate', copy, '--cache-dir', empty], { cwd });
    expect(flipped.exitCode).toBe(1);
    expect(flipped.stderr).toContain('openvino_model.bin does not match its sha256 in manifest.json');

    await rm(path.join(copy, 'openvino_tokenizer.bin'));
    const deleted = await runCli(['validate', copy, '--cache-dir', empty], { cwd });
    expect(deleted.exitCode).toBe(1);
    expect(deleted.stderr).toContain('openvino_tokenizer.bin is listed in manifest.json but missing');
    // Neither touched what dist/ holds.
    expect((await stat(path.join(artifact, 'manifest.json'))).mtimeMs).toBe(distManifest.mtimeMs);
  });

  it('phiforge validate measures again and never rebuilds or republishes; a no-op build says when and where its figures were measured', async () => {
    const { cwd, result, artifact } = await built('again');
    expect(result.exitCode, result.stderr).toBe(0);
    const [first] = await deviceResults(artifact);
    const manifestBefore = await stat(path.join(artifact, 'manifest.json'));

    const noop = await runCli(args('build', 'recipes/again.yaml', '--json'), { cwd });
    expect(noop.exitCode, noop.stderr).toBe(0);
    const measured = JSON.parse(noop.stdout).results[0].validation.measured;
    expect(measured).toEqual([{ device: 'CPU', at: first.measured_at, host: expect.any(String), reused: true }]);
    const text = await runCli(args('build', 'recipes/again.yaml'), { cwd });
    expect(text.stdout).toContain(`CPU: measured ${first.measured_at} on `);

    const validated = await runCli(['validate', 'dist/again', '--cache-dir', SHARED_CACHE], { cwd });
    expect(validated.exitCode, validated.stderr).toBe(0);
    expect(validated.stderr).not.toMatch(/› (model|export|reference):/);
    const [second] = await deviceResults(artifact);
    expect(second.measured_at).not.toBe(first.measured_at);
    expect((await stat(path.join(artifact, 'manifest.json'))).mtimeMs).toBe(manifestBefore.mtimeMs);
  });

  it('measures TTFT with a full prefill at each length of the latency sweep, and gates a named length', async () => {
    const { result, artifact } = await built('sweep', '  - device: CPU\n    gates: { ttft_ms_max: { 64: 100000, 512: 100000 } }', '  prompt_tokens: [64, 512]\n');
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/CPU: 64-token prompt: TTFT [\d.]+ ms/);
    expect(result.stdout).toMatch(/CPU: 512-token prompt: TTFT [\d.]+ ms/);
    const [cpu] = await deviceResults(artifact);
    expect(cpu.report.figures.sweep.map((point: { prompt_tokens: number; runs: number }) => [point.prompt_tokens, point.runs])).toEqual([
      [64, 2],
      [512, 2],
    ]);
    expect(cpu.report.gates.map((gate: { gate: string; prompt_tokens: number; passed: boolean }) => [gate.gate, gate.prompt_tokens, gate.passed])).toEqual([
      ['ttft_ms_max', 64, true],
      ['ttft_ms_max', 512, true],
    ]);
  });
});
