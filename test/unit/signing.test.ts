import { createHash, generateKeyPairSync, sign, verify } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { signDeviceResults } from '../../src/app/sign.js';
import { checkEnvelope, decodeBase64, IN_TOTO_PAYLOAD_TYPE, pae, signEnvelope } from '../../src/artifact/dsse.js';
import { readSigningKey, readTrustedKey } from '../../src/artifact/keys.js';
import type { Context } from '../../src/context.js';
import { handMadeArtifact, type HandMadeArtifact } from '../support/artifact-folder.js';
import { workspace } from '../support/cli.js';
import { phiforge } from '../support/in-process.js';
import { writeKeyPair, type KeyFiles } from '../support/keys.js';

// Signed provenance (provenance.json) and signed device results (validation/*.json.sig): the formats
// against their specifications (DSSE, in-toto Statement v1, SLSA Provenance v1, in-toto Test Result),
// and what `sign`, `verify --no-rebuild`, `publish` and `report` do with them, in-process on hand-made
// artifacts. test/e2e/signing.test.ts does the same on real built artifacts.

const sha256 = (bytes: Buffer | string) => createHash('sha256').update(bytes).digest('hex');

/** An artifact with a key pair beside it, and a second, unrelated key pair. */
async function signedSetup(options: Parameters<typeof handMadeArtifact>[0] = {}): Promise<{ artifact: HandMadeArtifact; root: string; keys: KeyFiles; other: KeyFiles }> {
  const artifact = await handMadeArtifact(options);
  const root = path.dirname(path.dirname(artifact.dir));
  await mkdir(path.join(root, 'keys'), { recursive: true });
  return { artifact, root, keys: await writeKeyPair(path.join(root, 'keys'), 'release'), other: await writeKeyPair(path.join(root, 'keys'), 'stranger') };
}

/** phiforge in-process, in the workspace `root`, with an empty cache of its own. */
async function run(root: string, args: string[], env: Record<string, string | undefined> = {}) {
  const result = await phiforge([...args, '--cache-dir', path.join(root, 'empty-cache')], { cwd: root, env: { PHIFORGE_TRUSTED_KEYS: undefined, GITHUB_ACTIONS: undefined, GITHUB_SERVER_URL: undefined, GITHUB_REPOSITORY: undefined, GITHUB_RUN_ID: undefined, ...env } });
  return { ...result, output: `${result.stdout}\n${result.stderr}` };
}

async function readEnvelope(file: string) {
  return JSON.parse(await readFile(file, 'utf8')) as { payload: string; payloadType: string; signatures: Array<{ keyid: string; sig: string; publicKey?: string }> };
}

const quietContext = (said: string[] = []): Context => ({ cacheRoot: '/nonexistent', outRoot: '/nonexistent', json: false, verbose: false, python: 'python3', emulateNpu: false, say: (line) => said.push(line), print: () => undefined });

