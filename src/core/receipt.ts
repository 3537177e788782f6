import type { KeyObject } from 'node:crypto';
import { z } from 'zod';
import type { Outcome } from './types.js';
import { signObject, verifyObject, type SignatureCheck, type SignedObject } from './signed.js';

/** Domain tag of a receipt signature (ADR-016). */
export const RECEIPT_TAG = 'mandate-receipt-v1';

/** What a signed receipt vouches for: this decision, on this request, got this verdict, recorded at this ledger position. */
export interface ReceiptFields {
  v: 1;
  decision_id: string;
  dfid: string;
  request_hash: string;
  verdict: Outcome['verdict'];
  status: Outcome['status'];
  seq: number;
  hash: string;
}

export type SignedReceipt = SignedObject<ReceiptFields>;

const HEX64 = /^[0-9a-f]{64}$/;

/** The published shape of `signed_receipt` (contracts/schema via the outcome schema). */
export const SignedReceiptSchema = z
  .object({
    v: z.literal(1),
    decision_id: z.string(),
    dfid: z.string(),
    request_hash: z.string().regex(HEX64).describe('SHA-256 of the canonical request: agent, capability and params (or agent and text).'),
    verdict: z.enum(['accepted', 'rejected', 'escalated']),
    status: z.enum(['accepted', 'rejected', 'pending', 'approved', 'denied', 'expired', 'failed']),
    seq: z.number().int().positive().describe('Ledger sequence of the event that recorded this answer.'),
    hash: z.string().regex(HEX64).describe('Hash of that ledger event.'),
    key_id: z.string().describe('First 16 hex of the SHA-256 of the signing public key (SPKI DER).'),
    sig: z.string().describe('Ed25519 signature (base64url) over `mandate-receipt-v1\\n` + the RFC 8785 JSON of every other field.'),
  })
  .strict()
  .describe('Signed receipt: check it offline with `mandate receipt verify --pubkey <file>`.');

export function signReceipt(fields: ReceiptFields, privateKey: KeyObject): SignedReceipt {
  return signObject(RECEIPT_TAG, fields, privateKey);
}

/** Checks a receipt's shape and signature; on success returns the fields it vouches for. */
export function verifyReceipt(value: unknown, publicKey: KeyObject): (SignatureCheck & { ok: false }) | { ok: true; receipt: SignedReceipt } {
  const shape = SignedReceiptSchema.safeParse(value);
  if (!shape.success) return { ok: false, problem: `not a signed receipt: ${shape.error.issues.map((i) => `${i.path.join('.') || '(root)'} ${i.message}`).join('; ')}` };
  const check = verifyObject(RECEIPT_TAG, value, publicKey);
  return check.ok ? { ok: true, receipt: shape.data as SignedReceipt } : check;
}

/** Signs an outcome's receipt; the kernel's one wiring point calls this through `withSignedReceipt`. */
export type ReceiptSigner = (fields: ReceiptFields) => SignedReceipt;

export function receiptSigner(privateKey: KeyObject): ReceiptSigner {
  return (fields) => signReceipt(fields, privateKey);
}

/**
 * The outcome with `signed_receipt` added, when there is a signer, a ledger
 * receipt and a request hash; otherwise the outcome unchanged.
 */
export function withSignedReceipt(signer: ReceiptSigner | undefined, outcome: Outcome, requestHash: string | undefined): Outcome {
  if (!signer || !outcome.receipt || requestHash === undefined) return outcome;
  const fields: ReceiptFields = {
    v: 1,
    decision_id: outcome.decision_id,
    dfid: outcome.dfid,
    request_hash: requestHash,
    verdict: outcome.verdict,
    status: outcome.status,
    seq: outcome.receipt.seq,
    hash: outcome.receipt.hash,
  };
  return { ...outcome, signed_receipt: signer(fields) };
}
