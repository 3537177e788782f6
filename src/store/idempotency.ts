import type { Db } from './db.js';

export type IdempotencyState = 'pending_approval' | 'in_flight' | 'done' | 'failed' | 'outcome_unknown';

export interface IdempotencyRecord {
  agent: string;
  key: string;
  request_hash: string;
  state: IdempotencyState;
  decision_id: string;
  created_at: number;
  expires_at: number;
}

export type Reservation = { reserved: true } | { reserved: false; existing: IdempotencyRecord };

/** Atomic key reservation: the first caller wins; everybody else sees the winner's record. */
export class Idempotency {
  private readonly getStmt;
  private readonly insertStmt;
  private readonly dropExpiredStmt;
  private readonly setStateStmt;
  private readonly purgeStmt;
  private readonly releaseStmt;

  constructor(private readonly db: Db) {
    this.getStmt = db.prepare<[string, string], IdempotencyRecord>('SELECT * FROM idempotency WHERE agent = ? AND key = ?');
    this.insertStmt = db.prepare(
      `INSERT INTO idempotency (agent, key, request_hash, state, decision_id, created_at, expires_at)
       VALUES (@agent, @key, @request_hash, @state, @decision_id, @created_at, @expires_at)
       ON CONFLICT (agent, key) DO NOTHING`,
    );
    // A key whose effect may be running, or whose outcome a crash left unknown, never lapses: it would run twice.
    this.dropExpiredStmt = db.prepare("DELETE FROM idempotency WHERE agent = ? AND key = ? AND expires_at <= ? AND state NOT IN ('in_flight', 'outcome_unknown')");
    this.setStateStmt = db.prepare('UPDATE idempotency SET state = ?, decision_id = ? WHERE agent = ? AND key = ?');
    this.releaseStmt = db.prepare('DELETE FROM idempotency WHERE agent = ? AND key = ? AND decision_id = ?');
    this.purgeStmt = db.prepare("DELETE FROM idempotency WHERE expires_at <= ? AND state NOT IN ('in_flight', 'outcome_unknown')");
  }

  /** A live record for this key, or null (an expired one counts as absent). */
  peek(agent: string, key: string, now: number): IdempotencyRecord | null {
    const rec = this.getStmt.get(agent, key);
    return rec && (rec.expires_at > now || rec.state === 'in_flight' || rec.state === 'outcome_unknown') ? rec : null;
  }

  /** Must run inside a write transaction so the check and the insert are one step. */
  reserve(rec: IdempotencyRecord, now: number): Reservation {
    this.dropExpiredStmt.run(rec.agent, rec.key, now);
    if (this.insertStmt.run(rec).changes === 1) return { reserved: true };
    return { reserved: false, existing: this.getStmt.get(rec.agent, rec.key) as IdempotencyRecord };
  }

  setState(agent: string, key: string, state: IdempotencyState, decisionId: string): void {
    this.setStateStmt.run(state, decisionId, agent, key);
  }

  /** Frees a key whose request was refused before any effect, so a retry is evaluated afresh. */
  release(agent: string, key: string, decisionId: string): void {
    this.releaseStmt.run(agent, key, decisionId);
  }

  purgeExpired(now: number): number {
    return this.purgeStmt.run(now).changes;
  }

  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }
}
