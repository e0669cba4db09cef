import { copyFile, readFile, stat, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { deviceResults, REPO_ROOT, runCli, SHARED_CACHE, toolchainPython, workspace } from '../support/cli.js';

// The ONNX Runtime GenAI backend with the real model builder and runtime, on the local presets.

const TIMEOUT = 1_800_000;
const demo = (name: string) => path.join(REPO_ROOT, 'recipes', 'demo', name);
const args = (...rest: string[]) => [...rest, '--cache-dir', SHARED_CACHE, '--out', 'dist'];

describe('ort-genai pipeline', () => {
  it('builds and validates both CPU demos; the real-weights one reports agreement beside the OpenVINO figures', async () => {
    const cwd = await workspace();
    const result = await runCli(args('build', demo('phi3-tiny-int4-ort-cpu.yaml'), demo('phi3-smollm2-int4-ort-cpu.yaml'), demo('phi3-smollm2-int4-ov.yaml')), { cwd });
    expect(result.exitCode, result.stderr).toBe(0);
    for (const name of ['phi3-tiny-int4-ort-cpu', 'phi3-smollm2-int4-ort-cpu']) {
      const manifest = JSON.parse(await readFile(path.join(cwd, 'dist', name, 'manifest.json'), 'utf8'));
      expect(manifest.files.map((file: { path: string }) => file.path)).toEqual(expect.arrayContaining(['model.onnx', 'model.onnx.data', 'genai_config.json', 'tokenizer.json']));
      const build = manifest.steps.find((step: { id: string }) => step.id === 'build');
      // One --extra_options carrying every builder option.
      expect(build.command.match(/--extra_options/g)).toHaveLength(1);
    }
    const [ort] = await deviceResults(path.join(cwd, 'dist', 'phi3-smollm2-int4-ort-cpu'));
    expect(ort.runtime.toolchain).toBe('ort-genai-runtime');
    expect(ort.report).toMatchObject({ device: 'cpu', status: 'passed' });
    expect(ort.report.agreement.similarity_mean).toBeGreaterThan(0.6);
    expect(ort.report.prompts.find((prompt: { id: string }) => prompt.id === 'capital').text).toContain('Paris');
    expect(result.stdout).toMatch(/side by side:\n(.*\n)*phi3-smollm2-int4-ort-cpu\s+ort-genai\s+cpu .*\nphi3-smollm2-int4-ov\s+openvino\s+CPU /);
    // Both backends' perplexity is divided by the same source-model figure, so their ratios compare.
    const [openvino] = await deviceResults(path.join(cwd, 'dist', 'phi3-smollm2-int4-ov'));
    expect(ort.report.perplexity.reference).toBe(openvino.report.perplexity.reference);
    expect(ort.report.perplexity.ratio).toBeGreaterThan(1);
  }, TIMEOUT);

  it('refuses fp16 for the cpu provider before anything runs, with the supported pairs', async () => {
    const recipe = (await readFile(demo('phi3-tiny-int4-ort-cpu.yaml'), 'utf8')).replace('weight_format: int4', 'weight_format: fp16').replace('  sym: true\n', '');
    const bad = await workspace({ 'fp16-cpu.yaml': recipe });
    const result = await runCli(['build', 'fp16-cpu.yaml', '--cache-dir', path.join(bad, 'cache')], { cwd: bad });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/fp16-cpu\.yaml:\d+:\d+ quantization\.weight_format: the model builder cannot make fp16 for the cpu execution provider/);
    expect(result.stderr).toContain('fp16 is built for: cuda, dml');
  });

  it('detects a truncated model.onnx.data in a fresh output and in a cached one', async () => {
    const cwd = await workspace();
    // The builder's output, made first if this run has not made it yet.
    const first = await runCli(args('build', demo('phi3-tiny-int4-ort-cpu.yaml'), '--no-validate'), { cwd });
    expect(first.exitCode, first.stderr).toBe(0);
    const plan = JSON.parse((await runCli(['plan', demo('phi3-tiny-int4-ort-cpu.yaml'), '--cache-dir', SHARED_CACHE, '--json'], { cwd })).stdout);
    const built = plan.steps.find((step: { id: string }) => step.id === 'build').output;

    // What the build step runs on the builder's output, here on a copy cut short.
    const python = await toolchainPython('ort-genai');
    const copy = path.join(cwd, 'cut');
    await execa('cp', ['-r', built, copy]);
    await truncate(path.join(copy, 'model.onnx.data'), Math.floor((await stat(path.join(copy, 'model.onnx.data'))).size / 2));
    await writeFile(path.join(cwd, 'check.json'), JSON.stringify({ model_dir: copy }));
    await execa(python, [path.join(REPO_ROOT, 'toolchains', 'ort-genai', 'scripts', 'check_onnx_data.py'), '--request', path.join(cwd, 'check.json'), '--result', path.join(cwd, 'checked.json')], {
      env: { PYTHONPATH: path.join(REPO_ROOT, 'toolchains', 'common', 'scripts') },
    });
    const { problems } = JSON.parse(await readFile(path.join(cwd, 'checked.json'), 'utf8'));
    expect(problems.join('\n')).toMatch(/beyond the end of model\.onnx\.data/);

    // The cached entry cut short: the next build notices and rebuilds instead of serving it.
    await copyFile(path.join(copy, 'model.onnx.data'), path.join(built, 'model.onnx.data'));
    const result = await runCli(args('build', demo('phi3-tiny-int4-ort-cpu.yaml'), '--json'), { cwd });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stderr).toContain('discarding the cached output of build: model.onnx.data is missing or has a different size; rebuilding');
    expect(JSON.parse(result.stdout).results[0].steps.find((step: { id: string }) => step.id === 'build').reused).toBe(false);
  }, TIMEOUT);
});
