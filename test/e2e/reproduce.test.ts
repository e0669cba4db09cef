import { cp, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { deviceResults, freshCache, REPO_ROOT, runCli, SHARED_CACHE, workspace } from '../support/cli.js';
import { withSharedExport } from '../support/shared-export.js';

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
    // Derived from one shared conversion, so that the variants' compressions are what runs side by side.
    const recipes = await Promise.all(variants.map((name) => withSharedExport(cwd, path.join(REPO_ROOT, 'recipes', 'demo', `${name}.yaml`))));
    const result = await runCli(['build', ...recipes, '--jobs', '2', '--cache-dir', cache, '--out', 'dist-jobs', '--json'], { cwd });
    expect(result.exitCode, result.stderr).toBe(0);
    const outcomes = JSON.parse(result.stdout).results;
    expect(outcomes.map((outcome: { validation: { passed: boolean } }) => outcome.validation.passed)).toEqual([true, true, true]);
    const bases = outcomes.flatMap((outcome: { steps: Array<{ id: string; key: string; reused: boolean }> }) => outcome.steps.filter((step) => step.id === 'base'));
    expect(new Set(bases.map((base: { key: string }) => base.key)).size).toBe(1);
    expect(bases.filter((base: { reused: boolean }) => !base.reused)).toHaveLength(1);
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

    // A manifest that no longer describes its files: verify says so from the folder alone, before any rebuild.
    const manifest = JSON.parse(await readFile(path.join(artifact, 'manifest.json'), 'utf8'));
    const bin = manifest.files.find((file: { path: string }) => file.path === 'openvino_model.bin');
    bin.sha256 = '0'.repeat(64);
    await writeFile(path.join(artifact, 'manifest.json'), JSON.stringify(manifest));
    const changed = await runCli(['verify', artifact, '--cache-dir', SHARED_CACHE], { cwd });
    expect(changed.exitCode).toBe(1);
    expect(changed.stderr).toContain('openvino_model.bin does not match its sha256 in manifest.json');
    // The fresh cache of each rebuild is removed afterwards.
    expect((await readdir(SHARED_CACHE)).filter((name) => name.startsWith('verify-'))).toEqual([]);
  }, TIMEOUT);

  it('verify names the tensor that differs, with the share of its elements, when one weight of the source model changed after the build', async () => {
    const cwd = await workspace();
    // The synthetic model, copied into a folder of the user's that a recipe names by path.
    const fp16 = path.join(REPO_ROOT, 'recipes', 'demo', 'phi3-tiny-fp16-ov.yaml');
    expect((await runCli(['build', fp16, '--cache-dir', SHARED_CACHE, '--no-validate'], { cwd })).exitCode).toBe(0);
    const planned = JSON.parse((await runCli(['plan', fp16, '--cache-dir', SHARED_CACHE, '--json'], { cwd })).stdout);
    await cp(planned.steps.find((step: { id: string }) => step.id === 'model').output, path.join(cwd, 'local'), { recursive: true });
    const recipe = (await readFile(fp16, 'utf8')).replace('synthetic: phi3-mini-tiny', 'path: local').replace('name: phi3-tiny-fp16-ov', 'name: tiny-fp16-local');
    await writeFile(path.join(cwd, 'local.yaml'), recipe);
    const built = await runCli(['build', 'local.yaml', '--cache-dir', SHARED_CACHE, '--no-validate'], { cwd });
    expect(built.exitCode, built.stderr).toBe(0);

    // One bf16 weight of layer 1's down projection (256 x 768) becomes 0.5.
    const weights = path.join(cwd, 'local', 'model.safetensors');
    const bytes = await readFile(weights);
    const headerLength = Number(bytes.readBigUInt64LE(0));
    const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8'));
    const tensor = header['model.layers.1.mlp.down_proj.weight'];
    expect(tensor).toMatchObject({ dtype: 'BF16', shape: [256, 768] });
    const at = 8 + headerLength + tensor.data_offsets[0] + 2 * 1000;
    const before = new Float32Array(new Uint32Array([bytes.readUInt16LE(at) << 16]).buffer)[0];
    bytes.writeUInt16LE(0x3f00, at);
    await writeFile(weights, bytes);

    const artifact = path.join(cwd, 'dist', 'tiny-fp16-local');
    const verified = await runCli(['verify', artifact, '--cache-dir', SHARED_CACHE, '--json'], { cwd });
    expect(verified.exitCode).toBe(1);
    // --json: one document, the error, which carries the report.
    const { error } = JSON.parse(verified.stdout);
    expect(error.code).toBe('VERIFY_MISMATCH');
    const { report } = error;
    expect(report.differing).toContain('openvino_model.bin');
    const weightsDifference = report.differences.find((difference: { file: string }) => difference.file === 'openvino_model.bin');
    expect(weightsDifference).toMatchObject({ kind: 'tensors', graph: 'openvino_model.xml' });
    // Exactly that tensor, and of it exactly that element.
    expect(weightsDifference.tensors.tensors).toEqual([
      expect.objectContaining({ name: expect.stringMatching(/^self\.model\.layers\.1\.mlp\.down_proj\./), elementType: 'f16', shape: [256, 768], elements: 196608, differing: 1, share: 1 / 196608, compared: 'values' }),
    ]);
    // The IR holds the weight in f16: the difference is 0.5 less the old weight, to f16's precision.
    expect(weightsDifference.tensors.tensors[0].maxAbsDifference).toBeCloseTo(Math.abs(0.5 - before), 3);
    expect(weightsDifference.tensors.identical).toBe(weightsDifference.tensors.compared - 1);
    expect(report.changedInputs).toContain('model file model.safetensors has other bytes');

    const told = await runCli(['verify', artifact, '--cache-dir', SHARED_CACHE], { cwd });
    expect(told.exitCode).toBe(1);
    expect(told.stdout).toMatch(/ {4}tensor self\.model\.layers\.1\.mlp\.down_proj\.\S+ \(f16 \[256,768\]\): 1 of 196608 elements differ \(0\.00051%\), largest \|difference\| [\d.]+; compared values/);
    expect(told.stderr).toMatch(/openvino_model\.bin differs in 1 tensor\(s\): self\.model\.layers\.1\.mlp\.down_proj\./);
  }, TIMEOUT);
});
