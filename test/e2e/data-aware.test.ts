import { cp, mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { deviceResults, freshCache, runCli, SHARED_CACHE, workspace } from '../support/cli.js';

// Data-aware INT4 with the real optimum-intel and NNCF on the tiny synthetic Phi-3 (meaning is not
// needed here; bench/quality.mjs measures what it wins on real weights): the IR records the
// algorithms that ran, the manifest counts the weights by precision and the int4_share_min gate reads
// it, and a rebuild of the statistics and the compression in another cache gives the same bytes.
// (That variants share the statistics step is shown by test/unit/plan.test.ts without running it.)

const TIMEOUT = 900_000;

// Paragraphs of the recipe's own calibration file, in order; eight of them keep the test quick.
const CALIBRATION = Array.from({ length: 10 }, (_, index) => `Sample ${index + 1}. The committee met on a ${['Monday', 'Tuesday', 'Wednesday'][index % 3]} to discuss the budget, the new office and the plan for the coming year; it agreed to meet again in ${index + 2} weeks.`).join('\n\n');

const recipe = (name: string, extra: string, gates = '') => `name: ${name}
model:
  synthetic: phi3-mini-tiny
pipeline: openvino
quantization:
  weight_format: int4
  group_size: 64
  ratio: 0.6
  sym: true
${extra}  calibration: { file: calibration.txt, num_samples: 8 }
targets:
  - device: CPU${gates}
`;

interface Step {
  id: string;
  key: string;
  reused: boolean;
  facts?: Record<string, any>;
}

describe('data-aware INT4', () => {
  it('records what ran and the 4-bit share, gates the share, and rebuilds the statistics and the compression bit for bit', async () => {
    const cwd = await workspace({
      'calibration.txt': CALIBRATION,
      'awq-se.yaml': recipe('tiny-awq-se', '  awq: true\n  scale_estimation: true\n', '\n    gates: { int4_share_min: 0.9 }'),
    });

    const plan = await runCli(['plan', 'awq-se.yaml', '--cache-dir', SHARED_CACHE], { cwd });
    expect(plan.exitCode, plan.stderr).toBe(0);
    expect(plan.stdout).toContain('collect NNCF\'s calibration statistics of the shared IR on 8 samples of the calibration.txt text');
    expect(plan.stdout).toContain('--weight-format int4 --group-size 64 --ratio 0.6 --sym --awq --scale-estimation --dataset <calibration texts> --num-samples 8 --quantization-statistics-path <statistics>');

    const build = await runCli(['build', 'awq-se.yaml', '--cache-dir', SHARED_CACHE, '--out', 'dist', '--json'], { cwd });
    // The share gate of awq-se asks for more 4-bit weights than NNCF gives a 2-layer model: exit 1, and why.
    expect(build.exitCode, build.stderr).toBe(1);
    expect(build.stderr).toMatch(/CPU: gate int4_share_min: measured 0\.\d+, limit >= 0\.9/);
    const failed = JSON.parse(build.stdout).error;
    expect(failed.code).toBe('GATE_FAILED');
    const results = failed.results.results as Array<{ artifact: string; steps: Step[] }>;
    const step = (name: string, id: string) => results.find((result) => path.basename(result.artifact) === name)!.steps.find((each) => each.id === id)!;

    const manifest = JSON.parse(await readFile(path.join(cwd, 'dist', 'tiny-awq-se', 'manifest.json'), 'utf8'));
    const exported = manifest.steps.find((each: Step) => each.id === 'export');
    expect(exported.facts.weight_compression).toEqual({ mode: 'int4_sym', group_size: 64, ratio: 0.6, backup_mode: 'int8_asym', awq: true, scale_estimation: true });
    expect(exported.facts.calibration).toMatchObject({ source: 'calibration.txt', samples: 8 });
    // Every weight matrix of the tiny model (embedding 1152 x 256, lm_head, 2 decoder layers) is counted once.
    const { four_bit, eight_bit, other, int4_share } = manifest.weights;
    expect(four_bit + eight_bit + other).toBe(2_162_688);
    expect(other).toBe(0);
    expect(int4_share).toBeCloseTo(four_bit / 2_162_688, 12);
    expect(int4_share).toBeLessThan(0.6);
    expect((await deviceResults(path.join(cwd, 'dist', 'tiny-awq-se')))[0].report.gates).toContainEqual(expect.objectContaining({ gate: 'int4_share_min', value: int4_share, passed: false }));

    // The statistics and the compression made again, by other processes in another cache, from the same model and base IR.
    const rebuiltCache = await freshCache(path.join(cwd, 'again'));
    await mkdir(path.join(rebuiltCache, 'steps'));
    for (const id of ['model', 'base']) await cp(path.join(SHARED_CACHE, 'steps', step('tiny-awq-se', id).key), path.join(rebuiltCache, 'steps', step('tiny-awq-se', id).key), { recursive: true });
    const again = await runCli(['build', 'awq-se.yaml', '--cache-dir', rebuiltCache, '--out', 'dist-again', '--no-validate', '--json'], { cwd });
    expect(again.exitCode, again.stderr).toBe(0);
    const againSteps = JSON.parse(again.stdout).results[0].steps as Step[];
    expect(againSteps.filter((each) => ['calibration', 'export'].includes(each.id)).map((each) => each.reused)).toEqual([false, false]);
    const rebuilt = JSON.parse(await readFile(path.join(cwd, 'dist-again', 'tiny-awq-se', 'manifest.json'), 'utf8'));
    expect(rebuilt.files).toEqual(manifest.files);
  }, TIMEOUT);
});
