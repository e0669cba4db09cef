import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import type { BadInput } from '../bad-inputs.js';
import { TINY_INT4 } from '../recipes.js';

// Bad inputs of one area; test/support/bad-inputs.ts joins every area into BAD_INPUTS. Recipes here build on
// TINY_INT4 from ../recipes.js (import values from there, not from ../bad-inputs.js, which imports this file).
// This area: signing and trusting signatures. Key files phiforge cannot use are bad input (exit 2);
// a provenance.json that does not hold for the artifact is a failed verification (exit 1). Keys are
// made afresh when the tests load (no private key is committed); the envelopes are signed here by hand,
// Ed25519 over DSSE's PAE, not by phiforge's own code.

const RECIPE = { 'recipe.yaml': `name: tiny\n${TINY_INT4}` };
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

// One fixed test key (its seed is no secret: it signs nothing but these cases), so that what phiforge
// says, fingerprint included, is the same on every run and the docs' table can hold it.
const seed = createHash('sha256').update('phiforge bad-input test key, signs nothing real').digest();
// RFC 8410's PKCS#8 encoding of an Ed25519 private key: a fixed 16-byte prefix, then the 32-byte seed.
const ed25519Private = createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]), format: 'der', type: 'pkcs8' });
const ed25519 = { privateKey: ed25519Private, publicKey: createPublicKey(ed25519Private) };
const PRIVATE_PEM = ed25519.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
const PUBLIC_PEM = ed25519.publicKey.export({ type: 'spki', format: 'pem' }) as string;
const RSA_PEM = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
const ENCRYPTED_PEM = ed25519.privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'secret' }) as string;

/** A one-file artifact folder as `phiforge build` leaves it, with `extra` files beside it. */
function artifact(extra: Record<string, string> = {}): Record<string, string> {
  const config = '{"model_type": "phi3"}\n';
  const manifest = {
    schema: 'phiforge.manifest/1',
    phiforge: { version: '0.1.0' },
    name: 'tiny',
    backend: 'openvino',
    pipeline: 'openvino',
    recipe: { file: 'recipe.yaml', resolved: { name: 'tiny', targets: [{ device: 'CPU' }] } },
    model: { source: 'synthetic', key: 'b'.repeat(64), files: [] },
    toolchains: {},
    steps: [],
    files: [{ path: 'config.json', size: Buffer.byteLength(config), sha256: sha256(config) }],
  };
  const manifestText = `${JSON.stringify(manifest, null, 2)}\n`;
  return { 'dist/tiny/config.json': config, 'dist/tiny/manifest.json': manifestText, ...Object.fromEntries(Object.entries(extra).map(([file, content]) => [`dist/tiny/${file}`, content])) };
}

/** The manifest.json text of artifact(), for statements that name it. */
const MANIFEST_TEXT = artifact()['dist/tiny/manifest.json'];

/** A DSSE envelope of an in-toto statement naming `subjects`, signed with `key` (the pair's public half carried); `payload` replaces what is carried, not what was signed. */
function envelope(subjects: Array<{ name: string; text: string }>, key: KeyObject, payload?: string): string {
  const statement = JSON.stringify({
    _type: 'https://in-toto.io/Statement/v1',
    subject: subjects.map((subject) => ({ name: subject.name, digest: { sha256: sha256(subject.text) } })),
    predicateType: 'https://slsa.dev/provenance/v1',
    predicate: { buildDefinition: { buildType: 'urn:test', externalParameters: {} }, runDetails: { builder: { id: 'urn:test' } } },
  });
  const type = 'application/vnd.in-toto+json';
  const pae = Buffer.from(`DSSEv1 ${type.length} ${type} ${Buffer.byteLength(statement)} ${statement}`);
  const publicKey = ed25519.publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
  return JSON.stringify({ payload: Buffer.from(payload ?? statement).toString('base64'), payloadType: type, signatures: [{ sig: sign(null, pae, key).toString('base64'), publicKey }] });
}

const GENUINE = [{ name: 'manifest.json', text: MANIFEST_TEXT }, { name: 'config.json', text: '{"model_type": "phi3"}\n' }];

