import type { IdempotencyReads, Sync } from '../port/port.js';
import type { IdempotencyRecord, IdempotencyState } from '../port/rows.js';
import { idempotency as sql, insertParams, isLive } from '../tables/idempotency.js';
import type { Db } from './db.js';
import { prepare } from './stmt.js';

export type Reservation = { reserved: true } | { reserved: false; existing: IdempotencyRecord };

/** Atomic key reservation: the first caller wins; everybody else sees the winner's record. */
export class Idempotency implements Sync<IdempotencyReads> {
  private readonly s;

  constructor(private readonly db: Db) {
    this.s = {
      get: prepare<IdempotencyRecord>(db, sql.get),
      insert: prepare(db, sql.insert),
      dropExpired: prepare(db, sql.dropExpired),
      setState: prepare(db, sql.setState),
      release: prepare(db, sql.release),
      purge: prepare(db, sql.purge),
    };
  }

  peek(agent: string, key: string, now: number): IdempotencyRecord | null {
    const rec = this.record(agent, key);
    return rec && isLive(rec, now) ? rec : null;
  }

  /** The key's record, live or not (the read ahead's; its reader judges it live at its own moment). */
  record(agent: string, key: string): IdempotencyRecord | null {
    return this.s.get.get(agent, key) ?? null;
  }

  /** Must run inside a write transaction so the check and the insert are one step. */
  reserve(rec: IdempotencyRecord, now: number): Reservation {
    this.s.dropExpired.run(rec.agent, rec.key, now);
    if (this.s.insert.run(...insertParams(rec)).changes === 1) return { reserved: true };
    return { reserved: false, existing: this.s.get.get(rec.agent, rec.key) as IdempotencyRecord };
  }

  setState(agent: string, key: string, state: IdempotencyState, decisionId: string): void {
    this.s.setState.run(state, decisionId, agent, key);
  }

  /** Frees a key whose request was refused before any effect, so a retry is evaluated afresh. */
  release(agent: string, key: string, decisionId: string): void {
    this.s.release.run(agent, key, decisionId);
  }

  purgeExpired(now: number): number {
    return this.s.purge.run(now).changes;
  }

  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }
}
