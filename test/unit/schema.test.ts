import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { recipeJsonSchema } from '../../src/recipe/schema.js';
import { REPO_ROOT } from '../support/cli.js';

describe('recipe JSON Schema', () => {
  it('committed schema/recipe.schema.json matches the zod schema (regenerate with npm run schema)', async () => {
    const committed = JSON.parse(await readFile(path.join(REPO_ROOT, 'schema', 'recipe.schema.json'), 'utf8'));
    expect(committed).toEqual(recipeJsonSchema());
  });

  it('rejects unknown keys in editors too', () => {
    const schema = recipeJsonSchema() as { additionalProperties?: boolean; properties: Record<string, { additionalProperties?: boolean }> };
    expect(schema.additionalProperties).toBe(false);
    expect(schema.properties.quantization.additionalProperties).toBe(false);
  });
});
