import { z } from 'zod';
import { REASON_CODES } from './reasons.js';
import { SignedReceiptSchema } from './receipt.js';

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

/**
 * A free-text intent: `text` in place of capability and params. A local model
 * (the normalizer) turns the text into a capability and params; that proposal
 * then goes through the same pipeline as a structured intent. The other fields
 * come from the caller, never from the model.
 */
export const TextIntentSchema = z
  .object({
    text: z
      .string()
      .min(1)
      .describe(
        'What you want done, in words, e.g. "pay acme-supplies 250 euros from operating, invoice 1042". A local model proposes a capability and params from it; the proposal is then checked like any other intent.',
      ),
    rationale: IntentSchema.shape.rationale,
    idempotency_key: IdempotencyKeySchema.optional(),
    ttl_seconds: IntentSchema.shape.ttl_seconds,
    created_at: IntentSchema.shape.created_at,
    observed_version: IntentSchema.shape.observed_version,
  })
  .strict();

/** An intent as the kernel accepts it: structured, or free text (published as intent.schema.json). */
export const ProposalSchema = z.union([IntentSchema, TextIntentSchema]);

/**
 * The arguments of the submit_intent tool: the two forms of ProposalSchema
 * flattened into one object, because MCP clients and model APIs expect a tool's
 * input schema to be a plain object (no top-level anyOf). The kernel checks
 * that exactly one form is used.
 */
export const SubmitIntentArgsSchema = z
  .object({
    capability: IntentSchema.shape.capability.optional(),
    params: IntentSchema.shape.params.optional(),
    text: TextIntentSchema.shape.text.optional(),
    rationale: IntentSchema.shape.rationale,
    idempotency_key: IdempotencyKeySchema.optional(),
    ttl_seconds: IntentSchema.shape.ttl_seconds,
    created_at: IntentSchema.shape.created_at,
    observed_version: IntentSchema.shape.observed_version,
  })
  .strict()
  .describe('Pass either capability and params (a structured intent), or text (a free-text intent), not both.');

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
  status: z.enum(['accepted', 'rejected', 'pending', 'approved', 'denied', 'expired', 'failed', 'running', 'outcome_unknown']),
  expires_at: z.string().optional(),
  policies: z.array(z.string()),
  receipt: z.object({ seq: z.number().int(), hash: z.string() }).nullable(),
  signed_receipt: SignedReceiptSchema.optional(),
  replay_of: z.string().optional(),
  operator_note: z.string().optional(),
  normalized: z
    .object({
      capability: z.string(),
      params: z.record(z.string(), z.unknown()),
      model: z.string(),
      route: z.string(),
    })
    .optional()
    .describe('For a free-text intent: the capability and params the model proposed (and which model), as the kernel then judged them.'),
});
