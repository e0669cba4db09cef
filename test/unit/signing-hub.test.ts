import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { signDeviceResults } from '../../src/app/sign.js';
import { readSigningKey } from '../../src/artifact/keys.js';
import type { Context } from '../../src/context.js';
import { downloadSnapshot } from '../../src/hub/hub.js';
import { handMadeArtifact } from '../support/artifact-folder.js';
import { workspace } from '../support/cli.js';
import { TOKEN, useFakeHub } from '../support/fake-hub.js';
import { phiforge } from '../support/in-process.js';
import { writeKeyPair } from '../support/keys.js';

// The signatures travel with the artifact: `phiforge publish` uploads provenance.json and the device
// results' .sig files, and a download from the Hub checks out with the publisher's public key alone.

const hub = useFakeHub();

describe('publish with signatures, and a download checked with the public key', () => {
  it('uploads provenance.json and the result signatures; verify --no-rebuild --require-signature passes on the download', async () => {
    const artifact = await handMadeArtifact({ results: [{ device: 'CPU', status: 'passed' }] });
    const root = path.dirname(path.dirname(artifact.dir));
    const keys = await writeKeyPair(root, 'release');
    const env = { HF_ENDPOINT: hub.url, HF_TOKEN: TOKEN, HF_TOKEN_PATH: undefined, HF_HOME: path.join(root, 'hf-home'), HF_HUB_CACHE: path.join(root, 'hf-cache'), HF_HUB_OFFLINE: '', CI: '1', PHIFORGE_TRUSTED_KEYS: undefined };
    expect((await phiforge(['sign', artifact.dir, '--key', keys.privateOpenSsh], { cwd: root })).exitCode).toBe(0);
    const context = { say: () => undefined } as unknown as Context;
    await signDeviceResults(context, artifact.dir, artifact.results, await readSigningKey(keys.privateOpenSsh, '--sign-key'));
    const published = await phiforge(['publish', artifact.dir, '--repo', 'me/signed', '--require-signature', keys.publicOpenSsh, '--json'], { cwd: root, env });
    expect(published.exitCode, published.stderr).toBe(0);
    const report = JSON.parse(published.stdout);
    expect(report.trust.signature).toEqual({ signed: true, file: 'provenance.json', signers: [{ keyId: keys.fingerprint, trusted: true }] });

    const saved = { ...process.env };
    Object.assign(process.env, { HF_ENDPOINT: hub.url, HF_TOKEN: TOKEN, HF_HUB_CACHE: path.join(await workspace(), 'hf'), HF_HUB_OFFLINE: '' });
    let snapshot: string;
    try {
      snapshot = await downloadSnapshot('me/signed', report.commit.id);
    } finally {
      for (const name of ['HF_ENDPOINT', 'HF_TOKEN', 'HF_HUB_CACHE', 'HF_HUB_OFFLINE']) {
        if (saved[name] === undefined) delete process.env[name];
        else process.env[name] = saved[name];
      }
    }
    expect((await readdir(snapshot)).sort()).toContain('provenance.json');
    expect((await readdir(path.join(snapshot, 'validation'))).sort()).toEqual(['CPU-box0.json', 'CPU-box0.json.sig']);
    // The snapshot's files are links into huggingface_hub's blobs: checked as they are, with the public key only.
    const verified = await phiforge(['verify', snapshot, '--no-rebuild', '--require-signature', keys.publicPem, '--cache-dir', path.join(root, 'no-cache')], { cwd: root });
    expect(verified.exitCode, verified.stderr).toBe(0);
    expect(verified.stdout).toContain(`provenance.json: signed by ${keys.fingerprint} (trusted)`);
    expect(verified.stdout).toContain(`validation/CPU-box0.json: signed by ${keys.fingerprint} (trusted)`);
  });
});
