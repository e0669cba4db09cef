import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { workspace } from '../support/cli.js';
import { phiforge as runCli } from '../support/in-process.js';
import { TINY_INT4 } from '../support/recipes.js';

const VALID = `name: tiny
${TINY_INT4}`;

/** Builds `recipe` in a fresh workspace and returns what the user sees. */
async function buildBad(recipe: string, extraArgs: string[] = [], files: Record<string, string> = {}) {
  const cwd = await workspace({ 'recipes/bad.yaml': recipe, ...files });
  const result = await runCli(['build', 'recipes/bad.yaml', ...extraArgs], { cwd });
  return { ...result, cwd };
}

describe('a bad recipe exits 2 with file:line:col, key and hint, and writes nothing', () => {
  it('reports malformed YAML at its position', async () => {
    const { exitCode, stderr, cwd } = await buildBad('name: tiny\nmodel:\n  synthetic: [phi3\npipeline: openvino\n');
    expect(exitCode).toBe(2);
    expect(stderr).toMatch(/recipes\/bad\.yaml:\d+:\d+: YAML syntax/);
    expect(stderr).toContain('hint:');
    expect(existsSync(path.join(cwd, 'dist'))).toBe(false);
  });

  it('names an unknown key where it stands and suggests the right one', async () => {
    const { exitCode, stderr, cwd } = await buildBad(VALID.replace('group_size: 128', 'grup_size: 128'));
    expect(exitCode).toBe(2);
    expect(stderr).toContain('recipes/bad.yaml:7:3 quantization.grup_size: unknown key "grup_size"');
    expect(stderr).toContain('Did you mean "group_size"?');
    expect(existsSync(path.join(cwd, 'dist'))).toBe(false);
  });

  it('refuses a one-word perplexity text before any model runs', async () => {
    const { exitCode, stderr } = await buildBad(`${VALID}validate:\n  perplexity: { text: hello }\n`);
    expect(exitCode).toBe(2);
    expect(stderr).toContain('recipes/bad.yaml:11:23 validate.perplexity.text: the perplexity text needs at least two words');
    expect(stderr).toContain('hint: A few sentences of plain prose');
  });

  it('refuses ratio 1.5', async () => {
    const { exitCode, stderr } = await buildBad(VALID.replace('ratio: 0.6', 'ratio: 1.5'));
    expect(exitCode).toBe(2);
    expect(stderr).toContain('recipes/bad.yaml:8:10 quantization.ratio: ratio must be at most 1');
    expect(stderr).toMatch(/hint: ratio is a fraction in \(0, 1\]/);
  });

  it('refuses a hub model without a revision', async () => {
    const { exitCode, stderr } = await buildBad(VALID.replace('synthetic: phi3-mini-tiny', 'id: microsoft/Phi-3-mini-4k-instruct'));
    expect(exitCode).toBe(2);
    expect(stderr).toContain('recipes/bad.yaml:3:7 model.id: a hub model needs a pinned revision');
    expect(stderr).toContain('hint: Add `revision: <40-hex commit>`');
  });

  it('refuses a bare int4 that would let optimum pick a data-aware default', async () => {
    const { exitCode, stderr } = await buildBad(VALID.replace('  group_size: 128\n', ''));
    expect(exitCode).toBe(2);
    expect(stderr).toContain('quantization.group_size: int4 needs an explicit group_size');
    expect(stderr).toContain('downloads a dataset');
  });

  it('refuses a group_size that does not divide the model, before any export', async () => {
    const config = JSON.stringify({ model_type: 'phi3', hidden_size: 3072, intermediate_size: 8192 });
    const { exitCode, stderr, cwd } = await buildBad(VALID.replace('group_size: 128', 'group_size: 100'), ['--model', 'local-phi3'], { 'local-phi3/config.json': config });
    expect(exitCode).toBe(2);
    expect(stderr).toContain("recipes/bad.yaml:7:15 quantization.group_size: group_size 100 does not divide the model's hidden_size (3072)");
    expect(stderr).toMatch(/hint: Use -1 \(channel-wise\) or one of 16, 32, 64, 128/);
    expect(existsSync(path.join(cwd, 'dist'))).toBe(false);
    expect(existsSync(path.join(cwd, 'cache'))).toBe(false);
  });

  it('reports every problem of a file at once, as JSON with --json', async () => {
    const { exitCode, stdout } = await buildBad(VALID.replace('ratio: 0.6', 'ratio: 0').replace('pipeline: openvino', 'pipeline: openvino\ncolour: blue'), ['--json']);
    expect(exitCode).toBe(2);
    const body = JSON.parse(stdout);
    expect(body.ok).toBe(false);
    expect(body.error.code).toBe('INPUT_INVALID');
    expect(body.error.problems.map((problem: { key: string }) => problem.key).sort()).toEqual(['colour', 'quantization.ratio']);
  });

  it('says so when the recipe file does not exist', async () => {
    const cwd = await workspace();
    const { exitCode, stderr } = await runCli(['build', 'recipes/missing.yaml'], { cwd });
    expect(exitCode).toBe(2);
    expect(stderr).toContain('recipes/missing.yaml: file not found');
  });
});
