import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { workspace } from '../support/cli.js';
import { phiforge as runCli } from '../support/in-process.js';
import { TINY_INT4 } from '../support/recipes.js';

// `extends:` as a CI matrix uses it: one base, small recipes on top; errors point into the file
// that wrote the key.

const BASE = `${TINY_INT4}validate:
  max_new_tokens: 8
  prompts:
    - messages: [{ role: user, content: Hello }]
`;

const FLAT = `name: child
${TINY_INT4.replace('ratio: 0.6', 'ratio: 1.0')}validate:
  max_new_tokens: 8
  prompts:
    - messages: [{ role: user, content: Hello }]
`;

const plan = async (cwd: string, recipe: string) => runCli(['plan', recipe, '--json', '--cache-dir', path.join(cwd, 'cache')], { cwd });

describe('recipes that extend a base recipe', () => {
  it('plans exactly what the same recipe written out in full plans, mappings merged key by key', async () => {
    const cwd = await workspace({
      'recipes/base.yaml': BASE,
      'recipes/child.yaml': 'extends: base.yaml\nname: child\nquantization:\n  ratio: 1.0\n',
      'recipes/flat.yaml': FLAT,
    });
    const [extended, flat] = [await plan(cwd, 'recipes/child.yaml'), await plan(cwd, 'recipes/flat.yaml')];
    expect(extended.exitCode, extended.stderr).toBe(0);
    expect(flat.exitCode, flat.stderr).toBe(0);
    const keys = (result: { stdout: string }) => JSON.parse(result.stdout).steps.map((step: { id: string; key: string }) => [step.id, step.key]);
    expect(keys(extended)).toEqual(keys(flat));
  });

  it('resolves an inherited model.path against the base file that wrote it', async () => {
    const cwd = await workspace({
      'models/tiny/config.json': JSON.stringify({ model_type: 'phi3', hidden_size: 256, intermediate_size: 512 }),
      'recipes/common/base.yaml': BASE.replace('  synthetic: phi3-mini-tiny', '  path: ../../models/tiny'),
      'recipes/child.yaml': 'extends: common/base.yaml\nname: child\n',
    });
    const result = await plan(cwd, 'recipes/child.yaml');
    expect(result.exitCode, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout).steps.find((step: { id: string }) => step.id === 'model').output).toBe(path.join(cwd, 'models', 'tiny'));
  });

  it('points an error in an inherited key into the base file, and one in the recipe into the recipe', async () => {
    const cwd = await workspace({
      'recipes/base.yaml': BASE.replace('ratio: 0.6', 'ratio: 1.5'),
      'recipes/child.yaml': 'extends: base.yaml\nname: child\ntargets:\n  - device: TPU\n',
    });
    const result = await plan(cwd, 'recipes/child.yaml');
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain('recipes/base.yaml:7:10 quantization.ratio: ratio must be at most 1');
    expect(result.stderr).toContain('recipes/child.yaml:4:13 targets[0].device:');
  });

  it('refuses a missing base and a cycle at the extends key', async () => {
    const cwd = await workspace({
      'recipes/orphan.yaml': 'extends: nowhere.yaml\nname: orphan\n',
      'recipes/a.yaml': 'extends: b.yaml\nname: a\n',
      'recipes/b.yaml': 'extends: a.yaml\n',
    });
    const orphan = await plan(cwd, 'recipes/orphan.yaml');
    expect(orphan.exitCode).toBe(2);
    expect(orphan.stderr).toContain('recipes/orphan.yaml:1:10 extends: the base recipe nowhere.yaml: file not found');
    const cycle = await plan(cwd, 'recipes/a.yaml');
    expect(cycle.exitCode).toBe(2);
    expect(cycle.stderr).toContain('extends: extends makes a cycle: a.yaml -> b.yaml -> a.yaml');
  });
});
