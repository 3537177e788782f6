/**
 * Approval by the human in the agent's own client, shared by both wires:
 * a server-sent elicitation on 2025-era sessions (server.ts), an
 * `input_required` result on 2026-07-28 (modern/approval.ts). Where the
 * contract opts in (escalation.client_approval) the question states the exact
 * call; the answer resolves the pending decision once, through the kernel's
 * single-use approve/deny. Off by default: a program can answer an elicitation.
 */
import { z } from 'zod';
import type { Outcome } from '../core/types.js';
import type { Kernel } from '../kernel/kernel.js';

export const ApprovalAnswer = z.object({ decision: z.enum(['approve', 'deny']), reason: z.string().max(2000).optional() });

/** The elicitation form: approve or deny, and an optional note (recorded as a hash). */
export const APPROVAL_FORM = {
  type: 'object' as const,
  properties: {
    decision: { type: 'string' as const, title: 'Decision', enum: ['approve', 'deny'], description: 'approve runs the request now; deny refuses it' },
    reason: { type: 'string' as const, title: 'Reason', description: 'Optional note, recorded as a hash' },
  },
  required: ['decision'],
};

export function clientMayApprove(kernel: Kernel, agent: string): boolean {
  return !!kernel.contractOf(agent)?.escalation.client_approval;
}

/** The question, in the request's own words (capability and params), for the human who decides; null when the decision has no intent. */
export async function approvalQuestion(kernel: Kernel, agent: string, outcome: Outcome): Promise<string | null> {
  const d = await kernel.deps.store.decisions.get(outcome.decision_id);
  if (!d?.intent) return null;
  return `Mandate: agent \`${agent}\` asks to run \`${d.intent.capability}\` with ${JSON.stringify(d.intent.params)}. ${outcome.details.map((x) => x.message).join('; ')}. Approve?`;
}

/**
 * Applies an accepted answer. A decision already resolved (by an operator,
 * or by this same answer replayed) is not resolved again: its current
 * outcome is returned, so the effect never runs twice.
 */
export async function applyApproval(kernel: Kernel, agent: string, decisionId: string, answer: z.infer<typeof ApprovalAnswer>): Promise<Outcome | null> {
  const by = `client-human:${agent}`;
  try {
    return answer.decision === 'approve' ? await kernel.approve(decisionId, by, answer.reason ?? null) : await kernel.deny(decisionId, by, answer.reason ?? null);
  } catch {
    return kernel.getDecision(agent, decisionId);
  }
}
