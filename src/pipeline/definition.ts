import { existsSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { PACKAGE_ROOT } from '../context.js';
import { InputError } from '../errors.js';
import { parseWithSchema, YamlSource } from '../recipe/yaml-source.js';
import { STEP_KINDS } from '../steps/registry.js';

const STEP_ID = /^[a-z][a-z0-9-]*$/;

const PipelineSchema = z.strictObject({
  description: z.string(),
  steps: z
    .array(
      z.strictObject({
        id: z.string().regex(STEP_ID, 'step ids are lower-case words joined by "-"'),
        uses: z.string().meta({ hint: 'The step kind implemented in src/steps/.' }),
        toolchain: z.string().optional(),
        needs: z.array(z.string()).default([]),
      }),
    )
    .min(1),
  artifact: z.string().meta({ hint: 'The id of the step whose output becomes dist/<recipe name>/.' }),
  validation: z
    .strictObject({
      backend: z.string(),
      runs: z.string().meta({ hint: 'The step that writes runs.json (answers and figures per target).' }),
      reference: z.string().meta({ hint: "The step that writes answers.json (the source model's answers)." }),
      similarity: z.string().meta({ hint: 'The step that writes similarity.json.' }),
    })
    .optional(),
});

export type PipelineDefinition = z.output<typeof PipelineSchema> & { name: string; file: string };
export type PipelineStepDefinition = PipelineDefinition['steps'][number];

/** Pipelines come with phiforge (pipelines/); a workspace may add or override its own in ./pipelines. */
export function pipelineFile(name: string): string | undefined {
  return [path.resolve('pipelines'), path.join(PACKAGE_ROOT, 'pipelines')].map((dir) => path.join(dir, `${name}.yaml`)).find((file) => existsSync(file));
}

export async function loadPipeline(file: string, name: string): Promise<PipelineDefinition> {
  const source = await YamlSource.read(file);
  const definition = parseWithSchema(source, PipelineSchema);
  const problems = [];
  const seen = new Set<string>();
  for (const [index, step] of definition.steps.entries()) {
    if (!(step.uses in STEP_KINDS)) {
      problems.push(source.problemAt(['steps', index, 'uses'], `unknown step kind "${step.uses}"`, `Known kinds: ${Object.keys(STEP_KINDS).join(', ')}.`));
    }
    for (const [needIndex, need] of step.needs.entries()) {
      // Requiring needs to come earlier makes the file order a valid execution order and rules out cycles.
      if (!seen.has(need)) problems.push(source.problemAt(['steps', index, 'needs', needIndex], `"${need}" is not a step defined before ${step.id}`));
    }
    if (seen.has(step.id)) problems.push(source.problemAt(['steps', index, 'id'], `duplicate step id "${step.id}"`));
    seen.add(step.id);
  }
  if (!seen.has(definition.artifact)) problems.push(source.problemAt(['artifact'], `"${definition.artifact}" is not a step of this pipeline`));
  for (const role of ['runs', 'reference', 'similarity'] as const) {
    const id = definition.validation?.[role];
    if (id !== undefined && !seen.has(id)) problems.push(source.problemAt(['validation', role], `"${id}" is not a step of this pipeline`));
  }
  if (problems.length > 0) throw new InputError(source.file, problems);
  return { ...definition, name, file };
}
