import type { ReasonCode } from '../core/reasons.js';
import type { Outcome, ReasonDetail } from '../core/types.js';
import type { IdempotencyRecord } from '../store/port/index.js';
import type { CommitResult, Op, UnitConflict } from '../store/port/index.js';
import type { KernelCore } from './context.js';
import { contractRef, failedChecks } from './decision-record.js';
import { chainRef } from './delegation/chain.js';
import { event, finishOp, outcomeOf, type Flow } from './flow.js';

/**
 * A commit point: the flow's journal and `ops` as one unit. Committed, the
 * journal is empty; refused by a guard, the journal is kept (its lineage still
 * belongs to the decision) and the conflict is returned.
 */
export async function commitFlow(k: KernelCore, flow: Flow, ops: Op[] = []): Promise<CommitResult> {
  const r = await k.deps.store.commit([...flow.journal, ...ops]);
  if (r.ok) {
    flow.journal = [];
    if (r.note !== undefined) flow.note = r.note;
  }
  return r;
}

/** A commit point that no guard can refuse. */
export async function commitSure(k: KernelCore, flow: Flow, ops: Op[] = []): Promise<void> {
  const r = await commitFlow(k, flow, ops);
  if (!r.ok) throw new UnexpectedConflict(r.conflict);
}

export class UnexpectedConflict extends Error {
  constructor(readonly conflict: UnitConflict) {
    super(`unexpected store conflict: ${conflict.kind}`);
    this.name = 'UnexpectedConflict';
  }
}

/** Records a refusal: the flow's lineage, `final` event and the decision, in one commit. */
export async function finishRejected(k: KernelCore, flow: Flow, final: Op, details: ReasonDetail[], policies: string[], status: 'rejected' | 'failed' = 'rejected', extra: Op[] = []): Promise<Outcome> {
  const outcome = outcomeOf(flow, 'rejected', status, details, policies);
  await commitSure(k, flow, [final, ...extra, finishOp(flow, outcome)]);
  return outcome;
}

/** An `IntentRejected` refusal. */
export function reject(k: KernelCore, flow: Flow, details: ReasonDetail[], data: Record<string, unknown> = {}): Promise<Outcome> {
  const reasons = [...new Set(details.map((d) => d.code))];
  flow.log.info({ step: 'rejected', decision_id: flow.decisionId, reasons }, 'intent rejected');
  return finishRejected(k, flow, event(flow, 'IntentRejected', { reasons, data: { capability: flow.capability, checks: failedChecks(details), ...contractRef(k.contractOf(flow.agent)), ...chainRef(flow.chain), ...data } }), details, []);
}

/**
 * A refusal after the decision but before any effect: recorded as an outcome
 * that did not run, and a key this decision holds is released for a retry.
 */
export function refuseBeforeEffect(k: KernelCore, flow: Flow, details: ReasonDetail[], policies: string[]): Promise<Outcome> {
  const reasons = [...new Set(details.map((d) => d.code))];
  flow.log.info({ step: 'engine', decision_id: flow.decisionId, reasons }, 'refused before the effect');
  const release: Op[] = flow.key ? [{ op: 'key.release', agent: flow.agent, key: flow.key, decision_id: flow.decisionId }] : [];
  return finishRejected(k, flow, event(flow, 'ActionOutcome', { reasons, data: { capability: flow.capability, ok: false, ran: false } }), details, policies, 'failed', release);
}

/** Answers a repeated key from its record. */
export async function repeat(k: KernelCore, flow: Flow, seen: IdempotencyRecord, requestHash: string): Promise<Outcome> {
  if (seen.request_hash !== requestHash) {
    return reject(k, flow, [{ code: 'IDEMPOTENCY_CONFLICT', message: 'this idempotency key was used with a different request', path: 'idempotency_key' }]);
  }
  const original = await k.deps.store.decisions.get(seen.decision_id);
  let outcome: Outcome;
  let reasons: ReasonCode[];
  if (seen.state === 'outcome_unknown') {
    reasons = ['OUTCOME_UNKNOWN'];
    const message = `a crash cut decision ${seen.decision_id} short and whether its effect happened is unknown; nothing runs under this key until an operator settles it (mandate decisions settle ${seen.decision_id})`;
    outcome = { ...outcomeOf(flow, 'rejected', 'rejected', [{ code: 'OUTCOME_UNKNOWN', message }]), replay_of: seen.decision_id };
  } else if (seen.state === 'in_flight' || !original?.outcome) {
    reasons = ['IN_PROGRESS'];
    outcome = { ...outcomeOf(flow, 'rejected', 'rejected', [{ code: 'IN_PROGRESS', message: 'the first request with this key is still running' }]), replay_of: seen.decision_id };
  } else {
    const recorded = original.outcome;
    reasons = [...recorded.reasons, seen.state === 'pending_approval' ? 'IN_PROGRESS' : 'IDEMPOTENT_REPLAY'];
    // The recorded outcome, but this call's own note and proposal (not an earlier call's).
    const { operator_note: _old, normalized: _oldProposal, ...rest } = recorded;
    outcome = {
      ...rest,
      reasons,
      dfid: flow.dfid,
      decision_id: flow.decisionId,
      receipt: null,
      replay_of: seen.decision_id,
      ...(flow.note ? { operator_note: flow.note } : {}),
      ...(flow.normalized ? { normalized: flow.normalized } : {}),
    };
  }
  await commitSure(k, flow, [event(flow, 'IntentReplayed', { reasons, data: { replay_of: seen.decision_id, state: seen.state, ...contractRef(k.contractOf(flow.agent)) } }), finishOp(flow, outcome)]);
  flow.log.info({ step: 'idempotency', decision_id: flow.decisionId, replay_of: seen.decision_id, reasons }, 'repeat answered from record');
  return outcome;
}
