import { flows as sql } from '../tables/flows.js';
import type { Db } from './db.js';
import { prepare } from './stmt.js';

/** Invocations per flow (dfid), counted at reservation time. */
export class Flows {
  private readonly bumpStmt;

  constructor(db: Db) {
    this.bumpStmt = prepare<{ invocations: number }>(db, sql.bump);
  }

  /** Counts one more invocation and returns the new total. */
  bump(dfid: string): number {
    return (this.bumpStmt.get(dfid) as { invocations: number }).invocations;
  }
}
