import type { Db } from './sqlite/db.js';

export type DelegationStatus = 'live' | 'revoked' | 'expired';

/**
 * One sub-mandate (ADR-022): the part of `parent`'s authority handed to the
 * agent `child`. Grants and memory scopes are JSON text as the kernel checked
 * them; `max_depth` is the deepest level (the root contract is level 0) that
 * any descendant of this child may reach.
 */
export interface DelegationRow {
  id: string;
  child: string;
  parent: string;
  root: string;
  depth: number;
  max_depth: number;
  may_delegate: number;
  purpose: string;
  grants: string;
  memory: string;
  created_at: number;
  expires_at: number;
  created_by: string;
  decision_id: string;
  status: DelegationStatus;
  ended_at: number | null;
  ended_by: string | null;
}

/** The table's DDL, one self-contained migration for each dialect (ids and times the same as elsewhere). */
export const DELEGATIONS_DDL = (bigint: 'INTEGER' | 'BIGINT') => `
  CREATE TABLE delegations (
    id TEXT PRIMARY KEY,
    child TEXT NOT NULL UNIQUE,
    parent TEXT NOT NULL,
    root TEXT NOT NULL,
    depth INTEGER NOT NULL,
    max_depth INTEGER NOT NULL,
    may_delegate INTEGER NOT NULL,
    purpose TEXT NOT NULL,
    grants TEXT NOT NULL,
    memory TEXT NOT NULL,
    created_at ${bigint} NOT NULL,
    expires_at ${bigint} NOT NULL,
    created_by TEXT NOT NULL,
    decision_id TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('live', 'revoked', 'expired')),
    ended_at ${bigint},
    ended_by TEXT
  );
  CREATE INDEX delegations_parent ON delegations(parent, status);
  CREATE INDEX delegations_root ON delegations(root);
`;

/** The SQL both dialects share, with `?`/`$n` placeholders made by the caller's driver. */
export const DELEGATION_SQL = {
  liveChildren: 'SELECT COUNT(*) AS n FROM delegations WHERE parent = $1 AND status = $2 AND expires_at > $3',
  insert: `INSERT INTO delegations (id, child, parent, root, depth, max_depth, may_delegate, purpose, grants, memory, created_at, expires_at, created_by, decision_id, status)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 'live')`,
  end: 'UPDATE delegations SET status = $1, ended_at = $2, ended_by = $3 WHERE child = $4 AND status = $5',
  revokeCredentials: "UPDATE credentials SET revoked_at = $1, revoked_by = $2 WHERE kind = 'agent' AND principal = $3 AND revoked_at IS NULL",
  byChild: 'SELECT * FROM delegations WHERE child = $1',
  byId: 'SELECT * FROM delegations WHERE id = $1',
  list: 'SELECT * FROM delegations ORDER BY created_at, id',
  dueToExpire: "SELECT * FROM delegations WHERE status = 'live' AND expires_at <= $1 ORDER BY depth, id",
} as const;

const sqlite = (sql: string) => sql.replace(/\$\d+/g, '?');

/** Sub-mandates over SQLite; the kernel decides, this only records (src/kernel/delegation/). */
export class Delegations {
  private readonly liveChildrenStmt;
  private readonly insertStmt;
  private readonly endStmt;
  private readonly revokeCredentialsStmt;
  private readonly byChildStmt;
  private readonly byIdStmt;
  private readonly listStmt;
  private readonly dueStmt;

  constructor(db: Db) {
    this.liveChildrenStmt = db.prepare<[string, string, number], { n: number }>(sqlite(DELEGATION_SQL.liveChildren));
    this.insertStmt = db.prepare(sqlite(DELEGATION_SQL.insert));
    this.endStmt = db.prepare(sqlite(DELEGATION_SQL.end));
    this.revokeCredentialsStmt = db.prepare(sqlite(DELEGATION_SQL.revokeCredentials));
    this.byChildStmt = db.prepare<[string], DelegationRow>(sqlite(DELEGATION_SQL.byChild));
    this.byIdStmt = db.prepare<[string], DelegationRow>(sqlite(DELEGATION_SQL.byId));
    this.listStmt = db.prepare<[], DelegationRow>(DELEGATION_SQL.list);
    this.dueStmt = db.prepare<[number], DelegationRow>(sqlite(DELEGATION_SQL.dueToExpire));
  }

  /** Live sub-mandates `parent` holds at `now`. */
  liveChildren(parent: string, now: number): number {
    return this.liveChildrenStmt.get(parent, 'live', now)?.n ?? 0;
  }

  /** Records a sub-mandate; false if the child's id is taken (the caller's unit rolls back). */
  add(r: Omit<DelegationRow, 'status' | 'ended_at' | 'ended_by'>): boolean {
    if (this.byChild(r.child)) return false;
    this.insertStmt.run(r.id, r.child, r.parent, r.root, r.depth, r.max_depth, r.may_delegate, r.purpose, r.grants, r.memory, r.created_at, r.expires_at, r.created_by, r.decision_id);
    return true;
  }

  /** Ends a live sub-mandate and revokes its child's keys; false if it was not live. */
  end(child: string, status: 'revoked' | 'expired', by: string, at: number): boolean {
    const changed = this.endStmt.run(status, at, by, child, 'live').changes === 1;
    if (changed) this.revokeCredentialsStmt.run(at, by, child);
    return changed;
  }

  byChild(child: string): DelegationRow | null {
    return this.byChildStmt.get(child) ?? null;
  }

  get(id: string): DelegationRow | null {
    return this.byIdStmt.get(id) ?? null;
  }

  list(): DelegationRow[] {
    return this.listStmt.all();
  }

  /** Live sub-mandates whose expiry has passed, parents first. */
  dueToExpire(now: number): DelegationRow[] {
    return this.dueStmt.all(now);
  }
}
