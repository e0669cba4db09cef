import { createHash, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { KeyFileError } from '../errors.js';
import { fileKind } from '../exec/preflight.js';

// The keys phiforge signs with and checks against: Ed25519 only (one algorithm, no parameters to get
// wrong, deterministic signatures), as PEM (PKCS#8 private keys as `openssl genpkey -algorithm ed25519`
// writes them, SPKI public keys as `openssl pkey -pubout` writes them) through node:crypto, or in
// OpenSSH's formats (`ssh-keygen -t ed25519`: the private key file and its .pub) through sshpk, since
// node:crypto reads neither. A key's id is its OpenSSH SHA256 fingerprint, so that `ssh-keygen -lf`
// of the same key shows the very string phiforge prints.

/** A public key and its fingerprint. */
export interface PublicKey {
  key: KeyObject;
  /** `SHA256:<base64>`, as `ssh-keygen -lf` shows it. */
  id: string;
  /** The file it was read from, for messages. */
  file?: string;
}

/** A private key, its public half and the fingerprint of that. */
export interface SigningKey extends PublicKey {
  privateKey: KeyObject;
}

/** Key files are small; anything larger is not one, and is not read whole. */
const MAX_KEY_BYTES = 64 * 1024;

const MAKE_KEY = '`openssl genpkey -algorithm ed25519 -out signing.pem` (or `ssh-keygen -t ed25519 -f signing`) makes one';
const PUBLIC_FROM_PRIVATE = '`openssl pkey -in signing.pem -pubout -out signing.pub.pem` writes the public half of a PEM key; ssh-keygen writes it as <key>.pub';

/** The raw 32 bytes of an Ed25519 public key. */
export function rawPublicKey(key: KeyObject): Buffer {
  return Buffer.from(key.export({ format: 'jwk' }).x as string, 'base64url');
}

/**
 * OpenSSH's fingerprint: the SHA-256 of the key's SSH wire encoding (RFC 4253 section 6.6: the
 * strings "ssh-ed25519" and the 32 key bytes, each after its uint32 length; RFC 8709), in base64
 * without padding. Written out rather than parsed: this builds 51 bytes, it reads nothing.
 */
export function keyId(key: KeyObject): string {
  const string = (bytes: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, bytes.length]), bytes]);
  const blob = Buffer.concat([string(Buffer.from('ssh-ed25519')), string(rawPublicKey(key))]);
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

/** A public key as an envelope carries it: the DER of its SubjectPublicKeyInfo, in base64. */
export function publicKeyText(key: KeyObject): string {
  return key.export({ type: 'spki', format: 'der' }).toString('base64');
}

/** The key an envelope names (publicKeyText's form); undefined when it is not an Ed25519 public key. */
export function publicKeyFromText(text: string): KeyObject | undefined {
  try {
    const key = createPublicKey({ key: Buffer.from(text, 'base64'), format: 'der', type: 'spki' });
    return key.asymmetricKeyType === 'ed25519' ? key : undefined;
  } catch {
    return undefined;
  }
}

type Parsed = { half: 'private' | 'public'; key: KeyObject } | { problem: string; hint?: string };

/** What kind of key a PEM label names, for a message about a key that is not Ed25519. */
function pemKind(text: string): string | undefined {
  return /-----BEGIN ([A-Z0-9 ]+)-----/.exec(text)?.[1];
}

/** An OpenSSH private key or public key line, parsed by sshpk and handed to node:crypto as a JWK. */
async function parseOpenSsh(text: string, half: 'private' | 'public'): Promise<Parsed> {
  const sshpk = (await import('sshpk')).default;
  try {
    const parsed = half === 'private' ? sshpk.parsePrivateKey(text, 'ssh') : sshpk.parseKey(text, 'ssh');
    if (parsed.type !== 'ed25519') return { problem: `is an OpenSSH ${parsed.type.toUpperCase()} key, not Ed25519: phiforge signs and checks with Ed25519 keys only`, hint: `Make an Ed25519 key: ${MAKE_KEY}.` };
    // The key's parts by name, as sshpk lists them: A the public key, k the private seed.
    const part = (name: string) => parsed.parts.find((each) => String(each.name) === name)?.data ?? Buffer.alloc(0);
    const publicBytes = part('A');
    if (half === 'public') return { half, key: createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: publicBytes.toString('base64url') }, format: 'jwk' }) };
    // sshpk keeps the 32-byte seed (some writers append the public key to it: 64 bytes).
    const seed = part('k').subarray(0, 32);
    const key = createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', d: seed.toString('base64url'), x: publicBytes.toString('base64url') }, format: 'jwk' });
    // node:crypto derives the public half from the seed; a file whose two halves disagree is damaged.
    if (!rawPublicKey(createPublicKey(key)).equals(publicBytes)) return { problem: 'is damaged: its public key is not the one its private key makes' };
    return { half, key };
  } catch (error) {
    const name = (error as Error).name;
    if (name === 'KeyEncryptedError') return { problem: 'is encrypted (protected by a passphrase), which phiforge cannot prompt for', hint: 'Give an unencrypted copy of the key, kept where only you can read it (`ssh-keygen -p -N "" -f <copy>` removes the passphrase of a copy), e.g. from a CI secret written to a temporary file.' };
    return { problem: `is not a readable OpenSSH key (${(error as Error).message.replace(/\(unnamed\) /, '')})` };
  }
}

