import path from 'node:path';
import { stepKey } from '../../src/cache/step-cache.js';
import type { Context } from '../../src/context.js';
import type { Plan } from '../../src/pipeline/plan.js';
import { resolveRecipe } from '../../src/pipeline/resolve.js';
import type { CommandWork, PlannedStep } from '../../src/steps/types.js';
import { workspace } from './cli.js';

// Plans of small fake steps (node one-liners) for the engine's unit tests: caching, failure reports,
// log checks and atomic publishing without a converter.

const RECIPE = 'name: fake\nmodel:\n  synthetic: phi3-mini-tiny\npipeline: openvino\nquantization:\n  weight_format: fp16\n';

export async function setup() {
  const root = await workspace({ 'recipe.yaml': RECIPE });
  const lines: string[] = [];
  const context: Context = { cacheRoot: path.join(root, 'cache'), outRoot: path.join(root, 'dist'), verbose: false, json: true, python: 'python3', emulateNpu: false, say: (line) => lines.push(line), print: () => undefined };
  const recipe = await resolveRecipe(path.join(root, 'recipe.yaml'));
  return { root, context, recipe, lines };
}

/** A step whose command is a node script writing into its output folder. */
export function nodeStep(context: Context, id: string, script: string, options: { needs?: PlannedStep[]; verify?: CommandWork['verify']; salt?: string } = {}): PlannedStep {
  const needs = options.needs ?? [];
  const key = stepKey({ kind: 'fake', kindVersion: 1, params: { script, salt: options.salt }, inputs: Object.fromEntries(needs.map((need) => [need.id, need.key])), scripts: {}, env: {} });
  const workDir = path.join(context.cacheRoot, 'steps', 'tmp', key);
  const work: CommandWork = {
    kindVersion: 1,
    params: { script },
    scripts: [],
    env: {},
    command: ({ outDir }) => ({ argv: [process.execPath, '-e', script, outDir, ...needs.map((need) => need.outDir)] }),
    verify: options.verify,
  };
  return {
    id,
    kind: 'fake',
    needs: needs.map((need) => need.id),
    key,
    summary: `fake ${id}`,
    outDir: path.join(context.cacheRoot, 'steps', key, 'out'),
    command: work.command({ python: 'python3', bin: '', workDir, outDir: path.join(workDir, 'out') }),
    work,
  };
}

/** The engine's steps are fakes, but the manifest still names a model: a local folder, as model-source makes it. */
const MODEL: PlannedStep = {
  id: 'model',
  kind: 'model-source',
  needs: [],
  key: 'f'.repeat(64),
  summary: 'a local model folder',
  outDir: '/nonexistent-model',
  work: { materialize: async () => ({ dir: '/nonexistent-model', files: [], facts: { source: 'local', path: '/nonexistent-model' }, reused: true, durationMs: 0 }) },
};

export function planOf(recipe: Plan['recipe'], steps: PlannedStep[]): Plan {
  return { recipe: { ...recipe, pipeline: { ...recipe.pipeline, name: 'fake', artifact: steps.at(-1)!.id, reference: undefined } }, steps: [MODEL, ...steps], toolchains: [] };
}
