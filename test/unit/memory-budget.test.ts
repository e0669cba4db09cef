import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseSize } from '../../src/app/resources.js';
import { REPO_ROOT, workspace } from '../support/cli.js';
import { phiforge } from '../support/in-process.js';
import { PHI3_MINI_CONFIG as PHI3_MINI } from '../support/safetensors.js';

// What a 16 GB machine is told before a full-size build: per step, whether it fits this machine and
// a --memory-budget, and a build that would not fit the budget refused before its first step.

const GiB = 2 ** 30;
const INT4_OV = path.join(REPO_ROOT, 'recipes', 'phi3-int4-ov.yaml');
// Offline, with an empty Hugging Face cache: doctor cannot read Phi-3-mini's config.json.
const OFFLINE = (cwd: string) => ({ HF_HUB_OFFLINE: '1', HF_HUB_CACHE: path.join(cwd, 'empty-hf') });
const PHI3_MINI_CONFIG = JSON.stringify(PHI3_MINI);

interface Row {
  step: string;
  memoryBytes: number;
  machine: string;
  budget?: string;
}

async function doctor(cwd: string, ...args: string[]) {
  const text = await phiforge(['doctor', INT4_OV, ...args, '--cache-dir', path.join(cwd, 'cache')], { cwd, env: OFFLINE(cwd) });
  const json = await phiforge(['doctor', INT4_OV, ...args, '--json', '--cache-dir', path.join(cwd, 'cache')], { cwd, env: OFFLINE(cwd) });
  expect(text.exitCode, text.stderr).toBe(0);
  return { stdout: text.stdout, resources: JSON.parse(json.stdout).resources as { verdicts: Row[]; shapeNote?: string; estimate: { parameters: number } } };
}

describe('sizes as people write them', () => {
  it.each([
    ['16GiB', 16 * GiB],
    ['16G', 16 * GiB],
    ['16g', 16 * GiB],
    ['16000MiB', 16000 * 2 ** 20],
    ['12.5GiB', 12.5 * GiB],
    ['16GB', 16e9],
    [' 8 GiB ', 8 * GiB],
  ])('%s', (text, bytes) => expect(parseSize(text)).toBe(bytes));

  it.each([
    ['16', 'the size has no unit'],
    ['sixteen', 'not a size'],
    ['16GiBs', 'unknown unit "GiBs"'],
    ['-4GiB', 'a size cannot be negative'],
    ['0GiB', 'the size is 0'],
    ['1e3GiB', 'not a size'],
    ['', 'not a size'],
  ])('refuses %j: %s', (text, problem) => expect(parseSize(text)).toEqual({ problem }));
});

