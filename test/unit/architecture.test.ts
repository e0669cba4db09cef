import { mkdir, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { cruise, type ICruiseResult, type IConfiguration } from 'dependency-cruiser';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, workspace } from '../support/cli.js';

// The layers of src/ (.dependency-cruiser.cjs): imports only go down, and nothing imports in a circle.

const rules = createRequire(import.meta.url)(path.join(REPO_ROOT, '.dependency-cruiser.cjs')) as IConfiguration;

async function violations(root: string): Promise<string[]> {
  const previous = process.cwd();
  process.chdir(root);
  try {
    const result = await cruise(['src'], { ruleSet: { forbidden: rules.forbidden }, ...rules.options, tsConfig: { fileName: path.join(REPO_ROOT, 'tsconfig.json') }, validate: true });
    const output = result.output as ICruiseResult;
    return output.summary.violations.map((violation) => `${violation.rule.name}: ${violation.from} -> ${violation.to}`);
  } finally {
    process.chdir(previous);
  }
}

describe('architecture', () => {
  it('src/ has no cycle and no import that goes up a layer', async () => {
    expect(await violations(REPO_ROOT)).toEqual([]);
  }, 30_000);

  it('reports an upward import, a cycle and a folder outside the layers, so the check can fail', async () => {
    const root = await workspace({
      'src/recipe/schema.ts': "import { x } from '../backends/index.js';\nexport const y = x;\n",
      'src/backends/index.ts': "export const x = 1;\n",
      'src/cache/a.ts': "import { b } from './b.js';\nexport const a = () => b;\n",
      'src/cache/b.ts': "import { a } from './a.js';\nexport const b = () => a;\n",
      'src/stray/thing.ts': "import { x } from '../backends/index.js';\nexport const z = x;\n",
    });
    await mkdir(path.join(root, 'node_modules'), { recursive: true });
    await writeFile(path.join(root, 'tsconfig.json'), '{}');
    const found = await violations(root);
    expect(found).toContain('layer-recipe: src/recipe/schema.ts -> src/backends/index.ts');
    expect(found.some((line) => line.startsWith('no-circular: src/cache/'))).toBe(true);
    expect(found).toContain('no-unknown-folder: src/stray/thing.ts -> src/backends/index.ts');
  }, 30_000);
});
