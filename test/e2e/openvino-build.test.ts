import { existsSync } from 'node:fs';
import { cp, mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { PRESETS } from '../../src/recipe/model-files.js';
import { REPO_ROOT, runCli, runSupportScript, SHARED_CACHE, toolchainPython, workspace } from '../support/cli.js';

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
    // Which export path was taken is recorded, so a rebuild from the manifest takes the same.
    expect(manifest.recipe.resolved.export).toMatch(/^(direct|shared)$/);
    const listed = new Map(manifest.files.map((file: { path: string; sha256: string }) => [file.path, file.sha256]));
    // Every shipped file is listed with its digest, the source model's answers among them; the manifest
    // and the device results in validation/ describe them.
    expect([...listed.keys()].sort()).toEqual((await readdir(artifact)).filter((name) => !['manifest.json', 'validation'].includes(name)).sort());
    expect(listed.has('reference.json')).toBe(true);
  }, TIMEOUT);

  it('a lone INT4 recipe exports in one optimum-cli pass, with the same weight bytes as a variant derived from the shared conversion', async () => {
    const cwd = await workspace();
    const cache = path.join(cwd, 'cache');
    await mkdir(cache);
    for (const shared of ['toolchains', 'tools']) await symlink(path.join(SHARED_CACHE, shared), path.join(cache, shared));
    const lone = await runCli(['build', repoRecipe('demo/phi3-tiny-int4-ov.yaml'), '--cache-dir', cache, '--out', 'dist', '--no-validate', '--json'], { cwd });
    expect(lone.exitCode, lone.stderr).toBe(0);
    const direct = await manifestOf(path.join(cwd, 'dist', 'phi3-tiny-int4-ov'));
    const base = direct.steps.find((step: { id: string }) => step.id === 'base');
    expect(base.facts).toEqual({ export: 'direct', why: 'the only variant of this model in this build, and no shared conversion is cached: one optimum-cli pass' });
    expect(direct.steps.find((step: { id: string }) => step.id === 'export').command).toContain('optimum-cli export openvino --model model --task text-generation-with-past --weight-format int4 --group-size 128 --ratio 0.6 --sym out');
    expect(direct.recipe.resolved.export).toBe('direct');
    const planned = await runCli(['plan', repoRecipe('demo/phi3-tiny-int4-ov.yaml'), '--cache-dir', cache], { cwd });
    expect(planned.stdout).toContain('no shared conversion: the only variant of this model in this build');

    const forced = (await readFile(repoRecipe('demo/phi3-tiny-int4-ov.yaml'), 'utf8')).replace('name: phi3-tiny-int4-ov', 'name: shared-int4').replace('pipeline: openvino\n', 'pipeline: openvino\nexport: shared\n');
    await writeFile(path.join(cwd, 'shared.yaml'), forced);
    expect((await runCli(['build', 'shared.yaml', '--cache-dir', cache, '--out', 'dist', '--no-validate'], { cwd })).exitCode).toBe(0);
    const derived = await manifestOf(path.join(cwd, 'dist', 'shared-int4'));
    expect(derived.steps.find((step: { id: string }) => step.id === 'export').command).toContain('derive_variant.py');
    const bin = (manifest: { files: Array<{ path: string; sha256: string }> }) => manifest.files.find((file) => file.path === 'openvino_model.bin')!.sha256;
    expect(bin(derived)).toBe(bin(direct));
    // Now that the shared conversion is cached, a lone variant uses it too.
    const replanned = await runCli(['plan', repoRecipe('demo/phi3-tiny-fp16-ov.yaml'), '--cache-dir', cache], { cwd });
    expect(replanned.stdout).toContain('the shared conversion of this model is cached already');
  }, TIMEOUT);

  it('an FP16 variant derived from the shared conversion has the direct optimum-cli export\'s model bytes', async () => {
    const cwd = await workspace();
    const cache = path.join(cwd, 'cache');
    await mkdir(cache);
    for (const shared of ['toolchains', 'tools']) await symlink(path.join(SHARED_CACHE, shared), path.join(cache, shared));
    const recipe = await readFile(repoRecipe('demo/phi3-tiny-fp16-ov.yaml'), 'utf8');
    await writeFile(path.join(cwd, 'direct.yaml'), recipe.replace(/^name: .*$/m, 'name: direct-fp16').replace('pipeline: openvino\n', 'pipeline: openvino\nexport: direct\n'));
    await writeFile(path.join(cwd, 'shared.yaml'), recipe.replace(/^name: .*$/m, 'name: shared-fp16').replace('pipeline: openvino\n', 'pipeline: openvino\nexport: shared\n'));
    for (const file of ['direct.yaml', 'shared.yaml']) {
      const result = await runCli(['build', file, '--cache-dir', cache, '--out', 'dist', '--no-validate'], { cwd });
      expect(result.exitCode, result.stderr).toBe(0);
    }
    const [direct, derived] = await Promise.all(['direct-fp16', 'shared-fp16'].map((name) => manifestOf(path.join(cwd, 'dist', name))));
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

  it('builds three variants in one command from one PyTorch conversion, visible in the manifests', async () => {
    const cwd = await workspace();
    const result = await build(cwd, ['demo/phi3-tiny-fp16-ov.yaml', 'demo/phi3-tiny-int4-ov.yaml', 'demo/phi3-tiny-int4-cw-ov.yaml'].map(repoRecipe));
    expect(result.exitCode, result.stderr).toBe(0);
    const manifests = await Promise.all(['phi3-tiny-fp16-ov', 'phi3-tiny-int4-ov', 'phi3-tiny-int4-cw-ov'].map((name) => manifestOf(path.join(cwd, 'dist', name))));
    const bases = manifests.map((manifest) => manifest.steps.find((step: { id: string }) => step.id === 'base'));
    expect(new Set(bases.map((base) => base.key)).size).toBe(1);
    expect(bases.filter((base) => !base.reused).length).toBeLessThanOrEqual(1);
    const modes = manifests.map((manifest) => manifest.steps.find((step: { id: string }) => step.id === 'export').facts.weight_compression?.mode ?? 'none');
    expect(modes).toEqual(['none', 'int4_sym', 'int4_sym']);
    const channelWise = manifests[2].steps.find((step: { id: string }) => step.id === 'export').facts.weight_compression;
    expect(channelWise).toMatchObject({ group_size: -1, ratio: 1 });
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
    // The demo derived from the shared conversion (forced here), to compare with the direct export below.
    const shared = (await readFile(repoRecipe('demo/phi3-tiny-int4-ov.yaml'), 'utf8')).replace('pipeline: openvino\n', 'pipeline: openvino\nexport: shared\n');
    await mkdir(path.join(cwd, 'recipes'), { recursive: true });
    await writeFile(path.join(cwd, 'recipes', 'shared.yaml'), shared);
    const derivedBuild = await build(cwd, ['recipes/shared.yaml']);
    expect(derivedBuild.exitCode, derivedBuild.stderr).toBe(0);
    expect(JSON.parse(derivedBuild.stdout).results[0].steps.find((step: { id: string }) => step.id === 'base').key).not.toBe(undefined);
    // The synthetic model is a Phi-3 checkpoint folder like any downloaded one.
    const planned = await runCli(['plan', repoRecipe('demo/phi3-tiny-int4-ov.yaml'), '--cache-dir', SHARED_CACHE, '--json'], { cwd });
    const modelDir = JSON.parse(planned.stdout).steps.find((step: { id: string }) => step.id === 'model').output;
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
    const planned = await runCli(['plan', repoRecipe('demo/phi3-tiny-int4-ov.yaml'), '--cache-dir', SHARED_CACHE, '--json'], { cwd });
    const modelDir = JSON.parse(planned.stdout).steps.find((step: { id: string }) => step.id === 'model').output;
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
    // A well-formed safetensors file (a damaged one is refused before any step runs) whose one tensor
    // fits nothing the config describes: only the converter finds out.
    const header = Buffer.from(JSON.stringify({ 'model.embed_tokens.weight': { dtype: 'F32', shape: [2, 2], data_offsets: [0, 16] } }).padEnd(80));
    const headerLength = Buffer.alloc(8);
    headerLength.writeBigUInt64LE(BigInt(header.length));
    await writeFile(path.join(broken, 'model.safetensors'), Buffer.concat([headerLength, header, Buffer.alloc(16)]));

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