describe('DSSE, as its specification defines it', () => {
  it('PAE is "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body, lengths in bytes', () => {
    // protocol.md's test vector, worked out by hand from the definition: 29 bytes of type, 11 of body.
    expect(pae('http://example.com/HelloWorld', Buffer.from('hello world')).toString()).toBe('DSSEv1 29 http://example.com/HelloWorld 11 hello world');
    // Byte lengths, not characters: "é" is two bytes in UTF-8, the body three.
    expect(pae('tÿpe', Buffer.from([0, 1, 2]))).toEqual(Buffer.concat([Buffer.from('DSSEv1 5 tÿpe 3 '), Buffer.from([0, 1, 2])]));
    expect(pae('', Buffer.alloc(0)).toString()).toBe('DSSEv1 0  0 ');
  });

  it("an envelope phiforge writes verifies by the specification's steps, and a changed payload does not", async () => {
    const root = await workspace();
    const keys = await writeKeyPair(root, 'k');
    const key = await readSigningKey(keys.privatePem, '--key');
    const envelope = signEnvelope(IN_TOTO_PAYLOAD_TYPE, Buffer.from('{"a":1}'), key);
    expect(Object.keys(envelope).sort()).toEqual(['payload', 'payloadType', 'signatures']);
    expect(envelope.payloadType).toBe('application/vnd.in-toto+json');
    expect(envelope.signatures).toEqual([{ keyid: keys.fingerprint, sig: expect.any(String), publicKey: expect.any(String) }]);
    // Verified the way protocol.md says, with nothing of phiforge's but the envelope: Ed25519 over PAE(type, base64-decoded payload).
    const body = Buffer.from(envelope.payload, 'base64');
    const message = Buffer.concat([Buffer.from(`DSSEv1 ${envelope.payloadType.length} ${envelope.payloadType} ${body.length} `), body]);
    expect(verify(null, message, keys.publicKey, Buffer.from(envelope.signatures[0].sig, 'base64'))).toBe(true);
    // Not over the payload alone.
    expect(verify(null, body, keys.publicKey, Buffer.from(envelope.signatures[0].sig, 'base64'))).toBe(false);

    expect(checkEnvelope(envelope).signatures).toEqual([{ keyId: keys.fingerprint, verified: true, trusted: false }]);
    // URL-safe base64 must be accepted too.
    const urlSafe = { ...envelope, payload: body.toString('base64url'), signatures: envelope.signatures.map((each) => ({ ...each, sig: Buffer.from(each.sig, 'base64').toString('base64url') })) };
    expect(checkEnvelope(urlSafe).signatures[0].verified).toBe(true);
    const changed = checkEnvelope({ ...envelope, payload: Buffer.from('{"a":2}').toString('base64') });
    expect(changed.signatures[0]).toMatchObject({ verified: false, problem: expect.stringContaining('does not verify') });
    // Another payload type is another message: the signature does not carry over.
    expect(checkEnvelope({ ...envelope, payloadType: 'application/json' }).signatures[0].verified).toBe(false);
    // The DSSE test envelope decodes to its body.
    expect(decodeBase64('aGVsbG8gd29ybGQ=').toString()).toBe('hello world');
  });

  it('an OpenSSH key and a PKCS#8 key of the same pair give the same fingerprint, the one ssh-keygen prints, and signatures that verify across them', async () => {
    const root = await workspace();
    const keys = await writeKeyPair(root, 'pair');
    const fromPem = await readSigningKey(keys.privatePem, '--key');
    const fromOpenSsh = await readSigningKey(keys.privateOpenSsh, '--key');
    expect(fromPem.id).toBe(keys.fingerprint);
    expect(fromOpenSsh.id).toBe(keys.fingerprint);
    expect((await readTrustedKey(keys.publicPem, '--require-signature')).id).toBe(keys.fingerprint);
    expect((await readTrustedKey(keys.publicOpenSsh, '--require-signature')).id).toBe(keys.fingerprint);
    let sshKeygen = false;
    try {
      execFileSync('ssh-keygen', ['-?'], { stdio: 'ignore' });
      sshKeygen = true;
    } catch (error) {
      sshKeygen = (error as NodeJS.ErrnoException).code !== 'ENOENT';
    }
    if (sshKeygen) {
      // OpenSSH itself reads the private key file as written and prints the fingerprint phiforge computes.
      expect(execFileSync('ssh-keygen', ['-l', '-f', keys.publicOpenSsh], { encoding: 'utf8' })).toContain(keys.fingerprint);
      expect(execFileSync('ssh-keygen', ['-y', '-f', keys.privateOpenSsh], { encoding: 'utf8' }).split(' ').slice(0, 2)).toEqual((await readFile(keys.publicOpenSsh, 'utf8')).split(' ').slice(0, 2));
    }
    const message = Buffer.from('the same message');
    const bySsh = sign(null, message, fromOpenSsh.privateKey);
    const byPem = sign(null, message, fromPem.privateKey);
    // Ed25519 is deterministic: one key, one signature.
    expect(bySsh).toEqual(byPem);
    expect(verify(null, message, (await readTrustedKey(keys.publicPem, '--require-signature')).key, bySsh)).toBe(true);
    expect(verify(null, message, (await readTrustedKey(keys.publicOpenSsh, '--require-signature')).key, byPem)).toBe(true);
  });
});

