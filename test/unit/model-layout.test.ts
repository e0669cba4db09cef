import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, open, readdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkModelFolderEntries, checkModelWeights, ModelFileProblem, PRESETS, readModelShape } from '../../src/recipe/model-files.js';
import { phi3Layout, phi3Tensors, summarizeNames } from '../../src/recipe/model-layout.js';
import { readSafetensorsHeader } from '../../src/recipe/safetensors.js';
import { REPO_ROOT, workspace } from '../support/cli.js';
import { phiforge } from '../support/in-process.js';
import { rawSafetensors, safetensors, TINY_PHI3_CONFIG, tinyPhi3Folder, tinyPhi3Tensors } from '../support/safetensors.js';
import { TINY_INT4 } from '../support/recipes.js';

// The model must be what the recipe says it is, known from config.json and the safetensors headers
// alone, before any venv or converter starts: a Phi-3 layout, whole files, the tensors that layout needs.

/** The ModelFileProblem `check` throws, as the user reads it (message and hint). */
async function problemOf(check: () => Promise<unknown>): Promise<{ message: string; hint: string }> {
  try {
    await check();
  } catch (error) {
    if (error instanceof ModelFileProblem) return { message: error.message, hint: error.hint };
    throw error;
  }
  throw new Error('expected a ModelFileProblem, but the check passed');
}

async function tinyFolder(options: Parameters<typeof tinyPhi3Folder>[1] = {}): Promise<string> {
  return path.join(await workspace(tinyPhi3Folder('model', options)), 'model');
}

async function checkFolder(folder: string) {
  await checkModelFolderEntries(folder);
  return checkModelWeights(folder, await readModelShape(folder));
}

describe('safetensors headers', () => {
  const one = (header: unknown, data: number) => workspace({ 'x.safetensors': rawSafetensors(header, data) }).then((dir) => path.join(dir, 'x.safetensors'));
  const entry = (shape: number[], offsets: [number, number], dtype = 'F32') => ({ dtype, shape, data_offsets: offsets });

  it('accepts a well-formed file and reports its tensors', async () => {
    const dir = await workspace({ 'x.safetensors': safetensors([{ name: 'a', shape: [2, 3] }, { name: 'b', shape: [4], dtype: 'F32' }]) });
    const header = await readSafetensorsHeader(path.join(dir, 'x.safetensors'));
    expect(header.tensors.map((tensor) => [tensor.name, tensor.dtype, tensor.shape])).toEqual([
      ['a', 'BF16', [2, 3]],
      ['b', 'F32', [4]],
    ]);
  });

  it.each([
    ['a null header', null, 0, 'its header is null, not a JSON object of tensors'],
    ['a list as header', [1, 2], 0, 'its header is a list'],
    ['a null tensor entry', { a: null }, 0, 'tensor a is null, not an entry with dtype, shape and data_offsets'],
    ['a tensor whose start is after its end', { a: entry([4], [16, 0]) }, 16, 'tensor a starts at byte 16 of the data, after its end (0)'],
    ['a shape that disagrees with its byte range', { a: entry([4, 4], [0, 16]) }, 16, 'tensor a is F32 of shape [4, 4], 64 bytes, but its data_offsets span 16 bytes'],
    ['overlapping ranges', { a: entry([4], [0, 16]), b: entry([4], [8, 24]) }, 24, 'tensor b (bytes 8-24) overlaps tensor a (bytes 0-16)'],
    ['a gap between tensors', { a: entry([4], [0, 16]), b: entry([4], [20, 36]) }, 36, 'tensor b starts at byte 20 of the data, but tensor a ends at byte 16: 4 bytes belong to no tensor'],
    ['bytes after the last tensor', { a: entry([4], [0, 16]) }, 20, 'bytes belong to no tensor'],
    ['a truncated file', { a: entry([16, 16], [0, 1024]) }, 100, 'its tensors need'],
    ['an unknown dtype', { a: entry([4], [0, 16], 'F128') }, 16, 'tensor a has dtype "F128", which safetensors does not define'],
    ['a negative size', { a: entry([-4], [0, 16]) }, 16, 'tensor a has shape [-4], not a list of sizes'],
    ['a shape whose product overflows', { a: entry([2 ** 40, 2 ** 40], [0, 16]) }, 16, 'but its data_offsets span 16 bytes'],
    ['__metadata__ that is not strings', { __metadata__: { format: 1 } }, 0, 'its __metadata__ is not a mapping of strings'],
  ])('refuses %s, naming the file and the tensor', async (_what, header, data, says) => {
    const file = await one(header, data);
    const { message, hint } = await problemOf(() => readSafetensorsHeader(file));
    expect(message).toContain(`${file} is damaged: `);
    expect(message).toContain(says);
    expect(hint).not.toBe('');
  });

  it('refuses a header length beyond 100 MiB without reading it', async () => {
    const dir = await workspace();
    const file = path.join(dir, 'huge.safetensors');
    const length = Buffer.alloc(8);
    length.writeBigUInt64LE(2n ** 40n);
    await writeFile(file, Buffer.concat([length, Buffer.from('{}')]));
    expect((await problemOf(() => readSafetensorsHeader(file))).message).toContain('its header claims 1099511627776 bytes; phiforge reads headers of at most 100 MiB');
  });

  it('reads only the header: a 7.6 GB checkpoint is checked in milliseconds', async () => {
    // Phi-3-mini's size as a sparse file: the header says where every byte is, none of them is read.
    const dir = await workspace();
    const file = path.join(dir, 'model.safetensors');
    const big = rawSafetensors({ a: { dtype: 'BF16', shape: [3_800_000_000], data_offsets: [0, 7_600_000_000] } }, 0);
    await writeFile(file, big, 'latin1');
    const handle = await open(file, 'r+');
    await handle.truncate(Buffer.byteLength(big, 'latin1') + 7_600_000_000);
    await handle.close();
    const started = performance.now();
    const header = await readSafetensorsHeader(file);
    expect(performance.now() - started).toBeLessThan(200);
    expect(header.size).toBeGreaterThan(7_600_000_000);
  });
});

