import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, workspace } from '../support/cli.js';
import { phiforge as runCli } from '../support/in-process.js';

describe('phiforge plan', () => {
  it("shows the guide's exact optimum-cli flags for the hub INT4 recipe, without running or downloading anything", async () => {
    const cwd = await workspace();
    const result = await runCli(['plan', path.join(REPO_ROOT, 'recipes', 'phi3-int4-ov.yaml')], { cwd, env: { HF_HUB_OFFLINE: '1', HF_HUB_CACHE: path.join(cwd, 'hf'), GLIBC_TUNABLES: undefined } });
    expect(result.exitCode, result.stderr).toBe(0);
    // The model is linked into the step's folder as `model`, so the path optimum records is the same on every machine.
    expect(result.stdout).toMatch(
      /\$ \(cd \S+ && ln -sfn \S+\/hf\/models--microsoft--Phi-3-mini-4k-instruct\/snapshots\/0a67737cc96d2554230f90338b163bc6380a2a85 model && env HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TMPDIR=\S+\/scratch GLIBC_TUNABLES=glibc\.malloc\.hugetlb=1 \S+\/bin\/optimum-cli export openvino --model model --task text-generation-with-past --weight-format int4 --group-size 128 --ratio 0\.6 --sym --trust-remote-code out\)/,
    );
    expect(result.stdout).toContain('download microsoft/Phi-3-mini-4k-instruct@0a67737cc96d2554230f90338b163bc6380a2a85');
  });

  it('shows the FP16 recipe with only --weight-format fp16', async () => {
    const cwd = await workspace();
    const result = await runCli(['plan', path.join(REPO_ROOT, 'recipes', 'phi3-fp16-ov.yaml'), '--json'], { cwd, env: { HF_HUB_OFFLINE: '1', GLIBC_TUNABLES: undefined } });
    expect(result.exitCode, result.stderr).toBe(0);
    const exportStep = JSON.parse(result.stdout).steps.find((step: { id: string }) => step.id === 'export');
    expect(exportStep.argv.slice(1)).toEqual(['export', 'openvino', '--model', 'model', '--task', 'text-generation-with-past', '--weight-format', 'fp16', '--trust-remote-code', 'out']);
    // Temporary files go into the step's own folder (on the cache's disk; a final move is a rename).
    expect(exportStep.env).toEqual({ HF_HUB_OFFLINE: '1', HF_DATASETS_OFFLINE: '1', TMPDIR: path.join(path.dirname(path.dirname(exportStep.output)), 'tmp', path.basename(path.dirname(exportStep.output)), 'scratch'), GLIBC_TUNABLES: 'glibc.malloc.hugetlb=1' });
  });

  it("asks glibc for huge pages in converters, keeping the user's own GLIBC_TUNABLES and their hugetlb choice", async () => {
    const cwd = await workspace();
    const exportEnv = async (tunables: string | undefined) => {
      const result = await runCli(['plan', path.join(REPO_ROOT, 'recipes', 'phi3-fp16-ov.yaml'), '--json'], { cwd, env: { HF_HUB_OFFLINE: '1', GLIBC_TUNABLES: tunables } });
      expect(result.exitCode, result.stderr).toBe(0);
      return JSON.parse(result.stdout).steps.find((step: { id: string }) => step.id === 'export').env;
    };
    expect((await exportEnv(undefined)).GLIBC_TUNABLES).toBe('glibc.malloc.hugetlb=1');
    expect((await exportEnv('glibc.malloc.arena_max=2')).GLIBC_TUNABLES).toBe('glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1');
    // Theirs is inherited as it is: the step adds nothing.
    expect(await exportEnv('glibc.malloc.arena_max=2:glibc.malloc.hugetlb=0')).not.toHaveProperty('GLIBC_TUNABLES');
  });

  it('gives the same keys for the same recipe and different keys when the quantization changes', async () => {
    const cwd = await workspace();
    const plan = async (file: string) => JSON.parse((await runCli(['plan', path.join(REPO_ROOT, 'recipes', file), '--json'], { cwd, env: { HF_HUB_OFFLINE: '1' } })).stdout);
    const [int4, int4Again, fp16] = await Promise.all([plan('phi3-int4-ov.yaml'), plan('phi3-int4-ov.yaml'), plan('phi3-fp16-ov.yaml')]);
    expect(int4.steps.map((step: { key: string }) => step.key)).toEqual(int4Again.steps.map((step: { key: string }) => step.key));
    const keyOf = (plan: { steps: Array<{ id: string; key: string }> }, id: string) => plan.steps.find((step) => step.id === id)!.key;
    expect(keyOf(int4, 'model')).toBe(keyOf(fp16, 'model'));
    expect(keyOf(int4, 'export')).not.toBe(keyOf(fp16, 'export'));
  });
});

describe('phiforge plan, data-aware INT4', () => {
  const recipe = (name: string, extra: string) =>
    `name: ${name}\nmodel:\n  synthetic: phi3-mini-tiny\npipeline: openvino\nquantization:\n  weight_format: int4\n  group_size: 64\n  ratio: 0.6\n  sym: true\n${extra}targets:\n  - device: CPU\n`;

  it('shares one statistics step between variants calibrated on the same samples, and names the samples in the equivalent command', async () => {
    const cwd = await workspace({
      'one.txt': 'First paragraph, about bread.\n\nSecond paragraph,\nabout bees.\n\n\nThird paragraph, about trains.\n',
      'swapped.txt': 'Second paragraph,\nabout bees.\n\nFirst paragraph, about bread.\n\nThird paragraph, about trains.\n',
      'awq.yaml': recipe('awq', '  awq: true\n  calibration: { file: one.txt, num_samples: 2 }\n'),
      'gptq.yaml': recipe('gptq', '  gptq: true\n  scale_estimation: true\n  calibration: { file: one.txt, num_samples: 2 }\n'),
      'swapped.yaml': recipe('swapped', '  awq: true\n  calibration: { file: swapped.txt, num_samples: 2 }\n'),
      'free.yaml': recipe('free', ''),
    });
    const plan = async (file: string) => JSON.parse((await runCli(['plan', file, '--json', '--cache-dir', path.join(cwd, 'cache')], { cwd })).stdout) as { steps: Array<{ id: string; key: string; summary: string; argv?: string[] }> };
    const step = (planned: Awaited<ReturnType<typeof plan>>, id: string) => planned.steps.find((each) => each.id === id)!;
    const [awq, gptq, swapped, free] = await Promise.all(['awq.yaml', 'gptq.yaml', 'swapped.yaml', 'free.yaml'].map(plan));
    expect(step(awq, 'calibration').key).toBe(step(gptq, 'calibration').key);
    expect(step(awq, 'export').key).not.toBe(step(gptq, 'export').key);
    // The samples are taken in file order: the same paragraphs in another order are other statistics.
    expect(step(swapped, 'calibration').key).not.toBe(step(awq, 'calibration').key);
    expect(step(gptq, 'calibration').summary).toContain('on 2 samples of the one.txt text');
    expect(step(gptq, 'export').summary).toContain('--weight-format int4 --group-size 64 --ratio 0.6 --sym --scale-estimation --gptq --dataset <calibration texts> --num-samples 2 --quantization-statistics-path <statistics> <out>');
    // A data-aware variant is derived from the shared conversion; a data-free one without export: shared is one optimum-cli pass.
    expect(step(awq, 'base').summary).toContain('data-aware compression calibrates the shared conversion');
    expect(step(free, 'calibration').summary).toBe('no calibration: the compression is data-free');
    expect(step(free, 'export').argv!.slice(1, 3)).toEqual(['export', 'openvino']);
  });
});