describe('phiforge sign: provenance.json', () => {
  it('is an in-toto Statement v1 with a SLSA Provenance v1 predicate naming every file, manifest.json included, with its sha256', async () => {
    const { artifact, root, keys } = await signedSetup();
    const signed = await run(root, ['sign', artifact.dir, '--key', keys.privatePem], { GITHUB_SERVER_URL: 'https://github.com', GITHUB_REPOSITORY: 'me/models', GITHUB_RUN_ID: '42', GITHUB_RUN_ATTEMPT: '2' });
    expect(signed.exitCode, signed.stderr).toBe(0);
    expect(signed.stdout).toContain(`with ${keys.fingerprint}`);
    const envelope = await readEnvelope(path.join(artifact.dir, 'provenance.json'));
    expect(envelope.payloadType).toBe('application/vnd.in-toto+json');
    const statement = JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8'));
    expect(statement._type).toBe('https://in-toto.io/Statement/v1');
    expect(statement.predicateType).toBe('https://slsa.dev/provenance/v1');
    const manifestBytes = await readFile(path.join(artifact.dir, 'manifest.json'));
    const expected = [{ name: 'manifest.json', digest: { sha256: sha256(manifestBytes) } }, ...[...artifact.files].map(([file, bytes]) => ({ name: file, digest: { sha256: sha256(bytes) } }))];
    expect(statement.subject).toEqual(expect.arrayContaining(expected));
    expect(statement.subject).toHaveLength(expected.length);
    const { buildDefinition, runDetails } = statement.predicate;
    expect(buildDefinition.buildType).toEqual(expect.any(String));
    expect(buildDefinition.externalParameters.recipe).toEqual(artifact.manifest.recipe);
    expect(buildDefinition.internalParameters.toolchains).toEqual({ openvino: { lockDigest: 'a'.repeat(64), python: '3.11.7' } });
    expect(buildDefinition.resolvedDependencies).toContainEqual({ name: 'toolchains/openvino/requirements.lock', digest: { sha256: 'a'.repeat(64) } });
    expect(runDetails.builder).toEqual({ id: 'https://github.com/me/models/actions/runs/42', version: { phiforge: '0.1.0' } });
    expect(runDetails.metadata.invocationId).toBe('https://github.com/me/models/actions/runs/42/attempts/2');
  });

  it('refuses to sign files that do not match the manifest (exit 1, naming them), and signs with an OpenSSH key', async () => {
    const { artifact, root, keys } = await signedSetup();
    await writeFile(path.join(artifact.dir, 'config.json'), '{"edited": true}');
    const refused = await run(root, ['sign', artifact.dir, '--key', keys.privateOpenSsh]);
    expect(refused.exitCode).toBe(1);
    expect(refused.stderr).toContain('config.json does not match its sha256 in manifest.json');
    expect(existsSync(path.join(artifact.dir, 'provenance.json'))).toBe(false);
    await writeFile(path.join(artifact.dir, 'config.json'), artifact.files.get('config.json')!);
    const signed = await run(root, ['sign', artifact.dir, '--key', keys.privateOpenSsh, '--json']);
    expect(signed.exitCode, signed.stderr).toBe(0);
    expect(JSON.parse(signed.stdout)).toMatchObject({ key_id: keys.fingerprint, subjects: artifact.files.size + 1 });
  });
});

