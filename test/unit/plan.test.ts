import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, workspace } from '../support/cli.js';
import { phiforge as runCli } from '../support/in-process.js';

describe('phiforge plan', () => {
  it("shows the guide's exact optimum-cli flags for the hub INT4 recipe, without running or downloading anything", async () => {
    const cwd = await workspace();
    const result = await runCli(['plan', path.join(REPO_ROOT, 'recipes', 'phi3-int4-ov.yaml')], { cwd, env: { HF_HUB_OFFLINE: '1', HF_HUB_CACHE: path.join(cwd, 'hf') } });
    expect(result.exitCode, result.stderr).toBe(0);
    // The model is linked into the step's folder as `model`, so the path optimum records is the same on every machine.
    expect(result.stdout).toMatch(
      /\$ \(cd \S+ && ln -sfn \S+\/hf\/models--microsoft--Phi-3-mini-4k-instruct\/snapshots\/0a67737cc96d2554230f90338b163bc6380a2a85 model && env HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 \S+\/bin\/optimum-cli export openvino --model model --task text-generation-with-past --weight-format int4 --group-size 128 --ratio 0\.6 --sym --trust-remote-code out\)/,
    );
    expect(result.stdout).toContain('download microsoft/Phi-3-mini-4k-instruct@0a67737cc96d2554230f90338b163bc6380a2a85');
  });

  it('shows the FP16 recipe with only --weight-format fp16', async () => {
    const cwd = await workspace();
    const result = await runCli(['plan', path.join(REPO_ROOT, 'recipes', 'phi3-fp16-ov.yaml'), '--json'], { cwd, env: { HF_HUB_OFFLINE: '1' } });
    expect(result.exitCode, result.stderr).toBe(0);
    const exportStep = JSON.parse(result.stdout).steps.find((step: { id: string }) => step.id === 'export');
    expect(exportStep.argv.slice(1)).toEqual(['export', 'openvino', '--model', 'model', '--task', 'text-generation-with-past', '--weight-format', 'fp16', '--trust-remote-code', 'out']);
    expect(exportStep.env).toEqual({ HF_HUB_OFFLINE: '1', HF_DATASETS_OFFLINE: '1' });
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