describe('the Phi-3 layout of config.json', () => {
  const file = '/m/config.json';
  const refusal = (config: Record<string, unknown>) => {
    try {
      phi3Layout(config, file);
    } catch (error) {
      return (error as ModelFileProblem).message;
    }
    return undefined;
  };

  it('accepts every preset phiforge generates, and the layouts of the published Phi-3 family', () => {
    for (const [name, preset] of Object.entries(PRESETS)) expect(refusal(preset.shape as Record<string, unknown>), name).toBeUndefined();
    // Phi-3-mini-128k: LongRoPE with 48 factors (head size 96); Phi-4-mini: rotary on 3/4 of each 128-wide head, tied embeddings.
    const factors = (count: number) => Array.from({ length: count }, () => 1);
    expect(refusal({ model_type: 'phi3', architectures: ['Phi3ForCausalLM'], hidden_size: 3072, num_attention_heads: 32, rope_scaling: { type: 'longrope', short_factor: factors(48), long_factor: factors(48) } })).toBeUndefined();
    expect(refusal({ model_type: 'phi3', architectures: ['Phi3ForCausalLM'], hidden_size: 3072, num_attention_heads: 24, num_key_value_heads: 8, partial_rotary_factor: 0.75, tie_word_embeddings: true, rope_scaling: { type: 'longrope', short_factor: factors(48), long_factor: factors(48) } })).toBeUndefined();
  });

  it.each([
    ['another architecture', { model_type: 'llama' }, 'model_type is "llama"; phiforge builds the Phi-3 layout'],
    ['Phi-2', { model_type: 'phi' }, 'model_type is "phi"'],
    ['no model_type', {}, 'model_type is missing'],
    ['architectures of another model', { model_type: 'phi3', architectures: ['LlamaForCausalLM'] }, 'architectures is ["LlamaForCausalLM"] with model_type "phi3"'],
    ['a pre-quantized checkpoint', { model_type: 'phi3', quantization_config: { quant_method: 'gptq' } }, 'it has a quantization_config (gptq)'],
    ['hidden_size 0', { model_type: 'phi3', hidden_size: 0 }, 'hidden_size is 0; it must be a positive whole number'],
    ['a size that is a word', { model_type: 'phi3', hidden_size: 'big' }, 'hidden_size is "big"'],
    ['a fractional size', { model_type: 'phi3', num_hidden_layers: 2.5 }, 'num_hidden_layers is 2.5'],
    ['heads that do not divide the width', { model_type: 'phi3', hidden_size: 100, num_attention_heads: 32 }, 'hidden_size (100) is not divisible by num_attention_heads (32)'],
    ['KV heads that do not divide the heads', { model_type: 'phi3', num_attention_heads: 32, num_key_value_heads: 5 }, 'num_attention_heads (32) is not a multiple of num_key_value_heads (5)'],
    ['an unknown RoPE', { model_type: 'phi3', rope_scaling: { type: 'dynamic' } }, 'rope_scaling has type "dynamic"'],
    ['LongRoPE factors of the wrong count', { model_type: 'phi3', rope_scaling: { type: 'longrope', short_factor: [1, 1], long_factor: [1, 1] } }, 'rope_scaling.short_factor has 2 factors; this layout\'s heads rotate 48 frequency pairs'],
    ['tie_word_embeddings as a string', { model_type: 'phi3', tie_word_embeddings: 'yes' }, 'tie_word_embeddings is "yes"'],
  ])('refuses %s, naming config.json and the key', (_what, config, says) => {
    const message = refusal(config);
    expect(message).toContain(`${file}: `);
    expect(message).toContain(says);
  });

  it('needs the tensors transformers\' Phi3ForCausalLM loads, lm_head only when untied', () => {
    const layout = phi3Layout({ ...TINY_PHI3_CONFIG }, file);
    expect(phi3Tensors(layout).map(({ name, shape }) => ({ name, shape }))).toEqual(expect.arrayContaining(tinyPhi3Tensors().map(({ name, shape }) => ({ name, shape }))));
    expect(phi3Tensors({ ...layout, tied: true }).find((tensor) => tensor.name === 'lm_head.weight')?.optional).toBe(true);
  });

  it('folds layer numbers in the names it lists', () => {
    const names = [0, 1, 2, 3].flatMap((layer) => [`model.layers.${layer}.self_attn.qkv_proj.weight`, `model.layers.${layer}.mlp.gate_up_proj.weight`]);
    expect(summarizeNames(names)).toBe('model.layers.{0..3}.self_attn.qkv_proj.weight, model.layers.{0..3}.mlp.gate_up_proj.weight');
    expect(summarizeNames(['model.layers.0.a', 'model.layers.5.a', 'lm_head.weight'])).toBe('model.layers.{0, 5}.a, lm_head.weight');
  });
});

