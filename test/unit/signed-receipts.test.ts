import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signCheckpoint } from '../../src/anchor/checkpoint.js';
import { receiptSigner, signReceipt, verifyReceipt, withSignedReceipt, type ReceiptFields } from '../../src/core/receipt.js';
import { keyId, verifyObject } from '../../src/core/signed.js';
import type { Outcome } from '../../src/core/types.js';

const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const other = generateKeyPairSync('ed25519');
const fields: ReceiptFields = { v: 1, decision_id: 'd-1', dfid: 'a'.repeat(32), request_hash: 'b'.repeat(64), verdict: 'accepted', status: 'accepted', seq: 7, hash: 'c'.repeat(64) };

describe('signed receipts', () => {
  it('verify with the public key, and name the key', () => {
    const r = signReceipt(fields, privateKey);
    expect(r.key_id).toBe(keyId(publicKey));
    expect(verifyReceipt(r, publicKey)).toEqual({ ok: true, receipt: r });
  });

  it('any changed field breaks the signature', () => {
    const r = signReceipt(fields, privateKey);
    for (const change of [{ verdict: 'rejected' }, { seq: 8 }, { hash: 'd'.repeat(64) }, { request_hash: 'e'.repeat(64) }, { decision_id: 'd-2' }]) {
      expect(verifyReceipt({ ...r, ...change }, publicKey)).toEqual({ ok: false, problem: expect.stringMatching(/signature does not verify/) });
    }
  });

  it('another key, a missing signature or a wrong shape is refused with the reason', () => {
    const r = signReceipt(fields, privateKey);
    expect(verifyReceipt(r, other.publicKey)).toEqual({ ok: false, problem: expect.stringMatching(/signed by another key/) });
    const { sig: _sig, ...unsigned } = r;
    expect(verifyReceipt(unsigned, publicKey).ok).toBe(false);
    expect(verifyReceipt([r], publicKey)).toEqual({ ok: false, problem: expect.stringMatching(/^not a signed receipt/) });
  });

  it('a checkpoint signature never passes as a receipt (domain tags differ)', () => {
    const c = signCheckpoint({ v: 1, seq: 7, hash: 'c'.repeat(64), time: '2026-01-01T00:00:00.000Z' }, privateKey);
    expect(verifyObject('mandate-receipt-v1', c, publicKey)).toEqual({ ok: false, problem: expect.stringMatching(/does not verify/) });
    expect(verifyObject('mandate-checkpoint-v1', c, publicKey)).toEqual({ ok: true });
  });

  it('withSignedReceipt signs only an outcome with a ledger receipt, over its own fields', () => {
    const outcome = { verdict: 'accepted', status: 'accepted', decision_id: 'd-1', dfid: fields.dfid, receipt: { seq: 7, hash: fields.hash } } as Outcome;
    const signed = withSignedReceipt(receiptSigner(privateKey), outcome, fields.request_hash);
    expect(verifyReceipt(signed.signed_receipt, publicKey)).toEqual({ ok: true, receipt: expect.objectContaining(fields) });
    expect(withSignedReceipt(receiptSigner(privateKey), { ...outcome, receipt: null }, fields.request_hash)).not.toHaveProperty('signed_receipt');
    expect(withSignedReceipt(undefined, outcome, fields.request_hash)).toBe(outcome);
  });
});
