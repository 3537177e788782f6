import type { Db } from './db.js';

export type CredentialKind = 'agent' | 'operator';
export type CredentialRole = 'agent' | 'operator' | 'viewer';

/** One API key. Only its SHA-256 hash is stored; the key itself is shown once, at creation. */
export interface CredentialRow {
  id: string;
  kind: CredentialKind;
  /** The agent id, or the operator's name. */
  principal: string;
  role: CredentialRole;
  key_hash: string;
  /** The first characters of the key, so a person can tell keys apart. */
  key_prefix: string;
  label: string | null;
  created_at: number;
  created_by: string;
  revoked_at: number | null;
  revoked_by: string | null;
}

/** API keys of agents and operators (src/http/ authenticates with them). */
export class Credentials {
  private readonly insertStmt;
  private readonly byHashStmt;
  private readonly byIdStmt;
  private readonly listStmt;
  private readonly revokeStmt;

  constructor(db: Db) {
    this.insertStmt = db.prepare(
      `INSERT INTO credentials (id, kind, principal, role, key_hash, key_prefix, label, created_at, created_by)
       VALUES (@id, @kind, @principal, @role, @key_hash, @key_prefix, @label, @created_at, @created_by)`,
    );
    this.byHashStmt = db.prepare<[string], CredentialRow>('SELECT * FROM credentials WHERE key_hash = ? AND revoked_at IS NULL');
    this.byIdStmt = db.prepare<[string], CredentialRow>('SELECT * FROM credentials WHERE id = ?');
    this.listStmt = db.prepare<[], CredentialRow>('SELECT * FROM credentials ORDER BY created_at, id');
    this.revokeStmt = db.prepare('UPDATE credentials SET revoked_at = @at, revoked_by = @by WHERE id = @id AND revoked_at IS NULL');
  }

  add(row: Omit<CredentialRow, 'revoked_at' | 'revoked_by'>): void {
    this.insertStmt.run(row);
  }

  /** The live (not revoked) credential with this key hash. */
  byHash(keyHash: string): CredentialRow | null {
    return this.byHashStmt.get(keyHash) ?? null;
  }

  get(id: string): CredentialRow | null {
    return this.byIdStmt.get(id) ?? null;
  }

  list(): CredentialRow[] {
    return this.listStmt.all();
  }

  /** Revokes a key; false if it does not exist or was already revoked. */
  revoke(id: string, by: string, at: number): boolean {
    return this.revokeStmt.run({ id, by, at }).changes === 1;
  }
}
