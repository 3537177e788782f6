import type { IdempotencyReads, Sync } from '../port/port.js';
import type { IdempotencyRecord, IdempotencyState } from '../port/rows.js';
import { idempotency as sql, isLive, reserveParams } from '../tables/idempotency.js';
import type { Db } from './db.js';
import { prepare } from './stmt.js';

export type Reservation = { reserved: true } | { reserved: false; existing: IdempotencyRecord };

/** Atomic key reservation: the first caller wins; everybody else sees the winner's record. */
export class Idempotency implements Sync<IdempotencyReads> {
  private readonly s;

  constructor(private readonly db: Db) {
    this.s = {
      get: prepare<IdempotencyRecord>(db, sql.get),
      reserve: prepare(db, sql.reserve),
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

  /** One statement reserves a free or lapsed key; run in the unit's write transaction, so a refused one reads the holder that refused it. */
  reserve(rec: IdempotencyRecord, now: number): Reservation {
    if (this.s.reserve.run(...reserveParams(rec, now)).changes === 1) return { reserved: true };
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