async function parseKeyText(text: string): Promise<Parsed> {
  if (text.includes('-----BEGIN OPENSSH PRIVATE KEY-----')) return parseOpenSsh(text, 'private');
  if (/^\s*(ssh-|ecdsa-|sk-)[a-z0-9@.-]+ [A-Za-z0-9+/=]+/.test(text)) return parseOpenSsh(text, 'public');
  if (text.includes('-----BEGIN ENCRYPTED PRIVATE KEY-----')) {
    return { problem: 'is an encrypted PKCS#8 key (protected by a passphrase), which phiforge cannot prompt for', hint: 'Give an unencrypted copy (`openssl pkey -in key.pem -out plain.pem` asks for the passphrase once), kept where only you can read it.' };
  }
  if (!text.includes('-----BEGIN ')) return { problem: 'is not a key file: expected a PEM key (-----BEGIN PRIVATE KEY----- or -----BEGIN PUBLIC KEY-----) or an OpenSSH key', hint: `${MAKE_KEY}.` };
  try {
    // createPrivateKey refuses a public key; createPublicKey would accept a private one (and derive its public half).
    return { half: 'private', key: createPrivateKey(text) };
  } catch {
    try {
      return { half: 'public', key: createPublicKey(text) };
    } catch (error) {
      return { problem: `holds a PEM block (${pemKind(text) ?? 'unknown'}) that is not a key node:crypto can read (${(error as Error).message})`, hint: `${MAKE_KEY}.` };
    }
  }
}

/** Reads a key file, refusing (exit 2) what cannot be an Ed25519 key of the wanted half. */
async function readKey(file: string, option: string, wanted: 'private' | 'public'): Promise<KeyObject> {
  const refuse = (problem: string, hint: string): never => {
    throw new KeyFileError(file, option, problem, hint);
  };
  const info = await stat(file).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT' || error.code === 'ENOTDIR') refuse('no such file', `Name the ${wanted} key's file: ${wanted === 'private' ? MAKE_KEY : PUBLIC_FROM_PRIVATE}.`);
    return refuse(`cannot be read (${error.code ?? error.message})`, 'Check the path and its permissions.');
  });
  if (info.isDirectory()) refuse('is a folder, not a key file', `Name the ${wanted} key's file itself.`);
  // Reading a FIFO would wait for a writer; a device is nobody's key.
  if (!info.isFile()) refuse(`is ${fileKind(info)}, not a key file`, `Name a regular file that holds the ${wanted} key.`);
  if (info.size > MAX_KEY_BYTES) refuse(`is ${info.size} bytes: no key file is that large`, `Name the ${wanted} key's file (a PEM or OpenSSH Ed25519 key is well under 1 KiB).`);
  const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => refuse(`cannot be read (${error.code ?? error.message})`, 'Check that this user may read it (it should be readable by you only).'));
  const parsed = await parseKeyText(text);
  if ('problem' in parsed) return refuse(parsed.problem, parsed.hint ?? `${MAKE_KEY}.`);
  if (parsed.key.asymmetricKeyType !== 'ed25519') {
    refuse(`is an ${String(parsed.key.asymmetricKeyType).toUpperCase()} key, not Ed25519: phiforge signs and checks with Ed25519 keys only`, `Make an Ed25519 key: ${MAKE_KEY}.`);
  }
  if (parsed.half !== wanted) {
    if (wanted === 'private') refuse('is a public key; signing needs the private key', `Give the private half of the pair; the public half is what those who check pass to --require-signature.`);
    refuse(`is a private key; ${option} takes a public key`, `Give the public half: ${PUBLIC_FROM_PRIVATE}. The private key stays with whoever signs.`);
  }
  return parsed.key;
}

/** The private key `phiforge sign --key` and `--sign-key` sign with. */
export async function readSigningKey(file: string, option: string): Promise<SigningKey> {
  const privateKey = await readKey(file, option, 'private');
  const key = createPublicKey(privateKey);
  return { privateKey, key, id: keyId(key), file };
}

/** A public key whose signatures are trusted (--require-signature, PHIFORGE_TRUSTED_KEYS). */
export async function readTrustedKey(file: string, option: string): Promise<PublicKey> {
  const key = await readKey(file, option, 'public');
  return { key, id: keyId(key), file };
}

/**
 * The keys an artifact must be signed by: each --require-signature file, else each entry of
 * PHIFORGE_TRUSTED_KEYS (a path list, like PATH). Undefined when neither names one: a signature is then
 * shown and checked, but not required.
 */
export async function trustedKeys(files: string[] | undefined, environment: string | undefined = process.env.PHIFORGE_TRUSTED_KEYS): Promise<PublicKey[] | undefined> {
  const named = files ?? [];
  if (named.length > 0) return Promise.all(named.map((file) => readTrustedKey(file, '--require-signature')));
  const listed = (environment ?? '').split(path.delimiter).filter((file) => file !== '');
  if (listed.length > 0) return Promise.all(listed.map((file) => readTrustedKey(file, 'PHIFORGE_TRUSTED_KEYS entry')));
  return undefined;
}