describe('phiforge verify --no-rebuild', () => {
  it('passes a signed artifact with its own public key (PEM or OpenSSH), fails it with another key, and fails an unsigned one under --require-signature', async () => {
    const { artifact, root, keys, other } = await signedSetup();
    const unsigned = await run(root, ['verify', artifact.dir, '--no-rebuild']);
    expect(unsigned.exitCode, unsigned.stderr).toBe(0);
    expect(unsigned.stdout).toContain(`${artifact.files.size} file(s) match manifest.json`);
    expect(unsigned.stdout).toContain('provenance.json: unsigned');
    const required = await run(root, ['verify', artifact.dir, '--no-rebuild', '--require-signature', keys.publicPem]);
    expect(required.exitCode).toBe(1);
    expect(required.stderr).toContain('provenance.json is missing: the artifact is unsigned');

    expect((await run(root, ['sign', artifact.dir, '--key', keys.privatePem])).exitCode).toBe(0);
    for (const publicKey of [keys.publicPem, keys.publicOpenSsh]) {
      const trusted = await run(root, ['verify', artifact.dir, '--no-rebuild', '--require-signature', publicKey]);
      expect(trusted.exitCode, trusted.stderr).toBe(0);
      expect(trusted.stdout).toContain(`provenance.json: signed by ${keys.fingerprint} (trusted)`);
    }
    // Any of several keys will do; PHIFORGE_TRUSTED_KEYS names them when the option does not.
    expect((await run(root, ['verify', artifact.dir, '--no-rebuild', '--require-signature', other.publicPem, '--require-signature', keys.publicPem])).exitCode).toBe(0);
    expect((await run(root, ['verify', artifact.dir, '--no-rebuild'], { PHIFORGE_TRUSTED_KEYS: [other.publicPem, keys.publicPem].join(path.delimiter) })).exitCode).toBe(0);
    const stranger = await run(root, ['verify', artifact.dir, '--no-rebuild', '--require-signature', other.publicPem, '--json']);
    expect(stranger.exitCode).toBe(1);
    expect(stranger.stderr).toContain(`provenance.json is signed by ${keys.fingerprint}, which is not a trusted key`);
    expect(JSON.parse(stranger.stdout).error).toMatchObject({ code: 'SIGNATURE_UNTRUSTED', trusted: [expect.stringContaining(other.fingerprint)] });
    const viaEnvironment = await run(root, ['verify', artifact.dir, '--no-rebuild'], { PHIFORGE_TRUSTED_KEYS: other.publicPem });
    expect(viaEnvironment.exitCode).toBe(1);
    // Nothing was made in the cache folder: no venv, no step, no digest memo.
    expect(existsSync(path.join(root, 'empty-cache')) ? (await readdir(path.join(root, 'empty-cache'))).filter((name) => name !== '.phiforge-cache') : []).toEqual([]);
  });

  it('takes one key per --require-signature: artifacts named after it are still verified', async () => {
    const { artifact, root, keys } = await signedSetup();
    const second = await handMadeArtifact({ name: 'second-int4-ov' });
    for (const dir of [artifact.dir, second.dir]) expect((await run(root, ['sign', dir, '--key', keys.privatePem])).exitCode).toBe(0);
    const both = await run(root, ['verify', artifact.dir, '--no-rebuild', '--require-signature', keys.publicPem, second.dir]);
    expect(both.exitCode, both.stderr).toBe(0);
    expect(both.stdout).toContain(`${artifact.dir}: ${artifact.files.size} file(s) match manifest.json`);
    expect(both.stdout).toContain(`${second.dir}: ${second.files.size} file(s) match manifest.json`);
  });

  it('fails (exit 1, naming the file) a changed file, an added file, a gate deleted from the signed manifest, and a rewritten weight with its digest rewritten too', async () => {
    const { root, keys } = await signedSetup();
    const fresh = async () => {
      const { artifact } = await signedSetup({ targets: ['CPU'] });
      // A recipe with a gate, as the manifest records it.
      const manifestFile = path.join(artifact.dir, 'manifest.json');
      const manifest = JSON.parse(await readFile(manifestFile, 'utf8'));
      manifest.recipe.resolved.targets[0].gates = { tokens_per_s_min: 5 };
      await writeFile(manifestFile, `${JSON.stringify(manifest, null, 2)}\n`);
      expect((await run(root, ['sign', artifact.dir, '--key', keys.privatePem])).exitCode).toBe(0);
      return { artifact, manifestFile, manifest };
    };
    const verifyIt = (dir: string) => run(root, ['verify', dir, '--no-rebuild']);

    const edited = await fresh();
    await writeFile(path.join(edited.artifact.dir, 'config.json'), '{"model_type": "phi3", "hidden_size": 65}');
    const changed = await verifyIt(edited.artifact.dir);
    expect(changed.exitCode).toBe(1);
    expect(changed.stderr).toContain('config.json does not match its sha256 in manifest.json');

    const added = await fresh();
    await writeFile(path.join(added.artifact.dir, 'evil.py'), 'import os\n');
    const unlisted = await verifyIt(added.artifact.dir);
    expect(unlisted.exitCode).toBe(1);
    expect(unlisted.stderr).toContain('evil.py is not listed in manifest.json');

    const ungated = await fresh();
    delete ungated.manifest.recipe.resolved.targets[0].gates;
    await writeFile(ungated.manifestFile, `${JSON.stringify(ungated.manifest, null, 2)}\n`);
    const gateless = await run(root, ['verify', ungated.artifact.dir, '--no-rebuild', '--require-signature', keys.publicPem]);
    expect(gateless.exitCode).toBe(1);
    expect(gateless.stderr).toContain('manifest.json does not match its signed sha256');
    expect(gateless.stderr).toContain('targets[0] (CPU) gates: the signed recipe has {"tokens_per_s_min":5}, manifest.json has none');

    const reweighted = await fresh();
    const bytes = Buffer.from(reweighted.artifact.files.get('openvino_model.bin')!);
    bytes[0] ^= 0xff;
    await writeFile(path.join(reweighted.artifact.dir, 'openvino_model.bin'), bytes);
    const entry = reweighted.manifest.files.find((file: { path: string }) => file.path === 'openvino_model.bin');
    entry.sha256 = sha256(bytes);
    await writeFile(reweighted.manifestFile, `${JSON.stringify(reweighted.manifest, null, 2)}\n`);
    const rewritten = await run(root, ['verify', reweighted.artifact.dir, '--no-rebuild', '--require-signature', keys.publicPem]);
    expect(rewritten.exitCode).toBe(1);
    expect(rewritten.stderr).toContain('openvino_model.bin does not match its signed sha256');
    expect(rewritten.stderr).toContain('manifest.json does not match its signed sha256');
    // Tampering is never ignored: no --require-signature needed.
    expect((await verifyIt(reweighted.artifact.dir)).exitCode).toBe(1);
  });

  it('fails an envelope whose payload was changed after signing, one re-signed over the payload by another key, and one that is no envelope at all', async () => {
    const { artifact, root, keys, other } = await signedSetup();
    expect((await run(root, ['sign', artifact.dir, '--key', keys.privatePem])).exitCode).toBe(0);
    const file = path.join(artifact.dir, 'provenance.json');
    const original = await readEnvelope(file);
    const statement = JSON.parse(Buffer.from(original.payload, 'base64').toString('utf8'));

    // One subject's digest edited to match a changed file, the signature left as it was.
    statement.subject.find((subject: { name: string }) => subject.name === 'config.json').digest.sha256 = '0'.repeat(64);
    await writeFile(file, JSON.stringify({ ...original, payload: Buffer.from(JSON.stringify(statement)).toString('base64') }));
    const tampered = await run(root, ['verify', artifact.dir, '--no-rebuild', '--json']);
    expect(tampered.exitCode).toBe(1);
    expect(tampered.stderr).toContain(`the signature of ${keys.fingerprint} does not verify: the envelope was changed after it was signed`);
    expect(JSON.parse(tampered.stdout).error).toMatchObject({ code: 'SIGNATURE_INVALID', file: 'provenance.json' });

    // The stranger's key carried in the envelope with the original keyid: the keyid must name the key.
    const stranger = await readSigningKey(other.privatePem, '--key');
    const forged = signEnvelope(IN_TOTO_PAYLOAD_TYPE, Buffer.from(original.payload, 'base64'), stranger);
    await writeFile(file, JSON.stringify({ ...forged, signatures: [{ ...forged.signatures[0], keyid: keys.fingerprint }] }));
    const misnamed = await run(root, ['verify', artifact.dir, '--no-rebuild']);
    expect(misnamed.exitCode).toBe(1);
    expect(misnamed.stderr).toContain(`the signature's keyid ${keys.fingerprint} is not the fingerprint of the public key it carries (${other.fingerprint})`);

    await writeFile(file, '{"signed": "yes"}');
    const notEnvelope = await run(root, ['verify', artifact.dir, '--no-rebuild']);
    expect(notEnvelope.exitCode).toBe(1);
    expect(notEnvelope.stderr).toContain('provenance.json does not hold for these files');
    expect(notEnvelope.stderr).toContain('not a DSSE envelope (payload: ');
  });
});

