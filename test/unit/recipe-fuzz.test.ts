import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';
import type { Context } from '../../src/context.js';
import { InputError, PhiforgeError } from '../../src/errors.js';
import { planRecipe } from '../../src/pipeline/plan.js';
import { resolveRecipe } from '../../src/pipeline/resolve.js';
import { workspace } from '../support/cli.js';

// Valid recipes, mutated at random (wrong types, values out of range, unknown keys, deep nesting,
// anchors and aliases): each must either plan, or be refused with a typed error whose every problem
// says where it is. Never an internal error, never a stack trace.

const VALID = {
  name: 'fuzzed',
  model: { synthetic: 'phi3-mini-tiny' },
  pipeline: 'openvino',
  quantization: { weight_format: 'int4', group_size: 128, ratio: 0.6, sym: true },
  targets: [{ device: 'CPU', gates: { ttft_ms_max: 800, similarity_min: 0.5 } }],
  validate: { max_new_tokens: 16, repetitions: 2, prompts: [{ id: 'intro', messages: [{ role: 'user', content: 'Hello' }], expect: { not_empty: true } }] },
};

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Every path to a value inside `value`. */
function paths(value: Json, prefix: Array<string | number> = []): Array<Array<string | number>> {
  if (value === null || typeof value !== 'object') return [prefix];
  const children = Array.isArray(value) ? value.map((child, index) => paths(child, [...prefix, index])) : Object.entries(value).map(([key, child]) => paths(child, [...prefix, key]));
  return [prefix, ...children.flat()];
}

function setAt(root: Json, at: Array<string | number>, replace: (old: Json | undefined) => Json | undefined): Json {
  if (at.length === 0) return replace(root) ?? null;
  const copy = structuredClone(root) as Record<string | number, Json>;
  let parent = copy;
  for (const part of at.slice(0, -1)) parent = parent[part] as Record<string | number, Json>;
  const last = at[at.length - 1];
  const next = replace(parent[last]);
  if (next === undefined) {
    if (Array.isArray(parent)) parent.splice(Number(last), 1);
    else delete parent[last];
  } else parent[last] = next;
  return copy;
}

const anyValue: fc.Arbitrary<Json> = fc.letrec<{ value: Json }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.constant(null),
    fc.boolean(),
    fc.integer({ min: -1e9, max: 1e9 }),
    fc.double({ noNaN: true }),
    fc.string({ maxLength: 12 }),
    fc.constantFrom('CPU', 'NPU', 'cuda', 'int4', 'fp16', 'phi3-mini-tiny', 'ort-genai', 'openvino-npu', '-1', '1e400'),
    fc.array(tie('value'), { maxLength: 3 }),
    fc.dictionary(fc.string({ maxLength: 6 }), tie('value'), { maxKeys: 3 }),
  ),
})).value;

const mutation = fc.oneof(
  fc.record({ kind: fc.constant('replace' as const), value: anyValue, pick: fc.nat() }),
  fc.record({ kind: fc.constant('delete' as const), pick: fc.nat() }),
  fc.record({ kind: fc.constant('add' as const), key: fc.string({ minLength: 1, maxLength: 10 }), value: anyValue, pick: fc.nat() }),
  fc.record({ kind: fc.constant('nest' as const), depth: fc.integer({ min: 1, max: 200 }), pick: fc.nat() }),
);

type Mutation = typeof mutation extends fc.Arbitrary<infer M> ? M : never;

function mutate(recipe: Json, mutations: Mutation[]): Json {
  let current = recipe;
  for (const change of mutations) {
    const all = paths(current);
    const at = all[change.pick % all.length];
    if (change.kind === 'replace') current = setAt(current, at, () => change.value);
    else if (change.kind === 'delete') current = at.length ? setAt(current, at, () => undefined) : current;
    else if (change.kind === 'add') current = setAt(current, at, (old) => (old && typeof old === 'object' && !Array.isArray(old) ? { ...old, [change.key]: change.value } : old ?? null));
    else {
      let deep: Json = 'bottom';
      for (let level = 0; level < change.depth; level++) deep = { nested: deep };
      current = setAt(current, at, () => deep);
    }
  }
  return current;
}

/** Some YAML texts share values through anchors and aliases, as real recipes may. */
function yamlText(recipe: Json, withAliases: boolean): string {
  const text = stringify(recipe, { aliasDuplicateObjects: false });
  if (!withAliases || typeof recipe !== 'object' || recipe === null || Array.isArray(recipe)) return text;
  return `shared: &shared { ttft_ms_max: 900 }\n${text.replace(/gates:\n(\s+)ttft_ms_max: 800/, 'gates:\n$1<<: *shared\n$1ttft_ms_max: 800')}`;
}

describe('recipes mutated at random', () => {
  it('plan, or are refused with a typed, located error: never an internal error', async () => {
    const root = await workspace();
    const file = path.join(root, 'recipe.yaml');
    const context: Context = { cacheRoot: path.join(root, 'cache'), outRoot: path.join(root, 'dist'), verbose: false, json: false, python: 'python3', emulateNpu: false, say: () => undefined, print: () => undefined };
    const outcomes = { planned: 0, refused: 0 };
    await fc.assert(
      fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 3 }), fc.boolean(), async (mutations, withAliases) => {
        await writeFile(file, yamlText(mutate(VALID as Json, mutations), withAliases));
        try {
          await planRecipe(context, await resolveRecipe(file));
          outcomes.planned++;
        } catch (error) {
          if (!(error instanceof PhiforgeError)) throw error;
          expect(error.exitCode).toBe(2);
          if (error instanceof InputError) for (const problem of error.problems) expect(problem.location, problem.message).toBeDefined();
          outcomes.refused++;
        }
      }),
      { numRuns: 600, seed: 42 },
    );
    // Both outcomes occur: the generator is not so wild that nothing ever plans.
    expect(outcomes.planned).toBeGreaterThan(15);
    expect(outcomes.refused).toBeGreaterThan(150);
  }, 60_000);
});
