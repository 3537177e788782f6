import { hash } from 'node:crypto';
import canonicalizeImport from 'canonicalize';

// canonicalize ships CJS typings; normalise the default export once here.
const canonicalize = canonicalizeImport as unknown as (value: unknown) => string | undefined;

/** RFC 8785 (JCS) canonical JSON. Throws on values JSON cannot represent. */
export function canonicalJson(value: unknown): string {
  const text = canonicalize(value);
  if (text === undefined) throw new TypeError('value has no canonical JSON form');
  return text;
}

/** One-shot SHA-256 (hex): about a third cheaper than a Hash object for the short texts of events. */
export function sha256Hex(text: string | Buffer): string {
  return hash('sha256', text, 'hex');
}

/** SHA-256 of a value's canonical JSON, the one way the project hashes data. */
export function hashOf(value: unknown): string {
  return sha256Hex(canonicalJson(value));
}