describe('a model folder', () => {
  it('is accepted when it holds the Phi-3 tensors its config.json describes', async () => {
    expect(await checkFolder(await tinyFolder())).toBe('safetensors');
    // Tied embeddings: save_pretrained leaves lm_head out.
    expect(await checkFolder(await tinyFolder({ config: { tie_word_embeddings: true }, tensors: (all) => all.filter((tensor) => tensor.name !== 'lm_head.weight') }))).toBe('safetensors');
  });

  it('is accepted when it is a model phiforge generated (the real files in the shared cache, when a build made them)', async () => {
    const steps = path.join(REPO_ROOT, 'cache', 'steps');
    const generated = existsSync(steps) ? (await readdir(steps)).map((entry) => path.join(steps, entry, 'out')).filter((out) => existsSync(path.join(out, 'model.safetensors'))) : [];
    for (const folder of generated) expect(await checkFolder(folder), folder).toBe('safetensors');
  });

  it('is refused when its weights are laid out for Llama, naming the tensors', async () => {
    const folder = await tinyFolder({
      tensors: (all) =>
        all.flatMap((tensor) =>
          tensor.name.endsWith('qkv_proj.weight') ? ['q', 'k', 'v'].map((part) => ({ name: tensor.name.replace('qkv_proj', `${part}_proj`), shape: [part === 'q' ? 128 : 64, 128] })) : [tensor],
        ),
    });
    const { message, hint } = await problemOf(() => checkFolder(folder));
    expect(message).toContain(`${folder}/model.safetensors lacks 1 tensor config.json's Phi-3 layout`);
    expect(message).toContain('model.layers.0.self_attn.qkv_proj.weight');
    expect(message).toContain('holds 3 tensors no Phi-3 model has: model.layers.0.self_attn.q_proj.weight, model.layers.0.self_attn.k_proj.weight');
    expect(hint).toContain("Llama's layout; Phi-3 fuses them into qkv_proj and gate_up_proj");
  });

  it('is refused when a tensor has another shape than config.json needs', async () => {
    const folder = await tinyFolder({ config: { num_key_value_heads: 4 } });
    const { message } = await problemOf(() => checkFolder(folder));
    expect(message).toContain('tensor model.layers.0.self_attn.qkv_proj.weight has shape [256, 128], but config.json\'s Phi-3 layout (hidden_size 128, 1 layer, 4 heads, 4 KV heads');
    expect(message).toContain('needs [384, 128]');
  });

  it('is refused when its weights are integers (a quantized checkpoint)', async () => {
    const folder = await tinyFolder({ tensors: (all) => all.map((tensor) => (tensor.name === 'model.norm.weight' ? { ...tensor, dtype: 'I8' } : tensor)) });
    expect((await problemOf(() => checkFolder(folder))).message).toContain('tensor model.norm.weight is stored as I8');
  });

  it('is checked shard by shard when the checkpoint is sharded', async () => {
    const tensors = tinyPhi3Tensors();
    const [first, second] = [tensors.slice(0, 4), tensors.slice(4)];
    const shard = (index: number) => `model-0000${index}-of-00002.safetensors`;
    const index = (map: Record<string, string>) => JSON.stringify({ metadata: { total_size: 0 }, weight_map: map });
    const weightMap = Object.fromEntries([...first.map((tensor) => [tensor.name, shard(1)]), ...second.map((tensor) => [tensor.name, shard(2)])]);
    const files = { 'm/config.json': JSON.stringify(TINY_PHI3_CONFIG), [`m/${shard(1)}`]: safetensors(first), [`m/${shard(2)}`]: safetensors(second) };
    const good = path.join(await workspace({ ...files, 'm/model.safetensors.index.json': index(weightMap) }), 'm');
    expect(await checkFolder(good)).toBe('safetensors');

    const withoutSecond = Object.fromEntries(Object.entries(files).filter(([name]) => name !== `m/${shard(2)}`));
    const lost = path.join(await workspace({ ...withoutSecond, 'm/model.safetensors.index.json': index(weightMap) }), 'm');
    expect((await problemOf(() => checkFolder(lost))).message).toContain(`names the shard ${shard(2)}, which is not in the folder`);

    const wrong = path.join(await workspace({ ...files, 'm/model.safetensors.index.json': index({ ...weightMap, 'model.norm.weight': shard(1) }) }), 'm');
    expect((await problemOf(() => checkFolder(wrong))).message).toContain(`puts tensor model.norm.weight in ${shard(1)}, but ${shard(1)}'s header has no such tensor`);

    const escaping = path.join(await workspace({ ...files, 'm/model.safetensors.index.json': index({ ...weightMap, 'model.norm.weight': '../elsewhere.safetensors' }) }), 'm');
    expect((await problemOf(() => checkFolder(escaping))).message).toContain('not a file name inside the model folder');

    const noIndex = path.join(await workspace(files), 'm');
    expect((await problemOf(() => checkFolder(noIndex))).message).toContain('but neither model.safetensors nor model.safetensors.index.json');
  });

  it('says when it holds no weights at all, or only pickled ones it cannot read cheaply', async () => {
    const configOnly = path.join(await workspace({ 'm/config.json': JSON.stringify(TINY_PHI3_CONFIG) }), 'm');
    expect(await checkFolder(configOnly)).toBe('none');
    const pickled = path.join(await workspace({ 'm/config.json': JSON.stringify(TINY_PHI3_CONFIG), 'm/pytorch_model.bin': 'PK' }), 'm');
    expect(await checkFolder(pickled)).toBe('pytorch');
  });

  it('is refused, never read, when it holds a FIFO, a link that loops or a link to nothing', async () => {
    const fifo = await tinyFolder();
    execFileSync('mkfifo', [path.join(fifo, 'tokenizer.json')]);
    expect((await problemOf(() => checkModelFolderEntries(fifo))).message).toBe(`${fifo}/tokenizer.json is a FIFO (named pipe), not a regular file; phiforge does not read it`);

    const fifoConfig = path.join(await workspace({ 'm/readme.txt': 'x' }), 'm');
    execFileSync('mkfifo', [path.join(fifoConfig, 'config.json')]);
    expect((await problemOf(() => readModelShape(fifoConfig))).message).toContain('config.json is a FIFO (named pipe), not a regular file');

    const looping = await tinyFolder();
    await symlink('weights.safetensors', path.join(looping, 'weights.safetensors'));
    expect((await problemOf(() => checkModelFolderEntries(looping))).message).toBe(`${looping}/weights.safetensors is a symbolic link that loops (ELOOP)`);

    const folderLoop = await tinyFolder();
    await mkdir(path.join(folderLoop, 'sub'));
    await symlink('..', path.join(folderLoop, 'sub', 'up'));
    expect((await problemOf(() => checkModelFolderEntries(folderLoop))).message).toContain('is a link back to a folder already inside the model folder (a loop)');

    const dangling = await tinyFolder();
    await symlink('../blobs/gone', path.join(dangling, 'tokenizer.json'));
    expect((await problemOf(() => checkModelFolderEntries(dangling))).message).toContain('tokenizer.json is a symbolic link to nothing (its target ../blobs/gone does not exist)');
  });
});

