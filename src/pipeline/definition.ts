import { existsSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { PACKAGE_ROOT } from '../context.js';
import { InputError, type InputProblem } from '../errors.js';
import type { StepDefinition } from '../steps/types.js';
import { parseWithSchema, YamlSource } from '../yaml/located-yaml.js';

const STEP_ID = /^[a-z][a-z0-9-]*$/;

const PipelineSchema = z.strictObject({
  description: z.string(),
  backend: z.string().meta({ hint: 'The backend module this pipeline builds for (src/backends/): openvino or ort-genai.' }),
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
  reference: z.string().optional().meta({ hint: "The step that writes reference.json (the source model's answers), shipped inside the artifact." }),
});

export type PipelineDefinition = z.output<typeof PipelineSchema> & { name: string; file: string; source: YamlSource };

/** Pipelines come with phiforge (pipelines/); a workspace may add or override its own in ./pipelines. */
export function pipelineFile(name: string): string | undefined {
  return [path.resolve('pipelines'), path.join(PACKAGE_ROOT, 'pipelines')].map((dir) => path.join(dir, `${name}.yaml`)).find((file) => existsSync(file));
}

/** Reads a pipeline and checks its graph: ids unique, every need defined earlier (so no cycles), roles naming steps. */
export async function loadPipeline(file: string, name: string): Promise<PipelineDefinition> {
  const source = await YamlSource.read(file);
  const definition = parseWithSchema(source, PipelineSchema);
  const problems: InputProblem[] = [];
  const seen = new Set<string>();
  for (const [index, step] of definition.steps.entries()) {
    for (const [needIndex, need] of step.needs.entries()) {
      // Requiring needs to come earlier makes the file order a valid execution order and rules out cycles.
      if (!seen.has(need)) problems.push(source.problemAt(['steps', index, 'needs', needIndex], `"${need}" is not a step defined before ${step.id}`));
    }
    if (seen.has(step.id)) problems.push(source.problemAt(['steps', index, 'id'], `duplicate step id "${step.id}"`));
    seen.add(step.id);
  }
  for (const role of ['artifact', 'reference'] as const) {
    const id = definition[role];
    if (id !== undefined && !seen.has(id)) problems.push(source.problemAt([role], `"${id}" is not a step of this pipeline`));
  }
  if (problems.length > 0) throw new InputError(source.file, problems);
  return { ...definition, steps: definition.steps satisfies StepDefinition[], name, file, source };
}
