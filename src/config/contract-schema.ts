import { z } from 'zod';

const ID = /^[a-z][a-z0-9_-]{0,63}$/;
const CAPABILITY_ID = /^[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*)+$/;
const WINDOW = /^[1-9][0-9]*(m|h|d)$/;
const FIELD = /^[a-z_][a-z0-9_]*$/i;

const BudgetSchema = z
  .object({
    window: z.string().regex(WINDOW, 'a window such as 15m, 1h or 1d'),
    max_calls: z.number().int().positive().optional().describe('Most executed calls within the window.'),
    sum: z.string().regex(FIELD).optional().describe('Numeric field (param or derived value) to add up.'),
    max: z.number().int().nonnegative().optional().describe('Largest allowed sum of `sum` within the window.'),
  })
  .strict()
  .refine((b) => b.max_calls !== undefined || (b.sum !== undefined && b.max !== undefined), {
    message: 'a budget needs max_calls, or sum together with max',
  });

const GrantSchema = z
  .object({
    capability: z.string().regex(CAPABILITY_ID, 'a capability id such as payments.transfer'),
    limits: z
      .object({
        max: z.record(z.string().regex(FIELD), z.number()).optional().describe('Numeric caps by field.'),
        min: z.record(z.string().regex(FIELD), z.number()).optional().describe('Numeric floors by field.'),
        allowed: z
          .record(z.string().regex(FIELD), z.array(z.union([z.string(), z.number(), z.boolean()])).min(1))
          .optional()
          .describe('Allowed values by field.'),
        budgets: z.array(BudgetSchema).optional(),
      })
      .strict()
      .default({}),
  })
  .strict();

const EscalationRuleSchema = z
  .object({
    capability: z.string().regex(CAPABILITY_ID),
    when: z.string().min(1).describe('A Cedar condition over principal, resource and context.'),
    reason: z.string().min(1).max(200),
  })
  .strict();

export const ContractSchema = z
  .object({
    agent: z.string().regex(ID, 'lowercase letters, digits, _ or -, starting with a letter'),
    version: z.number().int().positive(),
    owner: z.string().min(1),
    mission: z.string().min(1).max(2000),
    role: z.enum(['agent', 'supervisor']),
    default_ttl_seconds: z.number().int().positive().max(86_400).default(300),
    grants: z.array(GrantSchema).default([]),
    memory: z
      .array(
        z
          .object({
            scope: z.string().regex(ID),
            max_sensitivity: z.enum(['standard', 'elevated', 'restricted']),
          })
          .strict(),
      )
      .default([]),
    escalation: z
      .object({
        expiry_minutes: z.number().int().positive().max(7 * 24 * 60).optional(),
        rules: z.array(EscalationRuleSchema).default([]),
      })
      .strict()
      .default({ rules: [] }),
    supervises: z.array(z.string().regex(ID)).default([]).describe('Agents a supervisor may pause or terminate.'),
  })
  .strict();

export type Contract = z.infer<typeof ContractSchema>;
export type Grant = Contract['grants'][number];
export type Budget = NonNullable<Grant['limits']['budgets']>[number];

/** Parses '15m', '1h', '1d' into milliseconds. */
export function windowMs(window: string): number {
  const match = /^([1-9][0-9]*)(m|h|d)$/.exec(window);
  if (!match) throw new RangeError(`invalid window \`${window}\``);
  const unit = match[2] === 'm' ? 60_000 : match[2] === 'h' ? 3_600_000 : 86_400_000;
  return Number(match[1]) * unit;
}
