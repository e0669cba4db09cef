import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { workspace } from '../support/cli.js';
import { sha256, TOKEN, useFakeHub, type HubFile } from '../support/fake-hub.js';
import { phiforge } from '../support/in-process.js';
import { TINY_INT4 } from '../support/recipes.js';
import { tinyPhi3Folder } from '../support/safetensors.js';

// A hub model gets the checks a local folder gets, once its files are downloaded and before any
// converter (or venv) starts: here a repository whose config.json says Phi-3 but whose weights are
// laid out for Llama, served by the fake hub on loopback.

const hub = useFakeHub();
const REPO = 'org/llama-weights-as-phi3';
const COMMIT = createHash('sha1').update(REPO).digest('hex');

function publishLlamaLayoutRepo(): void {
  const folder = tinyPhi3Folder('m', {
    tensors: (all) => all.flatMap((tensor) => (tensor.name.endsWith('qkv_proj.weight') ? ['q', 'k', 'v'].map((part) => ({ name: tensor.name.replace('qkv_proj', `${part}_proj`), shape: [part === 'q' ? 128 : 64, 128] })) : [tensor])),
  });
  const files: HubFile[] = [
    { path: 'config.json', content: Buffer.from(folder['m/config.json']), lfs: false },
    { path: 'model.safetensors', content: Buffer.from(folder['m/model.safetensors'], 'latin1'), lfs: true },
  ];
  hub.repos.set(REPO, { private: true, branches: new Map([['main', COMMIT]]), commits: new Map([[COMMIT, { id: COMMIT, title: 'initial commit', date: '2024-05-01T00:00:00.000Z', files: new Map(files.map((file) => [file.path, file])) }]]) });
  for (const file of files) if (file.lfs) hub.lfs.set(sha256(file.content), file.content);
}

describe('a hub model', () => {
  it('is checked once downloaded: weights of another layout are refused with exit 2 at model.id, before any converter', async () => {
    publishLlamaLayoutRepo();
    const recipe = `name: tiny\n${TINY_INT4.replace('synthetic: phi3-mini-tiny', `id: ${REPO}\n  revision: ${COMMIT}`)}`;
    const cwd = await workspace({ 'recipe.yaml': recipe });
    const hfCache = path.join(cwd, 'hf');
    const result = await phiforge(['build', 'recipe.yaml', '--cache-dir', path.join(cwd, 'cache')], {
      cwd,
      env: { HF_ENDPOINT: hub.url, HF_HUB_CACHE: hfCache, HF_TOKEN: TOKEN, HF_HUB_OFFLINE: undefined, HF_HOME: path.join(cwd, 'hf-home') },
    });
    expect(result.exitCode, result.stderr).toBe(2);
    const snapshot = path.join(hfCache, 'models--org--llama-weights-as-phi3', 'snapshots', COMMIT);
    expect(result.stderr).toContain(`recipe.yaml:3:7 model.id: ${snapshot}/model.safetensors lacks 1 tensor`);
    expect(result.stderr).toContain('no Phi-3 model has: model.layers.0.self_attn.q_proj.weight');
    expect(result.stderr).toContain("hint: Separate q_proj/k_proj/v_proj and gate_proj/up_proj are Llama's layout");
    // The weights were downloaded (that is what was checked); no toolchain was installed, nothing published.
    expect(existsSync(path.join(snapshot, 'model.safetensors'))).toBe(true);
    expect(existsSync(path.join(cwd, 'cache', 'toolchains'))).toBe(false);
    expect(existsSync(path.join(cwd, 'dist'))).toBe(false);
  });
});
