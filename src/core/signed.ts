import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { canonicalJson } from './canonical.js';

/**
 * Ed25519 signatures over a canonical payload: the RFC 8785 JSON of every
 * field except `sig`, after a domain tag, so a signed checkpoint can never be
 * passed off as a receipt or the other way round (ADR-016). Pure: no I/O.
 */
export type SignedObject<T extends object> = T & { key_id: string; sig: string };

export type SignatureCheck = { ok: true } | { ok: false; problem: string };

/** The bytes that are signed: the domain tag, a newline, the canonical JSON of the fields. */
function signingInput(tag: string, fields: object): Buffer {
  return Buffer.from(`${tag}\n${canonicalJson(fields)}`, 'utf8');
}

/** First 16 hex characters of the SHA-256 of the public key's SPKI DER: names the key in every signed object. */
export function keyId(key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return createHash('sha256').update(pub.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16);
}

export function signObject<T extends object>(tag: string, fields: T, privateKey: KeyObject): SignedObject<T> {
  const withKey = { ...fields, key_id: keyId(privateKey) };
  const sig = sign(null, signingInput(tag, withKey), privateKey).toString('base64url');
  return { ...withKey, sig };
}

/** Checks a signed object against a public key: the key id, then the signature over every other field. */
export function verifyObject(tag: string, value: unknown, publicKey: KeyObject): SignatureCheck {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { ok: false, problem: 'not a JSON object' };
  const { sig, ...fields } = value as Record<string, unknown>;
  if (typeof sig !== 'string' || !/^[A-Za-z0-9_-]{86}$/.test(sig)) return { ok: false, problem: 'no Ed25519 signature (`sig`, base64url)' };
  if (fields['key_id'] !== keyId(publicKey)) return { ok: false, problem: `signed by another key (\`${String(fields['key_id'])}\`, this public key is \`${keyId(publicKey)}\`)` };
  let input: Buffer;
  try {
    input = signingInput(tag, fields);
  } catch {
    return { ok: false, problem: 'fields have no canonical JSON form' };
  }
  return verify(null, input, publicKey, Buffer.from(sig, 'base64url')) ? { ok: true } : { ok: false, problem: 'signature does not verify: the object was changed or forged' };
}

/** An Ed25519 key from PEM text (PKCS#8 private or SPKI public); throws a one-line message otherwise. */
export function parseKey(pem: string, kind: 'private' | 'public'): KeyObject {
  let key: KeyObject;
  try {
    key = kind === 'private' ? createPrivateKey(pem) : createPublicKey(pem);
  } catch {
    throw new Error(`not a PEM ${kind} key`);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new Error(`an Ed25519 key is expected, not ${key.asymmetricKeyType ?? 'a symmetric key'}`);
  return key;
}

/** A fresh key pair as PEM text (PKCS#8 and SPKI), for `mandate init`. */
export function newKeyPairPem(): { privatePem: string; publicPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}
