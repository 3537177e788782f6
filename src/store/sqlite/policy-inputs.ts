import type { PolicyInputReads, Sync } from '../port/port.js';
import type { PolicyInputDbRow, PolicyInputFilter, PolicyInputPut, PolicyInputRow } from '../port/rows.js';
import { policyInputFromRow, policyInputParams, policyInputs as sql } from '../tables/policy-inputs.js';
import type { Db } from './db.js';
import { prepare } from './stmt.js';

/** What each decision's policy request saw (ADR-023), kept in the decision's row (ADR-040) under a retention setting. */
export class PolicyInputs implements Sync<PolicyInputReads> {
  private readonly s;

  constructor(db: Db) {
    this.s = { put: prepare(db, sql.put), list: prepare<PolicyInputDbRow>(db, sql.list), purge: prepare(db, sql.purge), mark: prepare(db, sql.mark) };
  }

  /** Writes the input into its decision's row; false if there is no such decision. */
  put(row: PolicyInputPut): boolean {
    return this.s.put.run(...policyInputParams(row)).changes === 1;
  }

  list(f: PolicyInputFilter): PolicyInputRow[] {
    return this.s.list.all(f.since ?? 0, f.agent ?? null, f.capability ?? null, f.after?.at ?? -1, f.after?.decision_id ?? '', f.limit).map(policyInputFromRow);
  }

  /** Clears the inputs of decisions made before `before` (inside the caller's transaction); returns how many. */
  purge(before: number): number {
    const n = this.s.purge.run(before).changes;
    this.s.mark.run(before);
    return n;
  }
}
