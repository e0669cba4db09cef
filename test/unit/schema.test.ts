import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SCHEMAS } from '../../src/app/schemas.js';
import { REPO_ROOT } from '../support/cli.js';

describe('file formats as JSON Schema', () => {
  it('every committed schema/<name>.schema.json matches its zod definition (regenerate with npm run schema)', async () => {
    const committed = (await readdir(path.join(REPO_ROOT, 'schema'))).filter((file) => file.endsWith('.schema.json')).sort();
    expect(committed).toEqual(Object.keys(SCHEMAS).map((name) => `${name}.schema.json`).sort());
    for (const [name, make] of Object.entries(SCHEMAS)) {
      expect(JSON.parse(await readFile(path.join(REPO_ROOT, 'schema', `${name}.schema.json`), 'utf8')), name).toEqual(make());
    }
  });

  it('rejects unknown keys in editors too', () => {
    const schema = SCHEMAS.recipe() as { additionalProperties?: boolean; properties: Record<string, { additionalProperties?: boolean }> };
    expect(schema.additionalProperties).toBe(false);
    expect(schema.properties.quantization.additionalProperties).toBe(false);
  });
});
