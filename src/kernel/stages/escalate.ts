import { windowMs } from '../../config/contract-schema.js';
import { hashOf } from '../../core/canonical.js';
import type { Outcome } from '../../core/types.js';
import { challenge } from '../challenger.js';
import { event, finishOp, mark, outcomeOf } from '../flow.js';
import { commitFlow, repeat } from '../record.js';
import { readsOf } from '../read-ahead.js';
import { stewardGates } from '../stewards.js';
import { policyEvent, policyInputOps } from './policy.js';
import type { KernelCore } from '../context.js';
import { next, type DecidedState, type Stage, type ValidatedState } from './state.js';

/**
 * Steward gates turn a permit into a human decision; an `@escalate` policy
 * does so itself. An escalation is one commit: the lineage, the pending
 * decision with its exact request and facts, and the key reserved as
 * `pending_approval`. Losing the key to another call answers as a repeat.
 */
export const escalateIfNeeded: Stage<DecidedState> = async (k, s) => {
  const { flow, verdict, contract, capability: cap, validated: v } = s;
  const { world, workspace } = k.deps;
  // A plan's step was decided with the whole plan, escalations and steward gates included, and approved with it (ADR-025).
  if (flow.plan) {
    flow.journal.push(policyEvent(k, s), ...policyInputOps(k, s));
    return next(s);
  }
  const gates = verdict.kind === 'permit' ? await gatesFor(k, s) : [];
  if (verdict.kind !== 'escalate' && !gates.length) {
    flow.journal.push(policyEvent(k, s), ...policyInputOps(k, s));
    return next(s);
  }
  const policies = [...verdict.policies, ...gates.map((g) => g.id)];
  const reasons = verdict.kind === 'escalate' ? [...verdict.reasons, ...gates.map((g) => g.reason)] : gates.map((g) => g.reason);
  flow.journal.push(policyEvent(k, s, gates.map((g) => g.id)), ...policyInputOps(k, s, gates.map((g) => g.id)));

  const now = world.now();
  const expiresAt = now + (contract.escalation.expiry_minutes ?? workspace.config.limits.escalation_expiry_minutes) * 60_000;
  const key = flow.key as string;
  const outcome: Outcome = { ...outcomeOf(flow, 'escalated', 'pending', [{ code: 'ESCALATION_REQUIRED', message: reasons.join('; ') }], policies), expires_at: new Date(expiresAt).toISOString() };
  const r = await commitFlow(k, flow, [
    { op: 'key.reserve', record: { agent: flow.agent, key, request_hash: s.keyHash, state: 'pending_approval', decision_id: flow.decisionId, created_at: now, expires_at: keyExpiry(k, now) }, now },
    event(flow, 'EscalationOpened', {
      reasons: ['ESCALATION_REQUIRED'],
      data: { policies, request_hash: s.keyHash, facts_hash: v.factsHash, expires_at: outcome.expires_at, reason_hashes: reasons.map((x) => hashOf(x)) },
    }),
    // The exact request and the facts it was decided on, kept for the approver.
    finishOp(flow, outcome, { intent: s.intent, facts: v.facts, facts_hash: v.factsHash, expires_at: expiresAt }),
  ]);
  if (!r.ok) {
    if (r.conflict.kind !== 'key_taken') throw new Error(`escalation refused by the store: ${r.conflict.kind}`);
    return repeat(k, flow, r.conflict.existing, s.keyHash);
  }
  flow.log.info({ step: 'escalation', decision_id: flow.decisionId, policies }, 'escalated; awaiting a human');
  mark(k, flow, 'escalate');
  challenge(k, flow, cap, v.params, reasons, 'text' in s.shaped ? s.shaped.text : undefined);
  return outcome;
};

/** The steward gates that turn this permitted call into a human decision (none: it may run). */
export async function gatesFor(k: KernelCore, s: ValidatedState): Promise<{ id: string; reason: string }[]> {
  const { world } = k.deps;
  const { capability: cap, validated: v } = s;
  // Steward gates are the root's for a delegated call: splitting work across children cannot dodge them (ADR-022).
  const governing = s.flow.chain?.[0] ?? { agent: s.flow.agent, contract: s.contract };
  const sums = new Map<string, number>();
  const reads = readsOf(k, s);
  for (const c of governing.contract.stewards.cumulative ?? []) sums.set(`${c.window}:${c.sum}`, await reads.usageSum(governing.agent, cap.def.id, c.sum, windowMs(c.window), world.now()));
  // Only an every-N gate counts executed calls: without one, the count is not read.
  const executed = governing.contract.stewards.every_n_calls === undefined ? 0 : await reads.executed(governing.agent);
  return stewardGates(governing.contract, cap, executed, (window, field) => sums.get(`${window}:${field}`) ?? 0, v.values);
}

export function keyExpiry(k: { deps: { workspace: { config: { limits: { idempotency_window_hours: number } } } } }, now: number): number {
  return now + k.deps.workspace.config.limits.idempotency_window_hours * 3_600_000;
}
