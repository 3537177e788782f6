import type { DelegationReads, Sync } from '../port/port.js';
import type { DelegationRow } from '../port/rows.js';
import { addParams, delegations as sql } from '../tables/delegations.js';
import type { Db } from './db.js';
import { prepare } from './stmt.js';

/** Sub-mandates over SQLite; the kernel decides, this only records (src/kernel/delegation/). */
export class Delegations implements Sync<DelegationReads> {
  private readonly s;

  constructor(db: Db) {
    this.s = {
      liveChildren: prepare<{ n: number }>(db, sql.liveChildren),
      add: prepare(db, sql.add),
      end: prepare(db, sql.end),
      revokeCredentials: prepare(db, sql.revokeCredentials),
      byChild: prepare<DelegationRow>(db, sql.byChild),
      get: prepare<DelegationRow>(db, sql.get),
      list: prepare<DelegationRow>(db, sql.list),
      dueToExpire: prepare<DelegationRow>(db, sql.dueToExpire),
    };
  }

  liveChildren(parent: string, now: number): number {
    return this.s.liveChildren.get(parent, now)?.n ?? 0;
  }

  /** Records a sub-mandate; false if the child's id is taken. */
  add(r: Omit<DelegationRow, 'status' | 'ended_at' | 'ended_by'>): boolean {
    return this.s.add.run(...addParams(r)).changes === 1;
  }

  /** Ends a live sub-mandate and revokes its child's keys; false if it was not live. */
  end(child: string, status: 'revoked' | 'expired', by: string, at: number): boolean {
    const changed = this.s.end.run(status, at, by, child).changes === 1;
    this.s.revokeCredentials.run(at, by, child);
    return changed;
  }

  byChild(child: string): DelegationRow | null {
    return this.s.byChild.get(child) ?? null;
  }

  get(id: string): DelegationRow | null {
    return this.s.get.get(id) ?? null;
  }

  list(): DelegationRow[] {
    return this.s.list.all();
  }

  dueToExpire(now: number): DelegationRow[] {
    return this.s.dueToExpire.all(now);
  }
}
