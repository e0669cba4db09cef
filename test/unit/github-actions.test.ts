import { readFile, writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { renderOutcomes } from '../../src/cli/commands/outcomes.js';
import type { Context } from '../../src/context.js';
import { GateFailedError } from '../../src/errors.js';
import { annotation, fitSummary } from '../../src/report/github.js';
import { combineReports } from '../../src/validate/evaluate.js';
import { handMadeArtifact } from '../support/artifact-folder.js';
import { workspace } from '../support/cli.js';
import { phiforge } from '../support/in-process.js';
import { TINY_INT4 } from '../support/recipes.js';

// phiforge inside GitHub Actions (GITHUB_ACTIONS=true): annotations at the recipe line of a failing
// gate or bad input, tables in the step summary; and none of it anywhere else.

const ACTIONS_VARIABLES = ['GITHUB_ACTIONS', 'GITHUB_STEP_SUMMARY', 'GITHUB_WORKSPACE', 'GITHUB_OUTPUT'] as const;
const saved = Object.fromEntries(ACTIONS_VARIABLES.map((name) => [name, process.env[name]]));
afterEach(() => {
  for (const name of ACTIONS_VARIABLES) {
    if (saved[name] === undefined) delete process.env[name];
    else process.env[name] = saved[name];
  }
});

function capture(): { context: Context; said: string[]; printed: string[] } {
  const said: string[] = [];
  const printed: string[] = [];
  const context: Context = { cacheRoot: '/nonexistent', outRoot: '/nonexistent', verbose: false, json: false, emulateNpu: false, python: 'python3', say: (line) => said.push(line), print: (text) => printed.push(text) };
  return { context, said, printed };
}

/** The recipe of the hand-made artifact, with a gate the artifact fails (its CPU TTFT is 40 ms). */
const GATED_RECIPE = `name: tiny-int4-ov
model:
  synthetic: phi3-mini-tiny
pipeline: openvino
quantization:
  weight_format: int4
  group_size: 64
  ratio: 0.6
  sym: true
targets:
  - device: CPU
    gates:
      similarity_min: 0.5
      ttft_ms_max: 10
`;

async function failedValidation() {
  const artifact = await handMadeArtifact({ results: [{ device: 'CPU', status: 'failed' }] });
  const root = path.resolve(artifact.dir, '..', '..');
  const recipe = path.join(root, 'recipes', 'tiny-int4-ov.yaml');
  await mkdir(path.dirname(recipe), { recursive: true });
  await writeFile(recipe, GATED_RECIPE);
  const report = combineReports(artifact.manifest.name, 'openvino', artifact.results.map((result) => result.report), [{ device: 'CPU', at: artifact.results[0].measured_at, host: 'box0', reused: false }]);
  return { root, recipe, outcome: { recipe, ok: false, artifact: artifact.dir, validation: report } };
}

describe('in GitHub Actions', () => {
  it("a build whose gate fails writes its row to the step summary and annotates the gate's line in the recipe", async () => {
    const { root, outcome } = await failedValidation();
    process.env.GITHUB_ACTIONS = 'true';
    process.env.GITHUB_WORKSPACE = root;
    process.env.GITHUB_STEP_SUMMARY = path.join(root, 'summary.md');
    const { context, said } = capture();
    await expect(renderOutcomes(context, [outcome], undefined)).rejects.toBeInstanceOf(GateFailedError);
    const gateLine = GATED_RECIPE.split('\n').findIndex((line) => line.includes('ttft_ms_max')) + 1;
    expect(said).toContain(`::error file=recipes/tiny-int4-ov.yaml,line=${gateLine},col=20,title=targets[0].gates.ttft_ms_max::tiny-int4-ov: CPU: gate ttft_ms_max: measured 40 ms, limit <= 10 ms`);
    expect(said.filter((line) => line.startsWith('::error'))).toHaveLength(1);
    const summary = await readFile(path.join(root, 'summary.md'), 'utf8');
    expect(summary).toContain('### ❌ tiny-int4-ov');
    expect(summary).toMatch(/\| tiny-int4-ov \| openvino \| int4 sym g64 r0\.6 \| – \| [\d.]+ MiB \| CPU \| failed \| 0\.950 \| 16 \| – \| 40 \| 12 \| 80 \| 300 \| 120 \| ttft_ms_max \|/);
    expect(summary).toContain('- CPU: gate ttft_ms_max: measured 40 ms, limit <= 10 ms');
  });

  it('outside Actions, the same build writes no summary and prints no annotation', async () => {
    const { root, outcome } = await failedValidation();
    delete process.env.GITHUB_ACTIONS;
    process.env.GITHUB_STEP_SUMMARY = path.join(root, 'summary.md');
    const { context, said } = capture();
    await expect(renderOutcomes(context, [outcome], undefined)).rejects.toBeInstanceOf(GateFailedError);
    expect(said.join('\n')).not.toContain('::');
    await expect(readFile(path.join(root, 'summary.md'), 'utf8')).rejects.toThrow(/ENOENT/);
  });

  it('a bad input is annotated at its file and line; outside Actions only the plain error is printed', async () => {
    const cwd = await workspace({ 'recipe.yaml': `name: tiny\n${TINY_INT4.replace('ratio: 0.6', 'ratio: 1.6')}` });
    const inActions = await phiforge(['build', 'recipe.yaml', '--cache-dir', path.join(cwd, 'cache')], { cwd, env: { GITHUB_ACTIONS: 'true', GITHUB_WORKSPACE: cwd } });
    expect(inActions.exitCode).toBe(2);
    expect(inActions.stderr).toMatch(/^::error file=recipe\.yaml,line=8,col=10,title=quantization\.ratio::.*\(.+\)$/m);
    expect(inActions.stderr).toMatch(/^error: recipe\.yaml:8:10 quantization\.ratio: /m);
    const elsewhere = await phiforge(['build', 'recipe.yaml', '--cache-dir', path.join(cwd, 'cache')], { cwd, env: { GITHUB_ACTIONS: undefined } });
    expect(elsewhere.exitCode).toBe(2);
    expect(elsewhere.stderr).not.toContain('::error');
    expect(elsewhere.stderr).toMatch(/^error: recipe\.yaml:8:10 quantization\.ratio: /m);
  });

  it('phiforge report writes its table to the step summary', async () => {
    const artifact = await handMadeArtifact({ results: [{ device: 'CPU', status: 'passed' }] });
    const summary = path.join(path.dirname(artifact.dir), 'summary.md');
    const result = await phiforge(['report', artifact.dir, '--html', path.join(path.dirname(artifact.dir), 'r.html')], { cwd: path.dirname(artifact.dir), env: { GITHUB_ACTIONS: 'true', GITHUB_STEP_SUMMARY: summary } });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(await readFile(summary, 'utf8')).toBe(result.stdout);
  });

  it('escapes workflow command data and properties, and cuts a summary to fit 1 MiB', () => {
    expect(annotation('error', '50% done\nnext', { file: 'a,b.yaml', line: 3, title: 'x: y' })).toBe('::error file=a%2Cb.yaml,line=3,title=x%3A y::50%25 done%0Anext');
    expect(annotation('warning', 'plain')).toBe('::warning::plain');
    const big = `${'| row |\n'.repeat(200_000)}`;
    const cut = fitSummary(big, 1024 * 1024);
    expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(1024 * 1024);
    expect(cut).toContain('cut: a step summary holds at most 1 MiB');
    expect(fitSummary('small', 100)).toBe('small');
  });
});

describe('phiforge ci publishable', () => {
  const CONFIG = 'publish: { enabled: true, owner: test-org, prefix: pf- }\n';

  it('publishes an artifact only when every device class of its recipe passed on these files', async () => {
    const both = await handMadeArtifact({ name: 'both', targets: ['CPU', 'GPU'], results: [{ device: 'CPU', status: 'passed' }, { device: 'GPU', status: 'passed' }] });
    const cpuOnly = await handMadeArtifact({ name: 'cpu-only', targets: ['CPU', 'GPU'], results: [{ device: 'CPU', status: 'passed' }] });
    const failed = await handMadeArtifact({ name: 'failed', targets: ['CPU'], results: [{ device: 'CPU', status: 'failed' }] });
    const stale = await handMadeArtifact({ name: 'stale', targets: ['CPU'], results: [{ device: 'CPU', status: 'passed', otherBytes: true }] });
    const cwd = await workspace({ 'ci.yaml': CONFIG });
    const output = path.join(cwd, 'output');
    const result = await phiforge(['ci', 'publishable', both.dir, cpuOnly.dir, failed.dir, stale.dir, '--config', 'ci.yaml'], { cwd, env: { GITHUB_OUTPUT: output } });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ include: [{ artifact: 'both', repo: 'test-org/pf-both' }] });
    expect(result.stderr).toContain('cpu-only: not published: gpu: no passing result of these files in validation/');
    expect(result.stderr).toContain('failed: not published: cpu: CPU on box0 failed (CPU: gate ttft_ms_max: measured 40 ms, limit <= 10 ms)');
    expect(result.stderr).toContain('stale: not published: cpu: no passing result');
    expect(await readFile(output, 'utf8')).toBe(`publish=${JSON.stringify({ include: [{ artifact: 'both', repo: 'test-org/pf-both' }] })}\npublish_count=1\n`);
  });

  it('holds back an NPU artifact whose only pass compiled the IR in place of its shipped blob, and says why', async () => {
    const npu = await handMadeArtifact({ name: 'npu', targets: ['NPU'], results: [{ device: 'NPU', status: 'passed', blobNotUsed: true }] });
    const cwd = await workspace({ 'ci.yaml': CONFIG });
    const result = await phiforge(['ci', 'publishable', npu.dir, '--config', 'ci.yaml'], { cwd });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ include: [] });
    expect(result.stderr).toContain('npu: not published: npu: passed only without the shipped NPU blob');
  });

  it('is refused while publishing is not enabled', async () => {
    const artifact = await handMadeArtifact();
    const cwd = await workspace();
    const result = await phiforge(['ci', 'publishable', artifact.dir], { cwd });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain('publishing is not enabled in the CI configuration');
  });
});