describe('signed device results', () => {
  async function signedResults() {
    const setup = await signedSetup({ results: [{ device: 'CPU', status: 'passed' }] });
    expect((await run(setup.root, ['sign', setup.artifact.dir, '--key', setup.keys.privatePem])).exitCode).toBe(0);
    const said: string[] = [];
    const written = await signDeviceResults(quietContext(said), setup.artifact.dir, setup.artifact.results, await readSigningKey(setup.keys.privatePem, '--sign-key'));
    expect(written.map((file) => path.relative(setup.artifact.dir, file))).toEqual(['validation/CPU-box0.json.sig']);
    return setup;
  }

  it('are in-toto Test Result statements naming the manifest measured and the result file with its sha256', async () => {
    const { artifact } = await signedResults();
    const envelope = await readEnvelope(path.join(artifact.dir, 'validation', 'CPU-box0.json.sig'));
    const statement = JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8'));
    expect(statement).toMatchObject({
      _type: 'https://in-toto.io/Statement/v1',
      predicateType: 'https://in-toto.io/attestation/test-result/v0.1',
      subject: [{ name: 'manifest.json', digest: { sha256: sha256(await readFile(path.join(artifact.dir, 'manifest.json'))) } }],
      predicate: { result: 'PASSED', configuration: [{ name: 'validation/CPU-box0.json', digest: { sha256: sha256(await readFile(path.join(artifact.dir, 'validation', 'CPU-box0.json'))) } }] },
    });
  });

  it('publish --dry-run --require-signature takes a signed pass, shows the signers, and lists the signatures among the files it would upload', async () => {
    const { artifact, root, keys } = await signedResults();
    const published = await run(root, ['publish', artifact.dir, '--repo', 'me/tiny', '--dry-run', '--require-signature', keys.publicPem, '--json']);
    expect(published.exitCode, published.stderr).toBe(0);
    expect(published.stderr).toContain(`provenance.json: signed by ${keys.fingerprint} (trusted)`);
    expect(published.stderr).toContain(`validation/CPU-box0.json: signed by ${keys.fingerprint} (trusted)`);
    const report = JSON.parse(published.stdout);
    expect(report.files.map((file: { path: string }) => file.path)).toEqual(expect.arrayContaining(['manifest.json', 'provenance.json', 'validation/CPU-box0.json', 'validation/CPU-box0.json.sig']));
    expect(report.card).toContain(`with the Ed25519 key \`${keys.fingerprint}\``);
    expect(report.card).toContain('phiforge verify tiny --no-rebuild --require-signature');
    // The fast check comes before the rebuild.
    expect(report.card.indexOf('--no-rebuild')).toBeLessThan(report.card.indexOf('phiforge verify tiny\n'));
  });

  it('a signed failed result edited to say passed is refused by publish (exit 1, naming it), with or without --require-signature, before the card is written', async () => {
    const { artifact, root, keys } = await signedSetup({ results: [{ device: 'CPU', status: 'failed' }] });
    expect((await run(root, ['sign', artifact.dir, '--key', keys.privatePem])).exitCode).toBe(0);
    await signDeviceResults(quietContext(), artifact.dir, artifact.results, await readSigningKey(keys.privatePem, '--sign-key'));
    const failed = await run(root, ['publish', artifact.dir, '--repo', 'me/tiny', '--dry-run', '--require-signature', keys.publicPem]);
    expect(failed.exitCode).toBe(1);
    expect(failed.stderr).toContain('CPU on box0 failed');
    // The verdict rewritten to a pass, as a hand edit would.
    const resultFile = path.join(artifact.dir, 'validation', 'CPU-box0.json');
    const result = JSON.parse(await readFile(resultFile, 'utf8'));
    Object.assign(result.report, { status: 'passed', failures: [], gates: result.report.gates.map((gate: object) => ({ ...gate, passed: true })) });
    await writeFile(resultFile, JSON.stringify(result, null, 2));
    for (const extra of [['--require-signature', keys.publicPem], []]) {
      const refused = await run(root, ['publish', artifact.dir, '--repo', 'me/tiny', '--dry-run', ...extra]);
      expect(refused.exitCode).toBe(1);
      expect(refused.stderr).toContain('validation/CPU-box0.json.sig does not hold for these files: validation/CPU-box0.json does not match its signed sha256');
      expect(refused.stderr).toContain('the result was changed after it was signed');
      expect(existsSync(path.join(artifact.dir, 'README.md'))).toBe(false);
    }
  });

  it('publish --require-signature refuses a pass that is unsigned or signed by another key, and an unsigned artifact', async () => {
    const { artifact, root, keys, other } = await signedSetup({ results: [{ device: 'CPU', status: 'passed' }] });
    const unsignedArtifact = await run(root, ['publish', artifact.dir, '--repo', 'me/tiny', '--dry-run', '--require-signature', keys.publicPem]);
    expect(unsignedArtifact.exitCode).toBe(1);
    expect(unsignedArtifact.stderr).toContain('provenance.json is missing: the artifact is unsigned');
    expect((await run(root, ['sign', artifact.dir, '--key', keys.privatePem])).exitCode).toBe(0);
    const unsignedResult = await run(root, ['publish', artifact.dir, '--repo', 'me/tiny', '--dry-run', '--require-signature', keys.publicPem]);
    expect(unsignedResult.exitCode).toBe(1);
    expect(unsignedResult.stderr).toContain('validation/CPU-box0.json (CPU passed) does not count under --require-signature: it is unsigned');
    await signDeviceResults(quietContext(), artifact.dir, artifact.results, await readSigningKey(other.privatePem, '--sign-key'));
    const strangerResult = await run(root, ['publish', artifact.dir, '--repo', 'me/tiny', '--dry-run', '--require-signature', keys.publicPem]);
    expect(strangerResult.exitCode).toBe(1);
    expect(strangerResult.stderr).toContain(`it is signed by ${other.fingerprint}, not by a trusted key`);
    expect(existsSync(path.join(artifact.dir, 'README.md'))).toBe(false);
    // Without --require-signature the stranger's signature is shown, and the pass counts.
    const shown = await run(root, ['publish', artifact.dir, '--repo', 'me/tiny', '--dry-run']);
    expect(shown.exitCode, shown.stderr).toBe(0);
    expect(shown.stderr).toContain(`validation/CPU-box0.json: signed by ${other.fingerprint}`);
  });

  it('a validation without --sign-key removes the signature of the result it replaced', async () => {
    const { artifact } = await signedResults();
    const said: string[] = [];
    expect(await signDeviceResults(quietContext(said), artifact.dir, artifact.results, undefined)).toEqual([]);
    expect(existsSync(path.join(artifact.dir, 'validation', 'CPU-box0.json.sig'))).toBe(false);
    expect(said).toEqual([expect.stringContaining('removed validation/CPU-box0.json.sig')]);
  });

  it('report shows who signed the artifact and each result, and an invalid signature as INVALID', async () => {
    const { artifact, root, keys } = await signedResults();
    const shown = await run(root, ['report', artifact.dir, '--html', path.join(root, 'report.html')]);
    expect(shown.exitCode, shown.stderr).toBe(0);
    expect(shown.stdout).toContain(`- tiny-int4-ov: \`provenance.json\` signed by ${keys.fingerprint}; \`validation/CPU-box0.json\` signed by ${keys.fingerprint}`);
    await writeFile(path.join(artifact.dir, 'validation', 'CPU-box0.json'), JSON.stringify({ ...artifact.results[0], measured_at: '2030-01-01T00:00:00.000Z' }));
    const invalid = await run(root, ['report', artifact.dir, '--html', path.join(root, 'report.html')]);
    expect(invalid.exitCode, invalid.stderr).toBe(0);
    expect(invalid.stdout).toContain('`validation/CPU-box0.json` INVALID: validation/CPU-box0.json does not match its signed sha256');
    expect(invalid.stderr).toContain('warning: ');
  });
});

