import { existsSync } from 'node:fs';
import { cp, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { sha256File } from '../../src/cache/digest.js';
import { PRESETS } from '../../src/recipe/model-files.js';
import { freshCache, REPO_ROOT, runCli, runSupportScript, SHARED_CACHE, toolchainPython, workspace } from '../support/cli.js';
import { withSharedExport } from '../support/shared-export.js';

// End-to-end: the real optimum-cli, NNCF and OpenVINO on the synthetic Phi-3 presets, with no model hub.

interface IrFacts {
  weight_compression: { mode: string; group_size: string; ratio: string } | null;
  f16_constants: number;
  int4_constants: number;
}

const TIMEOUT = 900_000;
const repoRecipe = (relative: string) => path.join(REPO_ROOT, 'recipes', relative);

async function build(cwd: string, args: string[]) {
  return runCli(['build', ...args, '--cache-dir', SHARED_CACHE, '--out', 'dist', '--json'], { cwd });
}

async function manifestOf(dir: string) {
  return JSON.parse(await readFile(path.join(dir, 'manifest.json'), 'utf8'));
}

const stepOf = (manifest: { steps: Array<{ id: string }> }, id: string) => manifest.steps.find((step) => step.id === id) as any;

/** sha256 of every file an artifact ships, by path: all but what describes them (manifest.json, the model card, validation results). */
async function shippedDigests(dir: string): Promise<Record<string, string>> {
  const files = (await readdir(dir, { recursive: true, withFileTypes: true })).filter((entry) => entry.isFile()).map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)));
  const shipped = files.filter((file) => !['manifest.json', 'README.md'].includes(file) && !file.startsWith(`validation${path.sep}`)).sort();
  return Object.fromEntries(await Promise.all(shipped.map(async (file) => [file, await sha256File(path.join(dir, file))] as const)));
}

/** What a manifest records of the recipe, the model, the toolchains and each step, leaving out durations, commands (they name the cache) and reuse. */
function recordsOf(manifest: any) {
  const { recipe, model, toolchains, weights, files } = manifest;
  return { recipe, model, toolchains, weights, files, steps: manifest.steps.map(({ id, kind, key, facts }: any) => ({ id, kind, key, facts })) };
}

/** The demo's generated model folder in the shared cache, made by a build first if this run has not made it yet. */
async function demoModel(cwd: string): Promise<string> {
  const built = await runCli(['build', repoRecipe('demo/phi3-tiny-int4-ov.yaml'), '--cache-dir', SHARED_CACHE, '--out', 'dist-demo', '--no-validate'], { cwd });
  expect(built.exitCode, built.stderr).toBe(0);
  const planned = await runCli(['plan', repoRecipe('demo/phi3-tiny-int4-ov.yaml'), '--cache-dir', SHARED_CACHE, '--json'], { cwd });
  return JSON.parse(planned.stdout).steps.find((step: { id: string }) => step.id === 'model').output;
}

