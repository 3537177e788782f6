// The decisions table: operational state of each decision, one row each.
import type { Intent, Outcome } from '../../core/types.js';
import type { Op } from '../port/port.js';
import type { DecisionRecord, DecisionReview, DecisionRow } from '../port/rows.js';
import { policyInputParams } from './policy-inputs.js';
import type { Sql } from './sql.js';

/** A decision record's columns: the row's policy input (ADR-040) is read by `policyInputs.list` alone, not with every decision. */
const RECORD = `id, dfid, agent, capability, status, request_hash, idempotency_key, intent, facts, facts_hash, policies, created_at, expires_at,
  resolved_at, resolved_by, resolution_note, outcome, review, runner`;

export const decisions = {
  /**
   * A decision's first row, with what later ops of its unit would write folded in: the `running` mark (ADR-032) and
   * the policy input (ADR-040). Parameters of `openParams`.
   */
  open: `INSERT INTO decisions (id, dfid, agent, capability, status, request_hash, idempotency_key, created_at, runner, intent,
    policy_verdict, policy_gates, policy_input, policy_input_hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
  /** Parameters in the order of `finishParams`. */
  finish: `UPDATE decisions SET status = $2, capability = COALESCE(capability, $3), idempotency_key = $4, outcome = $5, policies = $6,
    intent = COALESCE($7, intent), facts = COALESCE($8, facts), facts_hash = $9, expires_at = $10 WHERE id = $1`,
  resolve: "UPDATE decisions SET status = $2, resolved_at = $3, resolved_by = $4, resolution_note = $5 WHERE id = $1 AND status = 'pending'",
  review: "UPDATE decisions SET review = $2 WHERE id = $1 AND status = 'pending'",
  running: "UPDATE decisions SET status = 'running', runner = $2, idempotency_key = $3, intent = COALESCE(intent, $4) WHERE id = $1",
  transition: 'UPDATE decisions SET status = $3 WHERE id = $1 AND status = $2',
  get: `SELECT ${RECORD} FROM decisions WHERE id = $1`,
  flowHasCalls: "SELECT 1 AS one FROM decisions WHERE dfid = $1 AND ($2 = '*' OR agent = $2) LIMIT 1",
  pending: `SELECT ${RECORD} FROM decisions WHERE status = 'pending' ORDER BY created_at, id`,
  pendingCount: "SELECT count(*) AS n FROM decisions WHERE status = 'pending'",
  byDfid: `SELECT ${RECORD} FROM decisions WHERE dfid = $1 ORDER BY created_at, id LIMIT $2`,
  started: `SELECT ${RECORD} FROM decisions WHERE status IN ('running', 'outcome_unknown') ORDER BY created_at, id`,
  // The console's reads, by the indexes on (agent, created_at) and (created_at) (migration 13).
  recent: `SELECT ${RECORD} FROM decisions WHERE agent = $1 ORDER BY created_at DESC, id DESC LIMIT $2`,
  perMinute: 'SELECT created_at / 60000 AS minute, status, count(*) AS n FROM decisions WHERE created_at >= $1 GROUP BY created_at / 60000, status ORDER BY minute, status',
} satisfies Record<string, Sql>;

type OpenOp = Extract<Op, { op: 'decision.open' }>;
type RunningOp = Extract<Op, { op: 'decision.running' }>;
type InputOp = Extract<Op, { op: 'policy_input.put' }>;

/**
 * The `decision.running` of the decision that `unit[at]` opens, if the same
 * unit marks it running (a fresh call's pre-effect commit) before any other op
 * on that decision. The ops between them do not touch the decision row, so
 * inserting it running at once leaves the same row as an insert and an update,
 * with one statement instead of two (ADR-032).
 */
export function runningInUnit(unit: readonly Op[], at: number, id: string): RunningOp | undefined {
  for (let i = at + 1; i < unit.length; i++) {
    const op = unit[i] as Op;
    if (op.op === 'decision.running' && op.id === id) return op;
    if (op.op.startsWith('decision.') && 'id' in op && op.id === id) return undefined;
  }
  return undefined;
}

/**
 * The `policy_input.put` of the decision that `unit[at]` opens, if the same
 * unit writes it before finishing the decision (every call the policy stage
 * judged). Only that op writes the policy columns, and the capability it
 * names fills the decision's only where the open left none (a free-text
 * intent), as its own update would: one insert leaves the same row (ADR-040).
 */
export function inputInUnit(unit: readonly Op[], at: number, id: string): InputOp | undefined {
  for (let i = at + 1; i < unit.length; i++) {
    const op = unit[i] as Op;
    if (op.op === 'policy_input.put' && op.row.decision_id === id) return op;
    if (op.op === 'decision.finish' && op.id === id) return undefined;
  }
  return undefined;
}

/** The parameters of `decisions.open`: the opened decision, with its running mark and its policy input if its unit holds them. */
export function openParams(o: OpenOp, running: RunningOp | undefined, input: InputOp | undefined): unknown[] {
  const capability = o.capability ?? input?.row.capability ?? null;
  const policy = input ? policyInputParams(input.row).slice(2) : [null, null, null, null];
  const run = running ? ['running', running.key, running.runner, JSON.stringify(running.intent)] : ['rejected', null, null, null];
  return [o.id, o.dfid, o.agent, capability, run[0], o.request_hash, run[1], o.created_at, run[2], run[3], ...policy];
}

/** The parameters of `decisions.finish` (every store writes the same). */
export function finishParams(
  id: string,
  outcome: Outcome,
  extra: { intent?: Intent | null; facts?: Record<string, unknown> | null; facts_hash?: string | null; expires_at?: number | null },
): unknown[] {
  return [
    id,
    // A repeat of a pending escalation answers "pending" to its caller but is
    // not itself awaiting a human: only the original enters the approval queue.
    outcome.replay_of && outcome.status === 'pending' ? 'rejected' : outcome.status,
    // A free-text intent learns its capability only once normalised.
    outcome.capability,
    outcome.idempotency_key,
    JSON.stringify(outcome),
    JSON.stringify(outcome.policies),
    extra.intent ? JSON.stringify(extra.intent) : null,
    extra.facts ? JSON.stringify(extra.facts) : null,
    extra.facts_hash ?? null,
    extra.expires_at ?? null,
  ];
}

/** A stored row as a record (every store stores JSON columns as text). */
export function decisionFromRow(row: DecisionRow): DecisionRecord {
  return {
    ...row,
    intent: row.intent ? (JSON.parse(row.intent) as Intent) : null,
    facts: row.facts ? (JSON.parse(row.facts) as Record<string, unknown>) : null,
    policies: JSON.parse(row.policies) as string[],
    outcome: row.outcome ? (JSON.parse(row.outcome) as Outcome) : null,
    review: row.review ? (JSON.parse(row.review) as DecisionReview) : null,
  };
}
