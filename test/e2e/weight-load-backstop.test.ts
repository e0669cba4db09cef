import { existsSync } from 'node:fs';
import { cp, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, runCli, SHARED_CACHE, toolchainPython, workspace } from '../support/cli.js';

// The model step refuses safetensors whose tensors are not the Phi-3 layout before anything runs; a
// pickled pytorch_model.bin has no header it can read cheaply, so such weights reach the converter.
// There, transformers loads them with exit 0 and random values in place of what it did not find: the
// engine reads that in the converter's log and fails the build, naming the weights.

const TIMEOUT = 600_000;
const repoRecipe = (name: string) => path.join(REPO_ROOT, 'recipes', name);

/** Rewrites the folder's model.safetensors as a pytorch_model.bin with Llama's separate q/k/v projections. */
const TO_LLAMA_LAYOUT_BIN = `
import json, sys, torch
from safetensors.torch import load_file
folder = sys.argv[1]
config = json.load(open(folder + "/config.json"))
head = config["hidden_size"] // config["num_attention_heads"]
q, kv = config["num_attention_heads"] * head, config["num_key_value_heads"] * head
state = {}
for name, tensor in load_file(folder + "/model.safetensors").items():
    if name.endswith("qkv_proj.weight"):
        split = name.replace("qkv_proj", "{}_proj")
        state[split.format("q")], state[split.format("k")], state[split.format("v")] = tensor[:q].clone(), tensor[q:q + kv].clone(), tensor[q + kv:].clone()
    else:
        state[name] = tensor
torch.save(state, folder + "/pytorch_model.bin")
`;

describe('weights a converter did not load', () => {
  it('fail the build with their names when the converter exits 0 having filled them with random values', async () => {
    const cwd = await workspace();
    // The tiny synthetic Phi-3, generated (or found) in the shared cache.
    const generated = await runCli(['build', repoRecipe('demo/phi3-tiny-int4-ov.yaml'), '--no-validate', '--cache-dir', SHARED_CACHE, '--out', 'dist-demo'], { cwd });
    expect(generated.exitCode, generated.stderr).toBe(0);
    const planned = await runCli(['plan', repoRecipe('demo/phi3-tiny-int4-ov.yaml'), '--cache-dir', SHARED_CACHE, '--json'], { cwd });
    const modelDir = JSON.parse(planned.stdout).steps.find((step: { id: string }) => step.id === 'model').output;
    const relaid = path.join(cwd, 'llama-layout-bin');
    await cp(modelDir, relaid, { recursive: true });
    const python = await toolchainPython('reference');
    await execa(python, ['-c', TO_LLAMA_LAYOUT_BIN, relaid]);
    await rm(path.join(relaid, 'model.safetensors'));
    expect((await readdir(relaid)).filter((name) => /\.(bin|safetensors)$/.test(name))).toEqual(['pytorch_model.bin']);

    const result = await runCli(['build', repoRecipe('phi3-int4-ov.yaml'), '--model', relaid, '--no-validate', '--cache-dir', SHARED_CACHE, '--out', 'dist'], { cwd });
    expect(result.exitCode, result.stderr).toBe(1);
    expect(result.stderr).toContain('error: step export produced output that does not match the recipe:');
    expect(result.stderr).toContain('transformers, building Phi3ForCausalLM, could not find these weights in the checkpoint and filled them with random values: model.layers.{0, 1}.self_attn.qkv_proj.weight');
    expect(result.stderr).toMatch(/found these weights in the checkpoint and ignored them \(the model it built has no place for them\): .*model\.layers\.\{0, 1\}\.self_attn\.q_proj\.weight/);
    expect(result.stderr).toContain('hint: The checkpoint\'s tensors do not fit the model its config.json describes');
    expect(existsSync(path.join(cwd, 'dist'))).toBe(false);
  }, TIMEOUT);
});
