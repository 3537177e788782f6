import type { CredentialReads, Sync } from '../port/port.js';
import type { CredentialRow } from '../port/rows.js';
import { addParams, credentials as sql } from '../tables/credentials.js';
import type { Db } from './db.js';
import { prepare } from './stmt.js';

/** API keys of agents and operators (src/http/ authenticates with them). */
export class Credentials implements Sync<CredentialReads> {
  private readonly s;

  constructor(db: Db) {
    this.s = {
      add: prepare(db, sql.add),
      byHash: prepare<CredentialRow>(db, sql.byHash),
      get: prepare<CredentialRow>(db, sql.get),
      list: prepare<CredentialRow>(db, sql.list),
      revoke: prepare(db, sql.revoke),
    };
  }

  add(row: Omit<CredentialRow, 'revoked_at' | 'revoked_by'>): void {
    this.s.add.run(...addParams(row));
  }

  byHash(keyHash: string): CredentialRow | null {
    return this.s.byHash.get(keyHash) ?? null;
  }

  get(id: string): CredentialRow | null {
    return this.s.get.get(id) ?? null;
  }

  list(): CredentialRow[] {
    return this.s.list.all();
  }

  /** Revokes a key; false if it does not exist or was already revoked. */
  revoke(id: string, by: string, at: number): boolean {
    return this.s.revoke.run(at, by, id).changes === 1;
  }
}
