import { createHash, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';

// Ed25519 key pairs for the tests, written as users have them: PEM (PKCS#8 private, SPKI public: what
// `openssl genpkey -algorithm ed25519` and `openssl pkey -pubout` write) and OpenSSH's own formats
// (what `ssh-keygen -t ed25519` writes). The OpenSSH files are written here from the format's
// definition (OpenSSH's PROTOCOL.key, RFC 4253 section 6.6), not by the library phiforge reads them
// with, so that a test of reading them is not the library checking itself.

export interface KeyFiles {
  /** PKCS#8 PEM private key. */
  privatePem: string;
  /** SPKI PEM public key. */
  publicPem: string;
  /** OpenSSH private key file (unencrypted). */
  privateOpenSsh: string;
  /** OpenSSH public key line (<key>.pub). */
  publicOpenSsh: string;
  /** OpenSSH's SHA256 fingerprint of the public key, as `ssh-keygen -lf` prints it. */
  fingerprint: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
}

/** An SSH wire-format string: a uint32 length, then the bytes. */
function sshString(bytes: Buffer | string): Buffer {
  const data = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes);
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  return Buffer.concat([length, data]);
}

function uint32(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeUInt32BE(value);
  return buffer;
}

/** Writes a fresh Ed25519 key pair as `<dir>/<name>.pem`, `<name>.pub.pem`, `<name>` (OpenSSH) and `<name>.pub` (OpenSSH). */
export async function writeKeyPair(dir: string, name: string): Promise<KeyFiles> {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x as string, 'base64url');
  const seed = Buffer.from(privateKey.export({ format: 'jwk' }).d as string, 'base64url');
  const publicBlob = Buffer.concat([sshString('ssh-ed25519'), sshString(raw)]);
  const check = randomBytes(4).readUInt32BE();
  let secret = Buffer.concat([uint32(check), uint32(check), sshString('ssh-ed25519'), sshString(raw), sshString(Buffer.concat([seed, raw])), sshString(`${name}@phiforge-test`)]);
  // Padded with 1, 2, 3, ... to the cipher's block size (8 for "none").
  const padding = Array.from({ length: (8 - (secret.length % 8)) % 8 }, (_, index) => index + 1);
  secret = Buffer.concat([secret, Buffer.from(padding)]);
  const body = Buffer.concat([Buffer.from('openssh-key-v1\0'), sshString('none'), sshString('none'), sshString(''), uint32(1), sshString(publicBlob), sshString(secret)]);
  const lines = body.toString('base64').match(/.{1,70}/g)!;
  const files: KeyFiles = {
    privatePem: path.join(dir, `${name}.pem`),
    publicPem: path.join(dir, `${name}.pub.pem`),
    privateOpenSsh: path.join(dir, name),
    publicOpenSsh: path.join(dir, `${name}.pub`),
    fingerprint: `SHA256:${createHash('sha256').update(publicBlob).digest('base64').replace(/=+$/, '')}`,
    privateKey,
    publicKey,
  };
  await writeFile(files.privatePem, privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, { mode: 0o600 });
  await writeFile(files.publicPem, publicKey.export({ type: 'spki', format: 'pem' }) as string);
  await writeFile(files.privateOpenSsh, `-----BEGIN OPENSSH PRIVATE KEY-----\n${lines.join('\n')}\n-----END OPENSSH PRIVATE KEY-----\n`, { mode: 0o600 });
  await writeFile(files.publicOpenSsh, `ssh-ed25519 ${publicBlob.toString('base64')} ${name}@phiforge-test\n`);
  return files;
}
