import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { deviceResults, freshCache, REPO_ROOT, runCli, SHARED_CACHE, workspace } from '../support/cli.js';

// Concurrency of the step cache and bit-for-bit rebuilds, with the real converters.

const TIMEOUT = 1_800_000;
const DEMO = path.join(REPO_ROOT, 'recipes', 'demo', 'phi3-tiny-int4-ov.yaml');


describe('step cache under concurrency, and phiforge verify', () => {
  beforeAll(async () => {
    // Make sure the venvs exist before four builds race for them.
    expect((await runCli(['toolchain', 'install', '--cache-dir', SHARED_CACHE], { cwd: await workspace() })).exitCode).toBe(0);
  }, TIMEOUT);

  it('build --jobs 2 exports three variants side by side, converts once, and validates only after every export', async () => {
    const cwd = await workspace();
    const cache = await freshCache(path.join(cwd, 'jobs'));
    const variants = ['phi3-tiny-int4-ov', 'phi3-tiny-fp16-ov', 'phi3-tiny-int4-cw-ov'];
    const recipes = variants.map((name) => path.join(REPO_ROOT, 'recipes', 'demo', `${name}.yaml`));
    const result = await runCli(['build', ...recipes, '--jobs', '2', '--cache-dir', cache, '--out', 'dist-jobs', '--json'], { cwd });
    expect(result.exitCode, result.stderr).toBe(0);
    const outcomes = JSON.parse(result.stdout).results;
    expect(outcomes.map((outcome: { validation: { passed: boolean } }) => outcome.validation.passed)).toEqual([true, true, true]);
    const bases = outcomes.flatMap((outcome: { steps: Array<{ id: string; key: string }> }) => outcome.steps.filter((step) => step.id === 'base').map((step) => step.key));
    expect(new Set(bases).size).toBe(1);
    for (const name of variants) expect((await deviceResults(path.join(cwd, 'dist-jobs', name)))[0].report.status).toBe('passed');
    // Latency is never measured while another recipe is still exporting.
    const lines = result.stderr.split('\n');
    const lastExport = lines.findLastIndex((line) => /✔ \S+ › export:/.test(line) && !line.endsWith('(cached)'));
    const firstRun = lines.findIndex((line) => /^running \S+ on CPU with OpenVINO GenAI/.test(line));
    expect(lastExport).toBeGreaterThan(-1);
    expect(firstRun).toBeGreaterThan(lastExport);
  }, TIMEOUT);

  it('4 concurrent builds of one recipe into one cache: one export, four successes, identical artifacts', async () => {
    const cwd = await workspace();
    const cache = await freshCache(cwd);
    const results = await Promise.all([0, 1, 2, 3].map((index) => runCli(['build', DEMO, '--cache-dir', cache, '--out', `dist-${index}`, '--json'], { cwd })));
    for (const result of results) expect(result.exitCode, result.stderr).toBe(0);
    const exportRuns = results.map((result) => JSON.parse(result.stdout).results[0].steps.find((step: { id: string }) => step.id === 'export'));
    expect(exportRuns.filter((step) => !step.reused)).toHaveLength(1);
    expect(new Set(exportRuns.map((step) => step.key)).size).toBe(1);
    const digests = await Promise.all([0, 1, 2, 3].map(async (index) => JSON.stringify(JSON.parse(await readFile(path.join(cwd, `dist-${index}`, 'phi3-tiny-int4-ov', 'manifest.json'), 'utf8')).files)));
    expect(new Set(digests).size).toBe(1);
  }, TIMEOUT);

  it('verify rebuilds the demo from its manifest in a fresh cache with identical digests, and names a file that changed', async () => {
    const cwd = await workspace();
    expect((await runCli(['build', DEMO, '--cache-dir', SHARED_CACHE, '--out', 'dist-0', '--no-validate'], { cwd })).exitCode).toBe(0);
    const artifact = path.join(cwd, 'dist-0', 'phi3-tiny-int4-ov');
    const same = await runCli(['verify', artifact, '--cache-dir', SHARED_CACHE, '--json'], { cwd });
    expect(same.exitCode, same.stderr).toBe(0);
    const report = JSON.parse(same.stdout);
    expect(report).toMatchObject({ identical: true, differing: [], missing: [], extra: [] });
    expect(report.identicalFiles).toContain('openvino_model.bin');

    // A published artifact whose recorded bytes differ from what its inputs produce.
    const manifest = JSON.parse(await readFile(path.join(artifact, 'manifest.json'), 'utf8'));
    const bin = manifest.files.find((file: { path: string }) => file.path === 'openvino_model.bin');
    bin.sha256 = '0'.repeat(64);
    await writeFile(path.join(artifact, 'manifest.json'), JSON.stringify(manifest));
    const changed = await runCli(['verify', artifact, '--cache-dir', SHARED_CACHE], { cwd });
    expect(changed.exitCode).toBe(1);
    expect(changed.stdout).toContain('differs: openvino_model.bin');
    expect(changed.stderr).toContain('was not reproduced bit for bit');
    // The fresh cache of each rebuild is removed afterwards.
    expect((await readdir(SHARED_CACHE)).filter((name) => name.startsWith('verify-'))).toEqual([]);
  }, TIMEOUT);
});