describe('phiforge build with the real optimum-cli', () => {
  let openvinoPython: string;

  beforeAll(async () => {
    openvinoPython = await toolchainPython('openvino');
  }, TIMEOUT);

  it('builds the INT4 demo: rt_info says int4_sym / 128 / 0.6, tokenizer IRs exist, loads like the guide and generates', async () => {
    const cwd = await workspace();
    const result = await build(cwd, [repoRecipe('demo/phi3-tiny-int4-ov.yaml')]);
    expect(result.exitCode, result.stderr).toBe(0);
    const artifact = path.join(cwd, 'dist', 'phi3-tiny-int4-ov');
    for (const file of ['openvino_model.xml', 'openvino_model.bin', 'openvino_tokenizer.xml', 'openvino_detokenizer.xml', 'manifest.json']) {
      expect(existsSync(path.join(artifact, file)), file).toBe(true);
    }
    const facts = await runSupportScript<IrFacts>(openvinoPython, 'ir_facts.py', [path.join(artifact, 'openvino_model.xml')]);
    expect(facts.weight_compression).toEqual({ mode: 'int4_sym', group_size: '128', ratio: '0.6' });
    expect(facts.int4_constants).toBeGreaterThan(0);

    const generated = await runSupportScript<{ new_tokens: number }>(openvinoPython, 'load_like_guide.py', [artifact, 'CPU']);
    expect(generated.new_tokens).toBe(8);

    const manifest = await manifestOf(artifact);
    expect(manifest.model).toMatchObject({ source: 'synthetic', preset: 'phi3-mini-tiny' });
    // The shape recipes were checked against at plan time is the one the script made.
    expect(manifest.model.config).toMatchObject(PRESETS['phi3-mini-tiny'].shape);
    expect(manifest.toolchains.openvino.installed).toMatchObject({ openvino: '2026.4.1', 'optimum-intel': '2.2.0', nncf: '3.4.0' });
    const exportStep = manifest.steps.find((step: { id: string }) => step.id === 'export');
    expect(exportStep.facts.equivalent_command).toContain('--weight-format int4 --group-size 128 --ratio 0.6 --sym');
    expect(exportStep.facts.weight_compression).toMatchObject({ mode: 'int4_sym', group_size: 128, ratio: 0.6 });
    // A data-free recipe without export: shared runs the guide's command; the path is recorded, so a
    // rebuild from the manifest takes the same.
    expect(manifest.recipe.resolved.export).toBe('direct');
    expect(exportStep.command).toContain('optimum-cli export openvino --model model --task text-generation-with-past --weight-format int4 --group-size 128 --ratio 0.6 --sym out');
    const listed = new Map(manifest.files.map((file: { path: string; sha256: string }) => [file.path, file.sha256]));
    // Every shipped file is listed with its digest, the source model's answers among them; the manifest
    // and the device results in validation/ describe them.
    expect([...listed.keys()].sort()).toEqual((await readdir(artifact)).filter((name) => !['manifest.json', 'validation'].includes(name)).sort());
    expect(listed.has('reference.json')).toBe(true);
  }, TIMEOUT);

  it('ships the same bytes for a recipe however it is built: alone, after another variant, or beside it in one command', async () => {
    const cwd = await workspace();
    const [int4, fp16] = ['demo/phi3-tiny-int4-ov.yaml', 'demo/phi3-tiny-fp16-ov.yaml'].map(repoRecipe);
    // Each way in a cache of its own, holding only what its builds made.
    const ways: Record<string, string[][]> = { alone: [[int4]], after: [[fp16], [int4]], beside: [[fp16, int4]] };
    const caches: Record<string, string> = {};
    for (const [way, invocations] of Object.entries(ways)) {
      caches[way] = await freshCache(path.join(cwd, way));
      for (const recipes of invocations) {
        const result = await runCli(['build', ...recipes, '--cache-dir', caches[way], '--out', path.join(way, 'dist'), '--no-validate', '--json'], { cwd });
        expect(result.exitCode, result.stderr).toBe(0);
        for (const outcome of JSON.parse(result.stdout).results) expect(outcome.steps.find((step: { id: string }) => step.id === 'export').reused, `${way}: ${outcome.recipe}`).toBe(false);
      }
    }
    const artifact = (way: string, name: string) => path.join(cwd, way, 'dist', name);
    for (const [name, builtBy] of [['phi3-tiny-int4-ov', ['alone', 'after', 'beside']], ['phi3-tiny-fp16-ov', ['after', 'beside']]] as const) {
      const [first, ...others] = await Promise.all(builtBy.map(async (way) => ({ way, digests: await shippedDigests(artifact(way, name)), records: recordsOf(await manifestOf(artifact(way, name))) })));
      expect(Object.keys(first.digests)).toEqual(expect.arrayContaining(['openvino_model.xml', 'openvino_model.bin', 'openvino_tokenizer.xml', 'reference.json']));
      for (const other of others) {
        expect(other.digests, `${name} ${other.way} vs ${first.way}`).toEqual(first.digests);
        expect(other.records, `${name} ${other.way} vs ${first.way}`).toEqual(first.records);
      }
    }
    // One optimum-cli pass, the guide's command, however it was built.
    const direct = await manifestOf(artifact('beside', 'phi3-tiny-int4-ov'));
    expect(stepOf(direct, 'base').facts).toEqual({ export: 'direct', why: 'a data-free recipe without export: shared exports in one optimum-cli pass' });
    expect(stepOf(direct, 'export').command).toContain('optimum-cli export openvino --model model --task text-generation-with-past --weight-format int4 --group-size 128 --ratio 0.6 --sym out');
    expect(direct.recipe.resolved.export).toBe('direct');

    // A recipe that says export: shared derives the variant from the shared conversion: the same weight bytes.
    const shared = await runCli(['build', await withSharedExport(cwd, int4, 'shared-int4'), '--cache-dir', caches.alone, '--out', path.join('alone', 'dist'), '--no-validate'], { cwd });
    expect(shared.exitCode, shared.stderr).toBe(0);
    const derived = await manifestOf(artifact('alone', 'shared-int4'));
    expect(stepOf(derived, 'export').command).toContain('derive_variant.py');
    expect((await shippedDigests(artifact('alone', 'shared-int4')))['openvino_model.bin']).toBe((await shippedDigests(artifact('alone', 'phi3-tiny-int4-ov')))['openvino_model.bin']);
    // The shared conversion, now cached, changes nothing for the demo: the same plan, every step reused, the same bytes.
    const planned = await runCli(['plan', int4, '--cache-dir', caches.alone], { cwd });
    expect(planned.stdout).toContain('no shared conversion: a data-free recipe without export: shared exports in one optimum-cli pass');
    const again = await runCli(['build', int4, '--cache-dir', caches.alone, '--out', 'again', '--no-validate', '--json'], { cwd });
    expect(again.exitCode, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout).results[0].steps.filter((step: { reused: boolean }) => !step.reused)).toEqual([]);
    expect(await shippedDigests(path.join(cwd, 'again', 'phi3-tiny-int4-ov'))).toEqual(await shippedDigests(artifact('alone', 'phi3-tiny-int4-ov')));
  }, TIMEOUT);

  it('an FP16 variant derived from the shared conversion has the direct optimum-cli export\'s model bytes', async () => {
    const cwd = await workspace();
    const cache = await freshCache(cwd);
    const recipe = repoRecipe('demo/phi3-tiny-fp16-ov.yaml');
    for (const file of [recipe, await withSharedExport(cwd, recipe, 'shared-fp16')]) {
      const result = await runCli(['build', file, '--cache-dir', cache, '--out', 'dist', '--no-validate'], { cwd });
      expect(result.exitCode, result.stderr).toBe(0);
    }
    const [direct, derived] = await Promise.all(['phi3-tiny-fp16-ov', 'shared-fp16'].map((name) => manifestOf(path.join(cwd, 'dist', name))));
    expect(derived.steps.find((step: { id: string }) => step.id === 'export').command).toContain('derive_variant.py');
    expect(direct.steps.find((step: { id: string }) => step.id === 'export').command).toContain('optimum-cli export openvino');
    const digestOf = (manifest: { files: Array<{ path: string; sha256: string }> }, file: string) => manifest.files.find((entry) => entry.path === file)?.sha256;
    for (const file of ['openvino_model.bin', 'openvino_model.xml', 'config.json']) expect(digestOf(derived, file), file).toBe(digestOf(direct, file));
  }, TIMEOUT);

  it('rounds every bf16 value to fp16 as torch does when it derives an FP16 variant (ties to even, overflow to inf)', async () => {
    const compared = await runSupportScript<{ checked: number; mismatches: number; first: unknown[] }>(openvinoPython, 'f16_rounding.py', []);
    expect(compared).toEqual({ checked: 65536, mismatches: 0, first: [] });
  }, TIMEOUT);

  it('rebuilds an unchanged recipe from the cache without running a converter', async () => {
    const cwd = await workspace();
    expect((await build(cwd, [repoRecipe('demo/phi3-tiny-int4-ov.yaml')])).exitCode).toBe(0);
    const result = await build(cwd, [repoRecipe('demo/phi3-tiny-int4-ov.yaml')]);
    expect(result.exitCode, result.stderr).toBe(0);
    const body = JSON.parse(result.stdout);
    expect(body.results[0].steps.every((step: { reused: boolean }) => step.reused)).toBe(true);
  }, TIMEOUT);

  it('builds three variants that say export: shared in one command from one PyTorch conversion, visible in the manifests', async () => {
    const cwd = await workspace();
    const cache = await freshCache(cwd);
    const recipes = await Promise.all(['phi3-tiny-fp16-ov', 'phi3-tiny-int4-ov', 'phi3-tiny-int4-cw-ov'].map((name) => withSharedExport(cwd, repoRecipe(`demo/${name}.yaml`))));
    const result = await runCli(['build', ...recipes, '--cache-dir', cache, '--out', 'dist', '--no-validate', '--json'], { cwd });
    expect(result.exitCode, result.stderr).toBe(0);
    const manifests = await Promise.all(['phi3-tiny-fp16-ov', 'phi3-tiny-int4-ov', 'phi3-tiny-int4-cw-ov'].map((name) => manifestOf(path.join(cwd, 'dist', name))));
    const bases = manifests.map((manifest) => stepOf(manifest, 'base'));
    expect(new Set(bases.map((base) => base.key)).size).toBe(1);
    // Converted once, here: the first recipe ran the conversion, the others used it; each derived its own variant.
    expect(bases.map((base) => base.reused)).toEqual([false, true, true]);
    expect(manifests.map((manifest) => [stepOf(manifest, 'export').reused, manifest.recipe.resolved.export])).toEqual(Array(3).fill([false, 'shared']));
    for (const manifest of manifests) expect(stepOf(manifest, 'export').command).toContain('derive_variant.py');
    const modes = manifests.map((manifest) => stepOf(manifest, 'export').facts.weight_compression?.mode ?? 'none');
    expect(modes).toEqual(['none', 'int4_sym', 'int4_sym']);
    expect(stepOf(manifests[2], 'export').facts.weight_compression).toMatchObject({ group_size: -1, ratio: 1 });
  }, TIMEOUT);

  it('builds the FP16 demo with FP16 weights and no compression recorded', async () => {
    const cwd = await workspace();
    const result = await build(cwd, [repoRecipe('demo/phi3-tiny-fp16-ov.yaml')]);
    expect(result.exitCode, result.stderr).toBe(0);
    const facts = await runSupportScript<IrFacts>(openvinoPython, 'ir_facts.py', [path.join(cwd, 'dist', 'phi3-tiny-fp16-ov', 'openvino_model.xml')]);
    expect(facts.weight_compression).toBeNull();
    expect(facts.f16_constants).toBeGreaterThan(0);
    expect(facts.int4_constants).toBe(0);
  }, TIMEOUT);

  it('builds the longrope preset (Phi-3-mini-128k style rope scaling) to INT4', async () => {
    const cwd = await workspace();
    const recipe = (await readFile(repoRecipe('demo/phi3-tiny-int4-ov.yaml'), 'utf8')).replace('phi3-mini-tiny', 'phi3-longrope-tiny').replace('name: phi3-tiny-int4-ov', 'name: phi3-longrope-tiny-int4-ov');
    await mkdir(path.join(cwd, 'recipes'), { recursive: true });
    await writeFile(path.join(cwd, 'recipes', 'longrope.yaml'), recipe);
    const result = await build(cwd, ['recipes/longrope.yaml']);
    expect(result.exitCode, result.stderr).toBe(0);
    const artifact = path.join(cwd, 'dist', 'phi3-longrope-tiny-int4-ov');
    const config = JSON.parse(await readFile(path.join(artifact, 'config.json'), 'utf8'));
    expect(JSON.stringify(config)).toContain('longrope');
    const facts = await runSupportScript<IrFacts>(openvinoPython, 'ir_facts.py', [path.join(artifact, 'openvino_model.xml')]);
    expect(facts.weight_compression).toEqual({ mode: 'int4_sym', group_size: '128', ratio: '0.6' });
    const generated = await runSupportScript<{ new_tokens: number }>(openvinoPython, 'load_like_guide.py', [artifact, 'CPU']);
    expect(generated.new_tokens).toBe(8);
  }, TIMEOUT);

  it('builds the hub recipe from a local Phi-3 folder given with --model, with the guide\'s flags', async () => {
    const cwd = await workspace();
    // The demo derived from the shared conversion (export: shared), to compare with the direct export below.
    const derivedBuild = await build(cwd, [await withSharedExport(cwd, repoRecipe('demo/phi3-tiny-int4-ov.yaml'))]);
    expect(derivedBuild.exitCode, derivedBuild.stderr).toBe(0);
    // The synthetic model is a Phi-3 checkpoint folder like any downloaded one.
    const modelDir = await demoModel(cwd);
    const localCopy = path.join(cwd, 'Phi-3-local');
    await cp(modelDir, localCopy, { recursive: true });

    const result = await build(cwd, [repoRecipe('phi3-int4-ov.yaml'), '--model', localCopy]);
    expect(result.exitCode, result.stderr).toBe(0);
    const manifest = await manifestOf(path.join(cwd, 'dist', 'phi3-mini-4k-int4-ov'));
    expect(manifest.model).toMatchObject({ source: 'local', path: localCopy, override: localCopy });
    // The recipe's description names Phi-3-mini-4k-instruct; this artifact says what it was made from.
    expect(manifest.description).toBe(`the local model ${localCopy} (--model), with the settings of recipe phi3-mini-4k-int4-ov`);
    const exportStep = manifest.steps.find((step: { id: string }) => step.id === 'export');
    expect(exportStep.command).toContain(`ln -sfn ${localCopy} model && `);
    expect(exportStep.command).toContain('--model model --task text-generation-with-past --weight-format int4 --group-size 128 --ratio 0.6 --sym --trust-remote-code out');

    // The same files in another folder reuse that export; the manifest gives the command as this build
    // would run it, and the one that made the bytes as cached_command.
    const secondCopy = path.join(cwd, 'Phi-3-elsewhere');
    await cp(modelDir, secondCopy, { recursive: true });
    const again = await runCli(['build', repoRecipe('phi3-int4-ov.yaml'), '--model', secondCopy, '--cache-dir', SHARED_CACHE, '--out', 'dist-elsewhere'], { cwd });
    expect(again.exitCode, again.stderr).toBe(0);
    const elsewhere = (await manifestOf(path.join(cwd, 'dist-elsewhere', 'phi3-mini-4k-int4-ov'))).steps.find((step: { id: string }) => step.id === 'export');
    expect(elsewhere).toMatchObject({ reused: true, key: exportStep.key });
    expect(elsewhere.command).toContain(`ln -sfn ${secondCopy} model && `);
    expect(elsewhere.cached_command).toBeDefined();
    expect(elsewhere.cached_command).not.toContain(secondCopy);

    // The same model and settings, derived from the shared IR by the demo recipe: the same weight bytes as this direct export.
    const derived = await manifestOf(path.join(cwd, 'dist', 'phi3-tiny-int4-ov'));
    const binOf = (files: Array<{ path: string; sha256: string }>) => files.find((file) => file.path === 'openvino_model.bin')!.sha256;
    expect(binOf(manifest.files)).toBe(binOf(derived.files));
    expect(exportStep.facts.weight_compression).toEqual(derived.steps.find((step: { id: string }) => step.id === 'export').facts.weight_compression);
  }, TIMEOUT);

  it('never lets a build from another --model replace an artifact: it is refused with a hint, and --name keeps both', async () => {
    const cwd = await workspace();
    const modelDir = await demoModel(cwd);
    await cp(modelDir, path.join(cwd, 'model-a'), { recursive: true });
    await cp(modelDir, path.join(cwd, 'model-b'), { recursive: true });
    // Another model: the same layout with one weight file changed.
    const config = JSON.parse(await readFile(path.join(cwd, 'model-b', 'config.json'), 'utf8'));
    await writeFile(path.join(cwd, 'model-b', 'config.json'), JSON.stringify({ ...config, phiforge_test_variant: 'b' }, null, 2));
    const first = await build(cwd, [repoRecipe('phi3-int4-ov.yaml'), '--model', 'model-a', '--no-validate']);
    expect(first.exitCode, first.stderr).toBe(0);
    const before = await readFile(path.join(cwd, 'dist', 'phi3-mini-4k-int4-ov', 'manifest.json'), 'utf8');

    const clash = await build(cwd, [repoRecipe('phi3-int4-ov.yaml'), '--model', 'model-b', '--no-validate']);
    expect(clash.exitCode).toBe(2);
    expect(clash.stderr).toContain('holds an artifact built from another model (--model model-a)');
    expect(clash.stderr).toContain('hint: Give this artifact its own name: --name phi3-mini-4k-int4-ov-model-b');
    expect(await readFile(path.join(cwd, 'dist', 'phi3-mini-4k-int4-ov', 'manifest.json'), 'utf8')).toBe(before);

    const named = await build(cwd, [repoRecipe('phi3-int4-ov.yaml'), '--model', 'model-b', '--name', 'phi3-mini-4k-int4-ov-model-b', '--no-validate']);
    expect(named.exitCode, named.stderr).toBe(0);
    expect((await manifestOf(path.join(cwd, 'dist', 'phi3-mini-4k-int4-ov-model-b'))).model.override).toBe('model-b');
    expect(await readFile(path.join(cwd, 'dist', 'phi3-mini-4k-int4-ov', 'manifest.json'), 'utf8')).toBe(before);
    // The same model again is a rebuild, not a clash.
    expect((await build(cwd, [repoRecipe('phi3-int4-ov.yaml'), '--model', 'model-a', '--no-validate'])).exitCode).toBe(0);
  }, TIMEOUT);

  it('shows the command, exit code and stderr tail of a failing converter, and leaves no half-made artifact', async () => {
    const cwd = await workspace();
    const broken = path.join(cwd, 'broken-phi3');
    await mkdir(broken, { recursive: true });
    await writeFile(path.join(broken, 'config.json'), JSON.stringify({ model_type: 'phi3', architectures: ['Phi3ForCausalLM'], hidden_size: 256, intermediate_size: 768, num_hidden_layers: 1, num_attention_heads: 4, num_key_value_heads: 2, vocab_size: 1152 }));
    // Pickled weights have no header phiforge can check before a step runs (a safetensors file that
    // does not fit the config is refused at once): only the converter finds out this one is no pickle.
    await writeFile(path.join(broken, 'pytorch_model.bin'), 'not a pickle');

    const result = await runCli(['build', repoRecipe('phi3-int4-ov.yaml'), '--model', broken, '--cache-dir', SHARED_CACHE, '--out', 'dist'], { cwd });
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain('error: step export exited with code 1');
    expect(result.stderr).toMatch(/command: \(cd \S+ && ln -sfn \S*broken-phi3 model && env HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TMPDIR=\S+ GLIBC_TUNABLES=glibc\.malloc\.hugetlb=1 \S+optimum-cli export openvino --model model /);
    expect(result.stderr).toContain('exit code: 1');
    expect(result.stderr).toMatch(/last \d+ lines of stderr:\n(\s+\| .*\n)+/);
    const logPath = /log: (\S+)/.exec(result.stderr)![1];
    expect(existsSync(logPath)).toBe(true);
    expect(existsSync(path.join(cwd, 'dist'))).toBe(false);
  }, TIMEOUT);
});
