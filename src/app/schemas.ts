import { z } from 'zod';
import { Manifest } from '../artifact/manifest.js';
import { recipeJsonSchema } from '../backends/index.js';
import { CiConfig } from '../ci/config.js';
import { DeviceResult, ReferenceFile, RunnerRequest, RunsFile, SimilarityFile, SimilarityRequest } from '../validate/contract.js';

/**
 * Every file format phiforge reads or writes, as JSON Schema generated from its zod definition:
 * schema/<name>.schema.json (`npm run schema`), kept in sync by a test. Editors complete recipes
 * with the first; the others document what Python scripts and other tools exchange with phiforge.
 */
export const SCHEMAS: Record<string, () => Record<string, unknown>> = {
  recipe: recipeJsonSchema,
  'ci-config': () => z.toJSONSchema(CiConfig, { io: 'input', target: 'draft-2020-12' }) as Record<string, unknown>,
  manifest: () => output(Manifest),
  reference: () => output(ReferenceFile),
  'runner-request': () => output(RunnerRequest),
  runs: () => output(RunsFile),
  'similarity-request': () => output(SimilarityRequest),
  similarity: () => output(SimilarityFile),
  validation: () => output(DeviceResult),
};

function output(schema: z.ZodType): Record<string, unknown> {
  return z.toJSONSchema(schema, { io: 'output', target: 'draft-2020-12', unrepresentable: 'any' }) as Record<string, unknown>;
}
