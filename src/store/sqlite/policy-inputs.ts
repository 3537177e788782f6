import type { PolicyInputReads, Sync } from '../port/port.js';
import type { PolicyInputDbRow, PolicyInputFilter, PolicyInputRow } from '../port/rows.js';
import { policyInputFromRow, policyInputParams, policyInputs as sql } from '../tables/policy-inputs.js';
import type { Db } from './db.js';
import { prepare } from './stmt.js';

/** What each decision's policy request saw (ADR-023), kept beside the decision under a retention setting. */
export class PolicyInputs implements Sync<PolicyInputReads> {
  private readonly s;

  constructor(db: Db) {
    this.s = { put: prepare(db, sql.put), list: prepare<PolicyInputDbRow>(db, sql.list), purge: prepare(db, sql.purge) };
  }

  put(row: PolicyInputRow): void {
    this.s.put.run(...policyInputParams(row));
  }

  list(f: PolicyInputFilter): PolicyInputRow[] {
    return this.s.list.all(f.since ?? 0, f.agent ?? null, f.capability ?? null, f.after?.at ?? -1, f.after?.decision_id ?? '', f.limit).map(policyInputFromRow);
  }

  /** Drops inputs older than `before`; returns how many. */
  purge(before: number): number {
    return this.s.purge.run(before).changes;
  }
}
