import type { DecisionStatus, Intent, Outcome } from '../core/types.js';
import type { Db } from './db.js';

export interface DecisionRecord {
  id: string;
  dfid: string;
  agent: string;
  capability: string | null;
  status: DecisionStatus;
  request_hash: string;
  idempotency_key: string | null;
  intent: Intent | null;
  facts: Record<string, unknown> | null;
  facts_hash: string | null;
  policies: string[];
  created_at: number;
  expires_at: number | null;
  resolved_at: number | null;
  resolved_by: string | null;
  resolution_note: string | null;
  outcome: Outcome | null;
  /** The challenger's advisory risk summary of a pending escalation, if one was written. */
  review: DecisionReview | null;
  /** The process that runs (or ran) the decision's effect, while it has no outcome. */
  runner: string | null;
}

/** A model's risk summary for the human approver: advisory, never deciding (ADR-006). */
export interface DecisionReview {
  risk: 'low' | 'medium' | 'high';
  summary: string;
  model: string;
  route: string;
  at: number;
}

/** Decisions opened in one minute (epoch ms / 60 000) that now have one status. */
export interface MinuteCount {
  minute: number;
  status: DecisionStatus;
  n: number;
}

export interface DecisionRow extends Omit<DecisionRecord, 'intent' | 'facts' | 'policies' | 'outcome' | 'review'> {
  intent: string | null;
  facts: string | null;
  policies: string;
  outcome: string | null;
  review: string | null;
}

/**
 * Operational state of each decision. The intent and facts of a pending
 * escalation are kept here (not in the ledger) because approving must execute
 * exactly that request; the outcome is kept for get_decision and replays.
 */
export class Decisions {
  private readonly insertStmt;
  private readonly getStmt;
  private readonly finishStmt;
  private readonly pendingStmt;
  private readonly resolveStmt;
  private readonly runningStmt;
  private readonly transitionStmt;
  private readonly startedStmt;
  private readonly flowCallsStmt;
  private readonly reviewStmt;
  private readonly byDfidStmt;
  private readonly pendingCountStmt;
  private readonly recentStmt;
  private readonly perMinuteStmt;

  constructor(db: Db) {
    this.insertStmt = db.prepare(
      `INSERT INTO decisions (id, dfid, agent, capability, status, request_hash, idempotency_key, created_at)
       VALUES (@id, @dfid, @agent, @capability, @status, @request_hash, @idempotency_key, @created_at)`,
    );
    this.getStmt = db.prepare<[string], DecisionRow>('SELECT * FROM decisions WHERE id = ?');
    this.finishStmt = db.prepare(
      'UPDATE decisions SET status = @status, capability = COALESCE(capability, @capability), idempotency_key = @idempotency_key, outcome = @outcome, policies = @policies, intent = COALESCE(@intent, intent), facts = COALESCE(@facts, facts), facts_hash = @facts_hash, expires_at = @expires_at WHERE id = @id',
    );
    this.flowCallsStmt = db.prepare<{ dfid: string; agent: string }, { one: number }>(
      "SELECT 1 AS one FROM decisions WHERE dfid = @dfid AND (@agent = '*' OR agent = @agent) LIMIT 1",
    );
    this.reviewStmt = db.prepare("UPDATE decisions SET review = @review WHERE id = @id AND status = 'pending'");
    this.pendingStmt = db.prepare<[], DecisionRow>("SELECT * FROM decisions WHERE status = 'pending' ORDER BY created_at, id");
    this.byDfidStmt = db.prepare<[string, number], DecisionRow>('SELECT * FROM decisions WHERE dfid = ? ORDER BY created_at, id LIMIT ?');
    this.pendingCountStmt = db.prepare<[], { n: number }>("SELECT count(*) AS n FROM decisions WHERE status = 'pending'");
    this.recentStmt = db.prepare<[string, number], DecisionRow>('SELECT * FROM decisions WHERE agent = ? ORDER BY created_at DESC, id DESC LIMIT ?');
    this.perMinuteStmt = db.prepare<[number], MinuteCount>('SELECT created_at / 60000 AS minute, status, count(*) AS n FROM decisions WHERE created_at >= ? GROUP BY minute, status ORDER BY minute');
    this.runningStmt = db.prepare("UPDATE decisions SET status = 'running', runner = @runner, idempotency_key = @key, intent = COALESCE(intent, @intent) WHERE id = @id");
    this.transitionStmt = db.prepare('UPDATE decisions SET status = @to WHERE id = @id AND status = @from');
    this.startedStmt = db.prepare<[], DecisionRow>("SELECT * FROM decisions WHERE status IN ('running', 'outcome_unknown') ORDER BY created_at, id");
    this.resolveStmt = db.prepare(
      `UPDATE decisions SET status = @status, resolved_at = @resolved_at, resolved_by = @resolved_by,
       resolution_note = @resolution_note WHERE id = @id AND status = 'pending'`,
    );
  }

