import type { Sync, UsageReads } from '../port/port.js';
import { bucketOf, usage as sql, windowStart } from '../tables/usage.js';
import type { Db } from './db.js';
import { prepare } from './stmt.js';

/** Rolling-window usage, kept incrementally in one-minute buckets. */
export class Usage implements Sync<UsageReads> {
  private readonly addStmt;
  private readonly sumStmt;

  constructor(db: Db) {
    this.addStmt = prepare(db, sql.add);
    this.sumStmt = prepare<{ total: number }>(db, sql.sum);
  }

  /** Adds to the bucket of `at`; call inside the transaction that records the outcome. */
  add(agent: string, capability: string, field: string, amount: number, at: number): void {
    this.addStmt.run(agent, capability, field, bucketOf(at), amount);
  }

  sum(agent: string, capability: string, field: string, windowMs: number, now: number): number {
    return this.sumStmt.get(agent, capability, field, windowStart(now, windowMs))?.total ?? 0;
  }
}