export const BAD_INPUTS_SIGNING: BadInput[] = [
  { what: 'sign --key: a file that does not exist', files: artifact(), args: ['sign', 'dist/tiny', '--key', 'keys/missing.pem'], exit: 2, says: ['--key keys/missing.pem: no such file', 'openssl genpkey -algorithm ed25519'] },
  { what: 'sign --key: a folder', files: { ...artifact(), 'keys/readme.txt': 'x' }, args: ['sign', 'dist/tiny', '--key', 'keys'], exit: 2, says: ['--key keys: is a folder, not a key file'] },
  { what: 'sign --key: a public key', files: { ...artifact(), 'keys/release.pub.pem': PUBLIC_PEM }, args: ['sign', 'dist/tiny', '--key', 'keys/release.pub.pem'], exit: 2, says: ['--key keys/release.pub.pem: is a public key; signing needs the private key'] },
  { what: 'sign --key: an RSA key', files: { ...artifact(), 'keys/rsa.pem': RSA_PEM }, args: ['sign', 'dist/tiny', '--key', 'keys/rsa.pem'], exit: 2, says: ['--key keys/rsa.pem: is an RSA key, not Ed25519'] },
  { what: 'sign --key: an encrypted key', files: { ...artifact(), 'keys/locked.pem': ENCRYPTED_PEM }, args: ['sign', 'dist/tiny', '--key', 'keys/locked.pem'], exit: 2, says: ['--key keys/locked.pem: is an encrypted PKCS#8 key'] },
  { what: 'sign --key: a file that is no key', files: { ...artifact(), 'keys/notes.txt': 'my signing key is in the vault\n' }, args: ['sign', 'dist/tiny', '--key', 'keys/notes.txt'], exit: 2, says: ['--key keys/notes.txt: is not a key file'] },
  { what: 'build --sign-key: a public key', files: { ...RECIPE, 'keys/release.pub.pem': PUBLIC_PEM }, args: ['build', 'recipe.yaml', '--sign-key', 'keys/release.pub.pem'], exit: 2, says: ['--sign-key keys/release.pub.pem: is a public key; signing needs the private key'] },
  { what: 'validate --sign-key: a file that does not exist', files: artifact(), args: ['validate', 'dist/tiny', '--sign-key', 'keys/missing.pem'], exit: 2, says: ['--sign-key keys/missing.pem: no such file'] },
  {
    what: 'verify --require-signature: a private key',
    files: { ...artifact(), 'keys/release.pem': PRIVATE_PEM },
    args: ['verify', 'dist/tiny', '--no-rebuild', '--require-signature', 'keys/release.pem'],
    exit: 2,
    says: ['--require-signature keys/release.pem: is a private key; --require-signature takes a public key', 'openssl pkey -in signing.pem -pubout'],
  },
  { what: 'publish --require-signature: a file that does not exist', files: artifact(), args: ['publish', 'dist/tiny', '--repo', 'me/tiny', '--dry-run', '--require-signature', 'keys/missing.pub'], exit: 2, says: ['--require-signature keys/missing.pub: no such file'] },
  {
    what: 'verify: a provenance.json that is not a DSSE envelope',
    files: artifact({ 'provenance.json': '{"signed_by": "me"}\n' }),
    args: ['verify', 'dist/tiny', '--no-rebuild'],
    exit: 1,
    says: ['dist/tiny: provenance.json does not hold for these files: not a DSSE envelope (payload: '],
  },
  {
    what: 'verify: a provenance.json signed over a different payload',
    files: artifact({ 'provenance.json': envelope(GENUINE, ed25519.privateKey, JSON.stringify({ _type: 'https://in-toto.io/Statement/v1', subject: [{ name: 'config.json', digest: { sha256: '0'.repeat(64) } }], predicateType: 'https://slsa.dev/provenance/v1' })) }),
    args: ['verify', 'dist/tiny', '--no-rebuild'],
    exit: 1,
    says: ['provenance.json does not hold for these files', 'does not verify: the envelope was changed after it was signed'],
  },
  {
    what: 'verify: a provenance.json whose subject climbs out of the artifact (..)',
    files: artifact({ 'provenance.json': envelope([...GENUINE, { name: '../../etc/passwd', text: 'root' }], ed25519.privateKey) }),
    args: ['verify', 'dist/tiny', '--no-rebuild'],
    exit: 1,
    says: ['provenance.json does not hold for these files: subject "../../etc/passwd" names a file outside the artifact'],
  },
  {
    what: 'verify: a provenance.json whose subject is an absolute path',
    files: artifact({ 'provenance.json': envelope([...GENUINE, { name: '/etc/shadow', text: 'root' }], ed25519.privateKey) }),
    args: ['verify', 'dist/tiny', '--no-rebuild'],
    exit: 1,
    says: ['provenance.json does not hold for these files: subject "/etc/shadow" names a file outside the artifact (an absolute or Windows path)'],
  },
];
