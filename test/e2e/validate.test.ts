import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli, SHARED_CACHE, workspace } from '../support/cli.js';
import { TINY_INT4 } from '../support/recipes.js';

// Validation with the real OpenVINO GenAI runner and the real reference model, on the tiny demo
// model (its export is shared with the build tests through the cache).

const TIMEOUT = 900_000;

const recipe = (name: string, targets: string) => `name: ${name}
${TINY_INT4}targets:
${targets}
validate:
  max_new_tokens: 12
  repetitions: 2
  prompts:
    - id: intro
      messages: [{ role: user, content: Can you introduce yourself? }]
      expect: { not_empty: true, min_new_tokens: 1 }
`;

const args = (...rest: string[]) => [...rest, '--cache-dir', SHARED_CACHE, '--out', 'dist'];

describe('validation of OpenVINO artifacts', () => {
  let cwd: string;
  beforeAll(async () => {
    cwd = await workspace({
      'recipes/tight.yaml': recipe('tight', '  - device: CPU\n    gates: { ttft_ms_max: 0.0001, similarity_min: 0.0 }\n  - device: GPU'),
      'recipes/gpu-only.yaml': recipe('gpu-only', '  - device: GPU'),
      'recipes/cpu.yaml': recipe('cpu', '  - device: CPU\n    runtime: { PERFORMANCE_HINT: LATENCY, NUM_STREAMS: 1 }'),
    });
  }, TIMEOUT);

  it('fails the build with exit 1 on an impossibly tight gate, naming gate, value and limit, and the JUnit file shows it', async () => {
    const result = await runCli(args('build', 'recipes/tight.yaml', '--junit', 'reports/junit.xml'), { cwd });
    expect(result.exitCode, result.stderr).toBe(1);
    expect(result.stderr).toMatch(/tight: CPU: gate ttft_ms_max: measured [\d.]+ ms, limit <= 0\.0001 ms/);
    expect(result.stdout).toContain('GPU     skipped: device GPU not present (available: CPU)');
    const junit = await readFile(path.join(cwd, 'reports', 'junit.xml'), 'utf8');
    expect(junit).toMatch(/<testcase name="gate ttft_ms_max" classname="tight\.CPU">\s*<failure message="measured [\d.]+ ms, limit &lt;= 0\.0001 ms"/);
    expect(junit).toMatch(/<testcase name="gate similarity_min" classname="tight\.CPU"(\/>|>\s*<\/testcase>)/);
    expect(junit).toMatch(/<testcase name="GPU device" classname="tight\.GPU">\s*<skipped message="device GPU not present \(available: CPU\)"/);
    // The artifact is still published, with its verdict, for whoever needs to look at the figures.
    const manifest = JSON.parse(await readFile(path.join(cwd, 'dist', 'tight', 'manifest.json'), 'utf8'));
    expect(manifest.validation.passed).toBe(false);
  }, TIMEOUT);

  it('skips an absent device with its reason and exits 0; --require-device makes it a failure', async () => {
    const skipped = await runCli(args('build', 'recipes/gpu-only.yaml'), { cwd });
    expect(skipped.exitCode, skipped.stderr).toBe(0);
    expect(skipped.stdout).toContain('skipped: device GPU not present (available: CPU)');

    const required = await runCli(args('build', 'recipes/gpu-only.yaml', '--require-device'), { cwd });
    expect(required.exitCode).toBe(1);
    expect(required.stderr).toContain('GPU: device GPU not present (available: CPU) and --require-device is set');
  }, TIMEOUT);

  it('reports medians and GenAI-pooled means of the runner\'s own perf_metrics, reference agreement and answers in validation.json', async () => {
    const result = await runCli(args('build', 'recipes/cpu.yaml', '--json'), { cwd });
    expect(result.exitCode, result.stderr).toBe(0);
    const validation = JSON.parse(await readFile(path.join(cwd, 'dist', 'cpu', 'validation.json'), 'utf8'));
    const [cpu] = validation.targets;
    expect(cpu).toMatchObject({ device: 'CPU', status: 'passed', emulated: false });
    expect(cpu.figures.runs).toBe(2);
    expect(cpu.prompts[0].new_tokens).toBeGreaterThan(0);
    expect(cpu.prompts[0].reference.reference_tokens).toBeGreaterThan(0);
    expect(cpu.agreement.similarity_mean).toBeGreaterThan(-1);
    expect(cpu.agreement.similarity_mean).toBeLessThanOrEqual(1);

    const runsStep = JSON.parse(result.stdout).results[0].steps.find((step: { id: string }) => step.id === 'validate');
    const runs = JSON.parse(await readFile(path.join(SHARED_CACHE, 'steps', runsStep.key, 'out', 'runs.json'), 'utf8'));
    const ttfts = runs.targets[0].prompts[0].runs.map((run: { ttft_ms: number }) => run.ttft_ms).sort((a: number, b: number) => a - b);
    expect(cpu.figures.ttft_ms.median).toBeCloseTo((ttfts[0] + ttfts[1]) / 2, 6);

    // The means phiforge pools from the raw samples are the ones GenAI's own PerfMetrics addition gives.
    const genai = runs.targets[0].genai_aggregate;
    const relative = (ours: number, theirs: number) => Math.abs(ours / theirs - 1);
    expect(relative(cpu.figures.ttft_ms.mean, genai.ttft_ms)).toBeLessThan(1e-4);
    expect(relative(cpu.figures.tpot_ms.mean, genai.tpot_ms)).toBeLessThan(1e-4);
    expect(relative(cpu.figures.tokens_per_s.mean, genai.tokens_per_s)).toBeLessThan(1e-4);
  }, TIMEOUT);

  it('phiforge validate dist/<name> measures again instead of reusing cached figures', async () => {
    const result = await runCli(args('validate', 'dist/cpu', '--json'), { cwd });
    expect(result.exitCode, result.stderr).toBe(0);
    const steps = JSON.parse(result.stdout).results[0].steps;
    const reused = Object.fromEntries(steps.map((step: { id: string; reused: boolean }) => [step.id, step.reused]));
    // Only the measurement runs again; similarity scores are reused when the (greedy) answers did not change.
    expect(reused).toMatchObject({ export: true, reference: true, validate: false });
    expect(reused).toHaveProperty('similarity');
    expect(existsSync(path.join(cwd, 'dist', 'cpu', 'validation.json'))).toBe(true);
  }, TIMEOUT);
});
