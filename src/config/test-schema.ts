import { z } from 'zod';
import { REASON_CODES, type ReasonCode } from '../core/reasons.js';

const FIELD = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** One contract test: a call as an agent would make it, the world it meets, and the verdict it must get. */
export const ContractTestCaseSchema = z
  .object({
    name: z.string().min(1).max(200).describe('What the case shows, e.g. "a transfer of exactly 500.00 is within the cap".'),
    agent: z.string().min(1).describe('The agent making the call (its contract applies).'),
    now: z.iso
      .datetime({ offset: true })
      .optional()
      .describe('The fixed time of the call (ISO 8601); default 2030-01-01T00:00:00Z. TTLs, effective periods and usage windows are measured from it.'),
    intent: z
      .object({
        capability: z.string().min(1),
        params: z.record(z.string(), z.unknown()).default({}),
      })
      .catchall(z.unknown())
      .describe('The intent as an agent sends it: capability and params, plus ttl_seconds, created_at, observed_version or idempotency_key if the case needs them.'),
    facts: z
      .record(z.string(), z.unknown())
      .optional()
      .describe("What the capability's facts resolver returns for this case (default: the real resolver runs, read-only)."),
    usage: z
      .record(z.string().regex(FIELD), z.number().nonnegative())
      .optional()
      .describe('Usage of this capability by this agent so far, recorded just before `now` so that every window counts it: `calls` (executed calls) or a numeric field such as amount_minor.'),
    expect: z
      .object({
        verdict: z.enum(['accepted', 'rejected', 'escalated']),
        reasons: z
          .array(z.enum(REASON_CODES as [ReasonCode, ...ReasonCode[]]))
          .optional()
          .describe('The exact reason codes, in any order (omit to check the verdict only; [] for none).'),
        policies: z.array(z.string()).optional().describe('Policy ids that must be among those that decided.'),
      })
      .strict(),
  })
  .strict();

export const ContractTestFileSchema = z
  .object({
    cases: z.array(ContractTestCaseSchema).min(1).max(1000),
  })
  .strict();

export type ContractTestCase = z.infer<typeof ContractTestCaseSchema>;
