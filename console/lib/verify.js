// Checks a signed receipt in the browser's own Web Crypto, not by asking the
// server: the Ed25519 signature over `mandate-receipt-v1\n` + the RFC 8785
// JSON of its fields (src/core/signed.ts), the key id, and the chain link:
// the ledger event at the receipt's position, rehashed here, has the
// receipt's hash, and its prev_hash is the rehashed event before it
// (src/store/ledger.ts).

const RECEIPT_TAG = 'mandate-receipt-v1';
const GENESIS = '0'.repeat(64);

/** RFC 8785 (JCS) canonical JSON: keys in UTF-16 order, numbers and strings as ECMAScript writes them. */
export function jcs(v) {
  if (v === null || typeof v !== 'object') {
    const text = JSON.stringify(v);
    if (text === undefined) throw new TypeError('no canonical JSON form');
    return text;
  }
  if (Array.isArray(v)) return `[${v.map(jcs).join(',')}]`;
  return `{${Object.keys(v)
    .filter((k) => v[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${jcs(v[k])}`)
    .join(',')}}`;
}

const hex = (buf) => [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, '0')).join('');
export const sha256Hex = async (bytes) => hex(await crypto.subtle.digest('SHA-256', typeof bytes === 'string' ? new TextEncoder().encode(bytes) : bytes));

function fromBase64(text, url) {
  const b64 = url ? text.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (text.length % 4)) % 4) : text;
  return Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
}

/** The hash of a ledger event from its logical fields, as the ledger computes it. */
export function eventHash(e) {
  const { agent, data, decision_id, dfid, id, prev_hash, reasons, seq, time, type } = e;
  return sha256Hex(jcs({ agent, data, decision_id, dfid, id, prev_hash, reasons, seq, time, type }));
}

/**
 * Verifies `receipt` against the public key (`{ key_id, spki }`, base64 DER)
 * and the two ledger events ending at its seq (`events`, from the API).
 * Returns each check with its result; `ok` only if all hold.
 */
export async function verifyReceipt(receipt, key, events, expect) {
  const checks = [];
  const check = (name, ok, detail) => checks.push({ name, ok: !!ok, detail });
  if (!receipt || typeof receipt !== 'object' || typeof receipt.sig !== 'string' || typeof receipt.seq !== 'number') {
    check('shape', false, 'not a signed receipt (no `sig` or `seq`)');
    return { ok: false, checks };
  }
  const spki = fromBase64(key.spki, false);
  const keyId = (await sha256Hex(spki)).slice(0, 16);
  check('key', receipt.key_id === keyId, receipt.key_id === keyId ? `signed by key ${keyId}` : `key id ${receipt.key_id} is not this workspace's key ${keyId}`);
  const { sig, ...fields } = receipt;
  let signed = false;
  try {
    const pub = await crypto.subtle.importKey('spki', spki, { name: 'Ed25519' }, false, ['verify']);
    signed = await crypto.subtle.verify({ name: 'Ed25519' }, pub, fromBase64(sig, true), new TextEncoder().encode(`${RECEIPT_TAG}\n${jcs(fields)}`));
  } catch (err) {
    check('signature', false, `could not check: ${err.message}`);
  }
  if (!checks.some((c) => c.name === 'signature')) check('signature', signed, signed ? 'Ed25519 signature verifies (Web Crypto)' : 'signature does not verify: the receipt was changed or forged');
  const at = events.find((e) => e.seq === receipt.seq);
  const before = events.find((e) => e.seq === receipt.seq - 1);
  if (!at) {
    check('chain', false, `no ledger event at seq ${receipt.seq}`);
  } else {
    const h = await eventHash(at);
    const prev = receipt.seq === 1 ? GENESIS : before ? await eventHash(before) : null;
    const same = h === at.hash && h === receipt.hash && at.decision_id === receipt.decision_id && at.dfid === receipt.dfid;
    check('event', same, same ? `ledger event #${at.seq} (${at.type}) rehashes to the receipt's hash` : `ledger event #${at.seq} does not match the receipt (hash ${h.slice(0, 16)}…, receipt ${String(receipt.hash).slice(0, 16)}…)`);
    const linked = prev !== null && at.prev_hash === prev;
    check('link', linked, linked ? `linked to #${receipt.seq - 1} (prev_hash ${prev.slice(0, 16)}…)` : `prev_hash of #${at.seq} is not the hash of #${receipt.seq - 1}`);
  }
  if (expect && expect.request_hash) check('request', receipt.request_hash === expect.request_hash, receipt.request_hash === expect.request_hash ? 'binds the request hash shown above' : 'binds another request than the one shown');
  return { ok: checks.every((c) => c.ok), checks };
}
