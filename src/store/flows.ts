import type { Db } from './db.js';

/** Invocations per flow (dfid), counted at reservation time. */
export class Flows {
  private readonly bumpStmt;

  constructor(db: Db) {
    this.bumpStmt = db.prepare<[string], { invocations: number }>(
      `INSERT INTO flows (dfid, invocations) VALUES (?, 1)
       ON CONFLICT (dfid) DO UPDATE SET invocations = invocations + 1 RETURNING invocations`,
    );
  }

  /** Counts one more invocation and returns the new total. */
  bump(dfid: string): number {
    return (this.bumpStmt.get(dfid) as { invocations: number }).invocations;
  }
}
