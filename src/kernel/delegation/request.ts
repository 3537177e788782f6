import { z } from 'zod';
import { GrantSchema } from '../../config/contract-schema.js';

/** The built-in capability that creates a sub-mandate; agents see it as the `delegate` tool (ADR-022). */
export const DELEGATE_ID = 'delegation.create';
export const DELEGATE_TOOL = 'delegate';

const ID = /^[a-z][a-z0-9_-]{0,63}$/;

/** A grant handed on: a capability (id or glob) the parent holds, with limits no wider; no Cedar `when` (the ancestors' still apply). */
export const ChildGrantSchema = GrantSchema.omit({ when: true });

/**
 * What a parent asks for when it delegates. Nothing is clipped: a request for
 * more than the parent has is refused, per dimension (src/kernel/delegation/subset.ts).
 */
export const DelegationRequestSchema = z
  .object({
    child: z.string().regex(ID, 'lowercase letters, digits, _ or -, starting with a letter').describe('The new agent id of the sub-agent (never reused).'),
    purpose: z.string().min(1).max(500).describe('What the sub-agent is for; it becomes its mission.'),
    grants: z.array(ChildGrantSchema).min(1).max(50).describe('Capabilities you hold, each with limits equal to or tighter than yours (max, min, allowed, budgets).'),
    memory: z
      .array(z.object({ scope: z.string().regex(ID), max_sensitivity: z.enum(['standard', 'elevated', 'restricted']), write: z.boolean().default(false) }).strict())
      .max(50)
      .default([])
      .describe('Memory scopes you hold, at the same or a lower sensitivity.'),
    expires_in_minutes: z.number().int().positive().max(30 * 24 * 60).optional().describe("Lifetime; default your contract's delegation.default_expiry_minutes. Never beyond your own expiry."),
    may_delegate: z.boolean().default(false).describe('Whether the sub-agent may delegate further.'),
    max_depth: z.number().int().min(0).max(7).optional().describe('Levels of sub-agents allowed below the sub-agent (default 1 when may_delegate, else 0).'),
  })
  .strict();

export type DelegationRequest = z.infer<typeof DelegationRequestSchema>;
export type ChildGrant = z.infer<typeof ChildGrantSchema>;
