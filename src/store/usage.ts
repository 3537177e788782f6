import type { Db } from './db.js';

const BUCKET_MS = 60_000;

/**
 * Rolling-window usage, kept incrementally in one-minute buckets so a budget
 * check reads at most window/1min rows, however long the ledger grows.
 */
export class Usage {
  private readonly addStmt;
  private readonly sumStmt;

  constructor(db: Db) {
    this.addStmt = db.prepare(
      `INSERT INTO usage (agent, capability, field, bucket, total) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (agent, capability, field, bucket) DO UPDATE SET total = total + excluded.total`,
    );
    this.sumStmt = db.prepare<[string, string, string, number], { total: number | null }>(
      'SELECT SUM(total) AS total FROM usage WHERE agent = ? AND capability = ? AND field = ? AND bucket >= ?',
    );
  }

  /** Adds to the bucket of `at`; call inside the transaction that records the outcome. */
  add(agent: string, capability: string, field: string, amount: number, at: number): void {
    this.addStmt.run(agent, capability, field, Math.floor(at / BUCKET_MS), amount);
  }

  /**
   * Total over the window ending at `now`. Bucket-granular and conservative:
   * the bucket holding `now - window` counts whole, so nothing inside the
   * window is ever forgotten (usage may be remembered up to one bucket longer).
   */
  sum(agent: string, capability: string, field: string, windowMs: number, now: number): number {
    const from = Math.floor((now - windowMs) / BUCKET_MS);
    return this.sumStmt.get(agent, capability, field, from)?.total ?? 0;
  }
}

export const CALLS_FIELD = '_calls';
