import type { DecisionStatus, Intent, Outcome } from '../../core/types.js';
import type { DecisionReads, Op, Sync } from '../port/port.js';
import type { DecisionRecord, DecisionReview, DecisionRow, MinuteCount } from '../port/rows.js';
import { decisionFromRow, decisions as sql, finishParams, openParams } from '../tables/decisions.js';
import type { Db } from './db.js';
import { prepare } from './stmt.js';

/**
 * Operational state of each decision. The intent and facts of a pending
 * escalation are kept here (not in the ledger) because approving must execute
 * exactly that request; the outcome is kept for get_decision and replays.
 */
export class Decisions implements Sync<DecisionReads> {
  private readonly s;

  constructor(db: Db) {
    this.s = {
      open: prepare(db, sql.open),
      finish: prepare(db, sql.finish),
      resolve: prepare(db, sql.resolve),
      review: prepare(db, sql.review),
      running: prepare(db, sql.running),
      transition: prepare(db, sql.transition),
      get: prepare<DecisionRow>(db, sql.get),
      flowHasCalls: prepare(db, sql.flowHasCalls),
      pending: prepare<DecisionRow>(db, sql.pending),
      pendingCount: prepare<{ n: number }>(db, sql.pendingCount),
      byDfid: prepare<DecisionRow>(db, sql.byDfid),
      started: prepare<DecisionRow>(db, sql.started),
      recent: prepare<DecisionRow>(db, sql.recent),
      perMinute: prepare<MinuteCount>(db, sql.perMinute),
    };
  }

  /** Opens a decision, with its running mark and its policy input where its unit holds them (`openParams`). */
  open(open: Extract<Op, { op: 'decision.open' }>, running?: Extract<Op, { op: 'decision.running' }>, input?: Extract<Op, { op: 'policy_input.put' }>): void {
    this.s.open.run(...openParams(open, running, input));
  }

  get(id: string): DecisionRecord | null {
    const row = this.s.get.get(id);
    return row ? decisionFromRow(row) : null;
  }

  finish(id: string, outcome: Outcome, extra: { intent?: Intent | null; facts?: Record<string, unknown> | null; facts_hash?: string | null; expires_at?: number | null } = {}): void {
    this.s.finish.run(...finishParams(id, outcome, extra));
  }

  flowHasCalls(dfid: string, agent: string): boolean {
    return this.s.flowHasCalls.get(dfid, agent) !== undefined;
  }

  /** Attaches the challenger's review to a decision that is still pending; false if it no longer is. */
  setReview(id: string, review: DecisionReview): boolean {
    return this.s.review.run(id, JSON.stringify(review)).changes === 1;
  }

  pending(): DecisionRecord[] {
    return this.s.pending.all().map(decisionFromRow);
  }

  pendingCount(): number {
    return this.s.pendingCount.get()?.n ?? 0;
  }

  byDfid(dfid: string, limit = 1000): DecisionRecord[] {
    return this.s.byDfid.all(dfid, limit).map(decisionFromRow);
  }

  /** The decision's effect is about to start in process `runner`; its request is kept for reconciliation after a crash. */
  markRunning(id: string, runner: string | null, key: string, intent: Intent): void {
    this.s.running.run(id, runner, key, JSON.stringify(intent));
  }

  /** Moves a decision from one status to another; false if it was not in `from`. */
  transition(id: string, from: DecisionStatus, to: DecisionStatus): boolean {
    return this.s.transition.run(id, from, to).changes === 1;
  }

  started(): DecisionRecord[] {
    return this.s.started.all().map(decisionFromRow);
  }

  recent(agent: string, limit = 20): DecisionRecord[] {
    return this.s.recent.all(agent, limit).map(decisionFromRow);
  }

  perMinute(from: number): MinuteCount[] {
    return this.s.perMinute.all(from);
  }

  /** Moves a pending decision to its resolution; false if somebody else resolved it first. */
  resolve(id: string, status: 'approved' | 'denied' | 'expired', by: string, note: string | null, at: number): boolean {
    return this.s.resolve.run(id, status, at, by, note).changes === 1;
  }
}
