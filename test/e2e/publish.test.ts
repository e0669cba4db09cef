import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { checkArtifact } from '../../src/artifact/check.js';
import { readManifest } from '../../src/artifact/manifest.js';
import { downloadSnapshot } from '../../src/hub/hub.js';
import { deviceResults, REPO_ROOT, runCli, SHARED_CACHE, workspace } from '../support/cli.js';
import { sha256, TOKEN, useFakeHub } from '../support/fake-hub.js';

// Publishing the real demo artifacts (built and validated by the real converters and runtimes) to a
// Hugging Face Hub on loopback, and downloading them back with phiforge's own hub code. Every test
// stands alone; the builds come from the shared cache.

const hub = useFakeHub();

async function builtDemo(recipe: string): Promise<{ cwd: string; artifact: string }> {
  const cwd = await workspace();
  const name = path.basename(recipe, '.yaml');
  const result = await runCli(['build', path.join(REPO_ROOT, 'recipes', 'demo', recipe), '--cache-dir', SHARED_CACHE, '--out', 'dist'], { cwd });
  expect(result.exitCode, result.stderr).toBe(0);
  return { cwd, artifact: path.join(cwd, 'dist', name) };
}

function hubEnv(cwd: string) {
  return { HF_ENDPOINT: hub.url, HF_TOKEN: TOKEN, HF_HOME: path.join(cwd, 'hf-home'), HF_HUB_CACHE: path.join(cwd, 'hf'), HF_HUB_OFFLINE: '' };
}

const header = (card: string) => parse(/^---\n([\s\S]*?)\n---\n/.exec(card)![1]) as Record<string, unknown>;

async function downloadFromHub(cwd: string, repo: string, commit: string): Promise<string> {
  const saved = { ...process.env };
  Object.assign(process.env, { ...hubEnv(cwd), HF_HUB_CACHE: path.join(cwd, 'downloaded') });
  try {
    return await downloadSnapshot(repo, commit);
  } finally {
    for (const name of ['HF_ENDPOINT', 'HF_TOKEN', 'HF_HOME', 'HF_HUB_CACHE', 'HF_HUB_OFFLINE']) {
      if (saved[name] === undefined) delete process.env[name];
      else process.env[name] = saved[name];
    }
  }
}

