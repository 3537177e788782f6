import { z } from 'zod';
import { REASON_CODES } from './reasons.js';

/** The wire shapes every transport shares; published as JSON Schema in contracts/schema/. */
export const IdempotencyKeySchema = z
  .string()
  .regex(/^[A-Za-z0-9._:-]{1,128}$/, '1-128 characters of A-Z a-z 0-9 . _ : -')
  .describe('Your key for this request. A repeat with the same key returns the recorded outcome and never runs twice.');

export const IntentSchema = z
  .object({
    capability: z.string().min(1).max(200).describe('Capability id, e.g. payments.transfer (see list_capabilities).'),
    params: z.record(z.string(), z.unknown()).describe("Parameters matching the capability's input schema."),
    rationale: z.string().max(2000).optional().describe('Why you want this; kept as a hash in the ledger.'),
    idempotency_key: IdempotencyKeySchema.optional(),
    ttl_seconds: z.number().int().positive().max(86_400).optional().describe('How long this intent stays valid.'),
    created_at: z.string().max(64).optional().describe('ISO 8601 time you formed the intent; TTL counts from it.'),
    observed_version: z
      .string()
      .max(128)
      .optional()
      .describe('The state version you based this on (e.g. `version` from a read); a newer state rejects with STATE_DRIFT.'),
  })
  .strict();

export const ReasonCodeSchema = z.enum(REASON_CODES as [string, ...string[]]);

export const OutcomeSchema = z.object({
  verdict: z.enum(['accepted', 'rejected', 'escalated']),
  reasons: z.array(ReasonCodeSchema),
  details: z.array(
    z.object({
      code: ReasonCodeSchema,
      message: z.string(),
      path: z.string().optional(),
      invariant: z.string().optional(),
    }),
  ),
  dfid: z.string(),
  decision_id: z.string(),
  capability: z.string().nullable(),
  idempotency_key: z.string().nullable(),
  output: z.unknown().optional(),
  status: z.enum(['accepted', 'rejected', 'pending', 'approved', 'denied', 'expired', 'failed']),
  expires_at: z.string().optional(),
  policies: z.array(z.string()),
  receipt: z.object({ seq: z.number().int(), hash: z.string() }).nullable(),
  replay_of: z.string().optional(),
  operator_note: z.string().optional(),
});
