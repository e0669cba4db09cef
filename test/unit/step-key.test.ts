import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { COMMITTED } from '../../src/cache/step-cache.js';
import type { Context } from '../../src/context.js';
import { planRecipe, type Plan } from '../../src/pipeline/plan.js';
import { resolveRecipe } from '../../src/pipeline/resolve.js';
import { planCommandStep } from '../../src/steps/command-step.js';
import type { CommandWork, PlanInput, PlannedStep } from '../../src/steps/types.js';
import { loadToolchain } from '../../src/toolchain/definition.js';
import { workspace } from '../support/cli.js';
import { TINY_INT4 } from '../support/recipes.js';
import { tinyPhi3Folder } from '../support/safetensors.js';

// A command step's cache key is the command it runs: what runs decides the key, where phiforge's
// folders are does not.

const contextAt = (root: string, cache = 'cache'): Context => ({ cacheRoot: path.join(root, cache), outRoot: path.join(root, 'dist'), verbose: false, json: false, python: 'python3', emulateNpu: false, say: () => undefined, print: () => undefined });

/** A converter step reading the model step's output, as a step kind plans it, with its command and request given. */
async function keyOf(context: Context, step: { argv: string[]; request?: Record<string, unknown>; env?: Record<string, string>; kindVersion?: number }): Promise<PlannedStep> {
  const model: PlannedStep = { id: 'model', kind: 'model-source', needs: [], key: 'a'.repeat(64), summary: 'a model', outDir: path.join(context.cacheRoot, 'steps', 'a'.repeat(64), 'out'), work: { materialize: async () => ({ dir: '', files: [], facts: {}, reused: true, durationMs: 0 }) } };
  const input = { context, definition: { id: 'convert', uses: 'convert', needs: ['model'] }, toolchain: await loadToolchain('openvino'), upstream: { model } } as unknown as PlanInput;
  const work: CommandWork = {
    kindVersion: step.kindVersion,
    params: {},
    scripts: [],
    env: step.env ?? {},
    requestFiles: (workDir) => ({ 'request.json': JSON.stringify({ model_dir: model.outDir, output_dir: path.join(workDir, 'out'), ...step.request }) }),
    command: ({ bin, workDir }) => ({ argv: [path.join(bin, 'convert'), ...step.argv, '--request', path.join(workDir, 'request.json')], cwd: workDir }),
  };
  return planCommandStep(input, 'convert', work);
}

const keys = (plan: Plan) => Object.fromEntries(plan.steps.map((step) => [step.id, step.key]));

describe('step keys', () => {
  it('change with any argument, request field or variable of the command, with no version bumped by hand', async () => {
    const context = contextAt(await workspace());
    const base = { argv: ['--weight-format', 'int4', '--group-size', '128'], request: { ratio: 0.6 }, env: { HF_HUB_OFFLINE: '1' } };
    const key = (await keyOf(context, base)).key;
    expect((await keyOf(context, base)).key).toBe(key);
    const changed = await Promise.all([
      keyOf(context, { ...base, argv: ['--weight-format', 'int4', '--group-size', '64'] }),
      keyOf(context, { ...base, argv: [...base.argv, '--sym'] }),
      keyOf(context, { ...base, request: { ratio: 0.8 } }),
      keyOf(context, { ...base, request: { ratio: 0.6, awq: true } }),
      keyOf(context, { ...base, env: { HF_HUB_OFFLINE: '0' } }),
      // A hand-made version still counts, for an output the command does not show.
      keyOf(context, { ...base, kindVersion: 2 }),
    ]);
    for (const step of changed) expect(step.key).not.toBe(key);
    expect(new Set(changed.map((step) => step.key)).size).toBe(changed.length);
  });

  it('do not depend on where the cache is: the same recipe planned in two caches has the same keys and runs in each its own folders', async () => {
    const root = await workspace({
      'calibration.txt': 'One sample about bread.\n\nAnother about bees.\n',
      'int4.yaml': `name: int4\n${TINY_INT4}`,
      'shared.yaml': `name: shared\n${TINY_INT4}export: shared\n`,
      'awq.yaml': `name: awq\n${TINY_INT4}  awq: true\n  calibration: { file: calibration.txt }\n`,
    });
    const [here, there] = [contextAt(root, 'cache'), contextAt(root, 'moved/elsewhere')];
    for (const recipe of ['int4.yaml', 'shared.yaml', 'awq.yaml']) {
      const [a, b] = await Promise.all([here, there].map(async (context) => planRecipe(context, await resolveRecipe(path.join(root, recipe)))));
      expect(keys(a), recipe).toEqual(keys(b));
      // The commands themselves name each cache's folders: only the keys are blind to them.
      const exportOf = (plan: Plan) => plan.steps.find((step) => step.id === 'export')!.command!;
      expect(JSON.stringify(exportOf(a))).toContain(here.cacheRoot);
      expect(JSON.stringify(exportOf(b))).toContain(there.cacheRoot);
      expect(JSON.stringify(exportOf(a))).not.toContain(there.cacheRoot);
    }
  });

  it('do not depend on where a local model folder is, only on its files', async () => {
    const root = await workspace({ ...tinyPhi3Folder('one/model'), ...tinyPhi3Folder('two/deeper/model'), 'recipe.yaml': `name: local\n${TINY_INT4.replace('synthetic: phi3-mini-tiny', 'path: ./one/model')}` });
    const context = contextAt(root);
    const plan = async (model: string) => planRecipe(context, await resolveRecipe(path.join(root, 'recipe.yaml'), path.join(root, model)));
    const [one, two] = await Promise.all([plan('one/model'), plan('two/deeper/model')]);
    expect(keys(one)).toEqual(keys(two));
    expect(one.steps.find((step) => step.id === 'export')!.command!.links).toEqual({ model: path.join(root, 'one/model') });
  });

  it('record the export path the recipe alone decides: a cached shared conversion leaves a default recipe direct', async () => {
    const root = await workspace({ 'direct.yaml': `name: direct\n${TINY_INT4}`, 'shared.yaml': `name: shared\n${TINY_INT4}export: shared\n` });
    const context = contextAt(root);
    const plan = async (file: string) => planRecipe(context, await resolveRecipe(path.join(root, file)));
    const [direct, shared] = await Promise.all([plan('direct.yaml'), plan('shared.yaml')]);
    expect(keys(direct).model).toBe(keys(shared).model);
    expect(keys(direct).base).not.toBe(keys(shared).base);
    expect(keys(direct).export).not.toBe(keys(shared).export);
    // The shared conversion of this model, committed in the cache, as another recipe's build leaves it.
    const conversion = path.join(context.cacheRoot, 'steps', keys(shared).base);
    await mkdir(conversion, { recursive: true });
    await writeFile(path.join(conversion, COMMITTED), '');
    const again = await plan('direct.yaml');
    expect(keys(again)).toEqual(keys(direct));
    expect(again.steps.find((step) => step.id === 'export')!.command!.argv.slice(1, 3)).toEqual(['export', 'openvino']);
  });
});