describe('publishing the demo artifacts', () => {
  it('OpenVINO INT4: round trip with identical digests, a card read from the IR, 0 LFS bytes the second time, no token anywhere', async () => {
    const { cwd, artifact } = await builtDemo('phi3-tiny-int4-ov.yaml');
    const first = await runCli(['publish', 'dist/phi3-tiny-int4-ov', '--repo', 'demo/phi3-tiny-int4-ov', '--json', '--verbose'], { cwd, env: hubEnv(cwd) });
    expect(first.exitCode, first.stderr).toBe(0);
    const published = JSON.parse(first.stdout);
    expect(published.lfs.sent.files).toBeGreaterThan(0);

    // Downloaded back, it is the artifact its manifest describes, byte for byte.
    const snapshot = await downloadFromHub(cwd, 'demo/phi3-tiny-int4-ov', published.commit.id);
    const manifest = await readManifest(artifact);
    expect(await readManifest(snapshot)).toEqual(manifest);
    await checkArtifact(snapshot, manifest.files);
    for (const file of manifest.files) expect(sha256(await readFile(path.join(snapshot, file.path))), file.path).toBe(file.sha256);
    expect((await readdir(path.join(snapshot, 'validation'))).sort()).toEqual((await readdir(path.join(artifact, 'validation'))).sort());

    // The card: Hub metadata, NNCF's compression as the IR records it, one row per device result.
    const card = await readFile(path.join(snapshot, 'README.md'), 'utf8');
    expect(header(card)).toEqual({ library_name: 'openvino', pipeline_tag: 'text-generation', tags: ['openvino', 'openvino-ir', 'int4', 'nncf', 'cpu', 'phi3', 'phiforge'] });
    expect(card).toContain('| mode | int4_sym |');
    expect(card).toContain('| group size | 128 |');
    expect(card).toContain('| ratio requested | 0.6 |');
    expect(card).toMatch(/\| ratio achieved \| 0\.\d{3}: \d+ of \d+ layers/);
    expect(card).toContain('| backup precision | int8_asym');
    const results = await deviceResults(artifact);
    const tableRows = card.split('## Validation')[1].split('\n## ')[0].split('\n').filter((line) => line.startsWith('| phi3-tiny-int4-ov |'));
    expect(tableRows).toHaveLength(results.length);
    expect(tableRows[0]).toContain(`| ${results[0].device} | ${results[0].report.status} |`);

    // Unchanged, published again: the Hub holds every LFS object, so no byte of them is sent.
    const received = hub.lfsBytesReceived();
    const second = await runCli(['publish', 'dist/phi3-tiny-int4-ov', '--repo', 'demo/phi3-tiny-int4-ov', '--json'], { cwd, env: hubEnv(cwd) });
    expect(second.exitCode, second.stderr).toBe(0);
    expect(JSON.parse(second.stdout).lfs).toMatchObject({ sent: { files: 0, bytes: 0 }, alreadyThere: { files: published.lfs.files } });
    expect(hub.lfsBytesReceived()).toBe(received);

    // The token: in no output, no file of the artifact (manifest, card, results), no file on the Hub, no build log.
    const secret = TOKEN.slice(3);
    for (const run of [first, second]) expect(`${run.stdout}\n${run.stderr}`).not.toContain(secret);
    for (const entry of await readdir(artifact, { recursive: true, withFileTypes: true })) {
      if (entry.isFile()) expect(await readFile(path.join(entry.parentPath, entry.name), 'latin1'), entry.name).not.toContain(secret);
    }
    for (const file of hub.filesAt('demo/phi3-tiny-int4-ov').values()) expect(file.content.toString('latin1'), file.path).not.toContain(secret);
    const logs = path.join(SHARED_CACHE, 'logs', 'phi3-tiny-int4-ov');
    for (const log of await readdir(logs).catch(() => [])) expect(await readFile(path.join(logs, log), 'utf8'), log).not.toContain(secret);
  });

  it("ONNX Runtime GenAI INT4: the card reads the builder's MatMulNBits settings from model.onnx", async () => {
    const { cwd } = await builtDemo('phi3-tiny-int4-ort-cpu.yaml');
    const dry = await runCli(['publish', 'dist/phi3-tiny-int4-ort-cpu', '--repo', 'demo/phi3-tiny-int4-ort-cpu', '--dry-run', '--json'], { cwd, env: { ...hubEnv(cwd), HF_TOKEN: '' } });
    expect(dry.exitCode, dry.stderr).toBe(0);
    const { card, files } = JSON.parse(dry.stdout);
    expect(header(card)).toMatchObject({ library_name: 'onnxruntime-genai', pipeline_tag: 'text-generation', tags: expect.arrayContaining(['onnxruntime-genai', 'onnxruntime-genai-model-builder', 'int4', 'cpu']) });
    expect(card).toContain('| bits | 4 |');
    expect(card).toContain('| block size | 128 (requested 128) |');
    expect(card).toContain('| symmetric | yes |');
    expect(card).toMatch(/\| quantized layers achieved \| (\d+) of \1 linear layers, 100\.0 %/);
    expect(card).toContain('og.Model(snapshot_download("demo/phi3-tiny-int4-ort-cpu"))');
    expect(files.map((file: { path: string }) => file.path)).toEqual(expect.arrayContaining(['model.onnx', 'model.onnx.data', 'genai_config.json', 'manifest.json', 'README.md']));
    expect(hub.repos.has('demo/phi3-tiny-int4-ort-cpu')).toBe(false);
  });
});
