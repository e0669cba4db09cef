import { sign, verify } from 'node:crypto';
import { z } from 'zod';
import { fieldPath } from '../contract.js';
import { keyId, publicKeyFromText, publicKeyText, type PublicKey, type SigningKey } from './keys.js';

// DSSE, the Dead Simple Signing Envelope (github.com/secure-systems-lab/dsse, protocol.md and
// envelope.md): what provenance.json and the device results' .sig files are. A signature covers
// PAE(payloadType, payload), never the payload alone, so that one signed for another type cannot be
// passed off as this one.

/** The payload type of an in-toto Statement (in-toto attestation spec, envelope layer). */
export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';

/**
 * The Pre-Authentication Encoding, DSSE protocol.md: "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body,
 * where LEN is the ASCII decimal byte length, without leading zeros.
 */
export function pae(payloadType: string, body: Buffer): Buffer {
  const type = Buffer.from(payloadType, 'utf8');
  return Buffer.concat([Buffer.from(`DSSEv1 ${type.length} `), type, Buffer.from(` ${body.length} `), body]);
}

// DSSE allows standard and URL-safe base64 alike, and a verifier must accept either.
const BASE64 = /^(?:[A-Za-z0-9+/_-]{4})*(?:[A-Za-z0-9+/_-]{2}(?:==)?|[A-Za-z0-9+/_-]{3}=?)?$/;
const Base64 = z.string().regex(BASE64, 'not base64');

/**
 * One signature. `keyid` is a hint only (DSSE: it must not decide anything): phiforge writes the
 * signer's fingerprint there. `publicKey` is phiforge's addition (envelope.md lets producers add
 * fields, and consumers ignore them): the signer's public key, so that anyone can see that the
 * envelope is intact and who signed it without being handed the key. Whether that signer is trusted is
 * decided by --require-signature alone, against keys the user names.
 */
export const EnvelopeSignature = z.looseObject({ keyid: z.string().optional(), sig: Base64, publicKey: Base64.optional() });

export const Envelope = z
  .looseObject({ payload: Base64, payloadType: z.string().min(1), signatures: z.array(EnvelopeSignature).min(1) })
  .meta({ title: 'DSSE envelope', description: 'A payload and signatures over PAE(payloadType, payload) (github.com/secure-systems-lab/dsse).' });
export type Envelope = z.output<typeof Envelope>;

/** Standard or URL-safe base64 (Base64 has checked which characters it holds). */
export function decodeBase64(text: string): Buffer {
  return Buffer.from(text.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
}

/** An envelope over `body`, signed with `key`: Ed25519 over PAE(payloadType, body). */
export function signEnvelope(payloadType: string, body: Buffer, key: SigningKey): Envelope {
  const sig = sign(null, pae(payloadType, body), key.privateKey);
  return { payload: body.toString('base64'), payloadType, signatures: [{ keyid: key.id, sig: sig.toString('base64'), publicKey: publicKeyText(key.key) }] };
}

/** A file's text as an envelope, or what is wrong with it (field by field). */
export function parseEnvelope(text: string): { envelope: Envelope } | { problems: string[] } {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    return { problems: [`not JSON (${(error as Error).message})`] };
  }
  const parsed = Envelope.safeParse(data);
  if (parsed.success) return { envelope: parsed.data };
  return { problems: parsed.error.issues.slice(0, 6).map((issue) => `${fieldPath(issue.path) || '(the whole file)'}: ${issue.message}`) };
}

/** What one signature of an envelope says, once checked. */
export interface CheckedSignature {
  /** The fingerprint of the key it verifies under; the keyid it claims when it verifies under none. */
  keyId: string;
  /** Whether it verifies under the public key it carries (or, carrying none, under a trusted key). */
  verified: boolean;
  /** Whether it verifies under one of the trusted keys. */
  trusted: boolean;
  /** Why it does not verify. */
  problem?: string;
  /** It carries no public key, so only a trusted key could have verified it: unknown, rather than changed. */
  unverifiable?: boolean;
}

/**
 * Checks each signature of an envelope over PAE(payloadType, payload): against the public key it
 * carries (which must be the key its keyid names), and against each trusted key. The payload is
 * returned only for the caller to parse; nothing in it is believed unless some signature verified.
 */
export function checkEnvelope(envelope: Envelope, trusted: PublicKey[] = []): { body: Buffer; signatures: CheckedSignature[] } {
  const body = decodeBase64(envelope.payload);
  const message = pae(envelope.payloadType, body);
  const signatures = envelope.signatures.map((signature): CheckedSignature => {
    const sig = decodeBase64(signature.sig);
    const verifies = (key: PublicKey['key']) => {
      try {
        return verify(null, message, key, sig);
      } catch {
        return false;
      }
    };
    const byTrusted = trusted.find((each) => verifies(each.key));
    const claimed = signature.keyid || '(no keyid)';
    if (signature.publicKey === undefined) {
      if (byTrusted) return { keyId: byTrusted.id, verified: true, trusted: true };
      return { keyId: claimed, verified: false, trusted: false, unverifiable: true, problem: `the signature of ${claimed} carries no public key and verifies under no trusted key` };
    }
    const carried = publicKeyFromText(signature.publicKey);
    if (!carried) return { keyId: claimed, verified: false, trusted: false, problem: `the signature of ${claimed} carries a public key that is not an Ed25519 key` };
    const id = keyId(carried);
    if (signature.keyid && signature.keyid !== id) return { keyId: claimed, verified: false, trusted: false, problem: `the signature's keyid ${signature.keyid} is not the fingerprint of the public key it carries (${id})` };
    if (!verifies(carried)) return { keyId: id, verified: false, trusted: false, problem: `the signature of ${id} does not verify: the envelope was changed after it was signed` };
    return { keyId: id, verified: true, trusted: byTrusted !== undefined };
  });
  return { body, signatures };
}