  open(d: Pick<DecisionRecord, 'id' | 'dfid' | 'agent' | 'capability' | 'request_hash' | 'idempotency_key' | 'created_at'>): void {
    this.insertStmt.run({ ...d, status: 'rejected' });
  }

  get(id: string): DecisionRecord | null {
    const row = this.getStmt.get(id);
    return row ? decisionFromRow(row) : null;
  }

  finish(
    id: string,
    outcome: Outcome,
    extra: { intent?: Intent | null; facts?: Record<string, unknown> | null; facts_hash?: string | null; expires_at?: number | null } = {},
  ): void {
    this.finishStmt.run(finishValues(id, outcome, extra));
  }

  /** Whether `agent` (or any agent, '*') has made calls in flow `dfid`. */
  flowHasCalls(dfid: string, agent: string): boolean {
    return this.flowCallsStmt.get({ dfid, agent }) !== undefined;
  }

  /** Attaches the challenger's review to a decision that is still pending; false if it no longer is. */
  setReview(id: string, review: DecisionReview): boolean {
    return this.reviewStmt.run({ id, review: JSON.stringify(review) }).changes === 1;
  }

  pending(): DecisionRecord[] {
    return this.pendingStmt.all().map(decisionFromRow);
  }

  pendingCount(): number {
    return this.pendingCountStmt.get()?.n ?? 0;
  }

  /** The decisions of one flow, oldest first. */
  byDfid(dfid: string, limit = 1000): DecisionRecord[] {
    return this.byDfidStmt.all(dfid, limit).map(decisionFromRow);
  }

  /** The agent's newest decisions, newest first (the console's agent page). */
  recent(agent: string, limit = 20): DecisionRecord[] {
    return this.recentStmt.all(agent, limit).map(decisionFromRow);
  }

  /** How many decisions opened in each minute since `from` (epoch ms), per status (the console's rate chart). */
  perMinute(from: number): MinuteCount[] {
    return this.perMinuteStmt.all(from);
  }

  /** The decision's effect is about to start in process `runner`; its request is kept for reconciliation after a crash. */
  markRunning(id: string, runner: string | null, key: string, intent: Intent): void {
    this.runningStmt.run({ id, runner, key, intent: JSON.stringify(intent) });
  }

  /** Moves a decision from one status to another; false if it was not in `from`. */
  transition(id: string, from: DecisionStatus, to: DecisionStatus): boolean {
    return this.transitionStmt.run({ id, from, to }).changes === 1;
  }

  /** Decisions whose effect started and has no recorded outcome, oldest first. */
  started(): DecisionRecord[] {
    return this.startedStmt.all().map(decisionFromRow);
  }

  /** Moves a pending decision to its resolution; false if somebody else resolved it first. */
  resolve(id: string, status: 'approved' | 'denied' | 'expired', by: string, note: string | null, at: number): boolean {
    return this.resolveStmt.run({ id, status, resolved_by: by, resolution_note: note, resolved_at: at }).changes === 1;
  }
}

/** The columns `finish` writes (every store writes the same). */
export function finishValues(
  id: string,
  outcome: Outcome,
  extra: { intent?: Intent | null; facts?: Record<string, unknown> | null; facts_hash?: string | null; expires_at?: number | null },
) {
  return {
    id,
    // A repeat of a pending escalation answers "pending" to its caller but is
    // not itself awaiting a human: only the original enters the approval queue.
    status: outcome.replay_of && outcome.status === 'pending' ? 'rejected' : outcome.status,
    // A free-text intent learns its capability only once normalised.
    capability: outcome.capability,
    idempotency_key: outcome.idempotency_key,
    outcome: JSON.stringify(outcome),
    policies: JSON.stringify(outcome.policies),
    intent: extra.intent ? JSON.stringify(extra.intent) : null,
    facts: extra.facts ? JSON.stringify(extra.facts) : null,
    facts_hash: extra.facts_hash ?? null,
    expires_at: extra.expires_at ?? null,
  };
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
