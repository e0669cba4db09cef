import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { PipelineDefinition } from '../pipeline/definition.js';
import type { Recipe } from '../recipe/schema.js';
import type { StepOutput } from '../steps/types.js';
import { evaluate, type ValidationReport } from './evaluate.js';
import type { ReferenceAnswers, RunnerResult, SimilarityResult } from './types.js';

/** Reads what the pipeline's validation steps wrote and evaluates it against the recipe. */
export async function collectValidation(
  recipe: Recipe,
  validation: NonNullable<PipelineDefinition['validation']>,
  outputs: StepOutput[],
  requireDevice: boolean,
): Promise<ValidationReport> {
  const byId = new Map(outputs.map((output) => [output.id, output]));
  const read = async <T>(step: string, file: string): Promise<T> => JSON.parse(await readFile(path.join(byId.get(step)!.dir, file), 'utf8')) as T;
  const runs = await read<RunnerResult>(validation.runs, 'runs.json');
  const reference = recipe.validate.reference.enabled ? await read<ReferenceAnswers>(validation.reference, 'answers.json') : undefined;
  const similarity = recipe.validate.reference.enabled
    ? { ...(await read<Omit<SimilarityResult, 'pairs'>>(validation.similarity, 'similarity.json')), pairs: byId.get(validation.similarity)!.facts.pairs as SimilarityResult['pairs'] }
    : undefined;
  return evaluate({ recipe, backend: validation.backend, runs, reference, similarity, requireDevice });
}