describe('a key that is not what it seems', () => {
  it('a PKCS#8 key that is not Ed25519, and an OpenSSH RSA public key, are refused (exit 2)', async () => {
    const root = await workspace();
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    await writeFile(path.join(root, 'ec.pem'), privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
    const ec = await phiforge(['sign', 'nowhere', '--key', 'ec.pem'], { cwd: root });
    expect(ec.exitCode).toBe(2);
    expect(ec.stderr).toContain('--key ec.pem: is an EC key, not Ed25519');
    // An OpenSSH ssh-rsa line (RFC 4253: the strings "ssh-rsa", e and n as mpints).
    const jwk = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'jwk' });
    const mpint = (base64url: string) => {
      const bytes = Buffer.from(base64url, 'base64url');
      return bytes[0] & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes;
    };
    const field = (bytes: Buffer) => Buffer.concat([Buffer.from([0, 0, (bytes.length >> 8) & 0xff, bytes.length & 0xff]), bytes]);
    await writeFile(path.join(root, 'rsa.pub'), `ssh-rsa ${Buffer.concat([field(Buffer.from('ssh-rsa')), field(mpint(jwk.e!)), field(mpint(jwk.n!))]).toString('base64')} someone\n`);
    const rsa = await phiforge(['verify', 'nowhere', '--no-rebuild', '--require-signature', 'rsa.pub'], { cwd: root });
    expect(rsa.exitCode).toBe(2);
    expect(rsa.stderr).toContain('--require-signature rsa.pub: is an OpenSSH RSA key, not Ed25519');
  });
});