describe('phiforge build with a model folder that is not what it claims', () => {
  const recipe = (source: string) => `name: tiny\n${TINY_INT4.replace('synthetic: phi3-mini-tiny', source)}`;

  it('refuses a symlink loop or a FIFO in a --model folder with exit 2, never an internal error or a hang', async () => {
    const cwd = await workspace({ 'recipe.yaml': recipe('synthetic: phi3-mini-tiny'), ...tinyPhi3Folder('model') });
    await symlink('model.safetensors.loop', path.join(cwd, 'model', 'model.safetensors.loop'));
    const looped = await phiforge(['build', 'recipe.yaml', '--model', 'model', '--cache-dir', path.join(cwd, 'cache')], { cwd });
    expect(looped.exitCode, looped.stderr).toBe(2);
    expect(looped.stderr).toContain(`error: --model model: ${cwd}/model/model.safetensors.loop is a symbolic link that loops (ELOOP)`);
    expect(looped.stderr).toContain('hint: ');
    expect(looped.stderr).not.toContain('internal error');

    const piped = await workspace({ 'recipe.yaml': recipe('path: ./model'), ...tinyPhi3Folder('model') });
    execFileSync('mkfifo', [path.join(piped, 'model', 'tokenizer.json')]);
    const fifo = await phiforge(['build', 'recipe.yaml', '--cache-dir', path.join(piped, 'cache')], { cwd: piped });
    expect(fifo.exitCode, fifo.stderr).toBe(2);
    expect(fifo.stderr).toContain('recipe.yaml:3:9 model.path: ');
    expect(fifo.stderr).toContain('tokenizer.json is a FIFO (named pipe), not a regular file; phiforge does not read it');
    expect(existsSync(path.join(piped, 'cache', 'toolchains'))).toBe(false);
  });

  it('plans from a folder that holds only config.json (doctor estimates from it), but does not build from it', async () => {
    const cwd = await workspace({ 'recipe.yaml': recipe('path: ./model'), 'model/config.json': JSON.stringify(TINY_PHI3_CONFIG) });
    const planned = await phiforge(['plan', 'recipe.yaml', '--cache-dir', path.join(cwd, 'cache')], { cwd });
    expect(planned.exitCode, planned.stderr).toBe(0);
    const built = await phiforge(['build', 'recipe.yaml', '--cache-dir', path.join(cwd, 'cache')], { cwd });
    expect(built.exitCode, built.stderr).toBe(2);
    expect(built.stderr).toContain(`recipe.yaml:3:9 model.path: ${cwd}/model holds no weights`);
    expect(existsSync(path.join(cwd, 'cache', 'toolchains'))).toBe(false);
  });
});