describe('doctor --memory-budget', () => {
  it("says every step of the guide's INT4 recipe fits 16 GiB, offline, from Phi-3-mini's known dimensions", async () => {
    const cwd = await workspace();
    const { stdout, resources } = await doctor(cwd, '--memory-budget', '16GiB');
    expect(resources.shapeNote).toMatch(/^estimated from Phi-3-mini's published dimensions: config\.json could not be fetched/);
    expect(resources.estimate.parameters / 1e9).toBeCloseTo(3.82, 2);
    expect(resources.verdicts.map((row) => row.step)).toEqual(['model', 'export', 'reference', 'runner']);
    expect(resources.verdicts.every((row) => row.budget === 'fits')).toBe(true);
    expect(stdout).toContain("estimated from Phi-3-mini's published dimensions");
    expect(stdout).toMatch(/^ {2}step +memory +disk so far +this machine \(.* available, .* disk free\) +budget 16\.0 GiB$/m);
    expect(stdout).toMatch(/^ {2}export +\d+\.\d GiB +\d+\.\d GiB +\S.* +fits$/m);
    expect(stdout).toContain('budget      every step fits in 16.0 GiB');
  });

  it('says which steps do not fit 8 GiB and by how much', async () => {
    const cwd = await workspace();
    const { stdout, resources } = await doctor(cwd, '--memory-budget', '8GiB');
    const over = resources.verdicts.filter((row) => row.budget === 'does not fit');
    expect(over.map((row) => row.step)).toContain('export');
    for (const row of resources.verdicts) expect(row.budget).toBe(row.memoryBytes > 8 * GiB ? 'does not fit' : row.memoryBytes > 0.9 * 8 * GiB ? 'tight' : 'fits');
    const said = over.map((row) => `${row.step} needs ${(row.memoryBytes / GiB).toFixed(1)} GiB (${((row.memoryBytes - 8 * GiB) / GiB).toFixed(1)} GiB over)`).join(', ');
    expect(stdout).toContain(`budget      does not fit in 8.0 GiB: ${said}`);
  });

  it('counts each build step --jobs times, but the validation runner once', async () => {
    const cwd = await workspace();
    const one = (await doctor(cwd, '--memory-budget', '16GiB')).resources.verdicts;
    const { stdout, resources } = await doctor(cwd, '--memory-budget', '16GiB', '--jobs', '2');
    for (const [index, row] of resources.verdicts.entries()) expect(row.memoryBytes).toBe(one[index].memoryBytes * (row.step === 'runner' ? 1 : 2));
    expect(resources.verdicts.find((row) => row.step === 'export')?.budget).toBe('does not fit');
    expect(stdout).toContain('with --jobs 2, each build step counts 2 exports at once');
  });

  it('calls a step within the last tenth below the budget tight', async () => {
    const cwd = await workspace();
    const export16 = (await doctor(cwd, '--memory-budget', '16GiB')).resources.verdicts.find((row) => row.step === 'export')!;
    const { stdout, resources } = await doctor(cwd, '--memory-budget', `${Math.ceil((export16.memoryBytes / 0.95) / 2 ** 20)}MiB`);
    expect(resources.verdicts.find((row) => row.step === 'export')?.budget).toBe('tight');
    expect(stdout).toMatch(/budget {6}every step fits in .*; tight \(within 10% of it\): export/);
  });
});

describe('plan --memory-budget', () => {
  it('prints each step with its verdict against the budget', async () => {
    const cwd = await workspace();
    const result = await phiforge(['plan', INT4_OV, '--memory-budget', '8GiB', '--cache-dir', path.join(cwd, 'cache')], { cwd, env: OFFLINE(cwd) });
    expect(result.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toContain('memory (against --memory-budget 8.0 GiB):');
    expect(result.stdout).toMatch(/^ {2}export +\d+\.\d GiB .* does not fit$/m);
    expect(result.stdout).toContain('budget      does not fit in 8.0 GiB: export needs');
  });
});

describe('build --memory-budget', () => {
  it('refuses before its first step a full-size build whose export does not fit, naming the step, its estimate and the budget', async () => {
    // Phi-3-mini's config.json alone: planning reads no weights, and nothing may run.
    const cwd = await workspace({ 'phi3-mini/config.json': PHI3_MINI_CONFIG });
    const { resources } = await doctor(cwd, '--memory-budget', '8GiB', '--model', 'phi3-mini');
    const exportNeeds = resources.verdicts.find((row) => row.step === 'export')!.memoryBytes;
    const result = await phiforge(['build', INT4_OV, '--model', 'phi3-mini', '--memory-budget', '8GiB', '--cache-dir', path.join(cwd, 'cache')], { cwd, env: OFFLINE(cwd) });
    expect(result.exitCode, result.stderr).toBe(2);
    expect(result.stderr).toContain(`error: more than the memory budget 8.0 GiB: phi3-mini-4k-int4-ov: step export needs about ${(exportNeeds / GiB).toFixed(1)} GiB (${((exportNeeds - 8 * GiB) / GiB).toFixed(1)} GiB over)`);
    expect(result.stderr).toContain('; nothing was built');
    expect(result.stderr).toMatch(/hint: Build on a machine with at least \d+\.\d GiB \(in CI, an export runner label with that much memory/);
    expect(existsSync(path.join(cwd, 'cache', 'steps'))).toBe(false);
    expect(existsSync(path.join(cwd, 'dist'))).toBe(false);
  });

  it('refuses recipes that each fit but, built side by side with --jobs, add up above the budget', async () => {
    const recipe = await readFile(INT4_OV, 'utf8');
    const cwd = await workspace({ 'phi3-mini/config.json': PHI3_MINI_CONFIG, 'a.yaml': recipe.replace('name: phi3-mini-4k-int4-ov', 'name: a'), 'b.yaml': recipe.replace('name: phi3-mini-4k-int4-ov', 'name: b') });
    const result = await phiforge(['build', 'a.yaml', 'b.yaml', '--model', 'phi3-mini', '--jobs', '2', '--memory-budget', '16GiB', '--cache-dir', path.join(cwd, 'cache')], { cwd, env: OFFLINE(cwd) });
    expect(result.exitCode, result.stderr).toBe(2);
    expect(result.stderr).toMatch(/with --jobs 2, a \(\d+\.\d GiB\) and b \(\d+\.\d GiB\) may export at once: about \d+\.\d GiB, more than the memory budget 16\.0 GiB; nothing was built/);
    expect(result.stderr).toContain('hint: --jobs 1 builds one recipe at a time');
    expect(existsSync(path.join(cwd, 'cache', 'steps'))).toBe(false);
  });
});
