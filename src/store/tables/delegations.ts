// Sub-mandates (ADR-022): the part of a parent's authority handed to a child agent.
import type { DelegationRow } from '../port/rows.js';
import type { Sql } from './sql.js';

/** The table, one self-contained migration for each dialect (times are epoch ms). */
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

export const delegations = {
  liveChildren: "SELECT COUNT(*) AS n FROM delegations WHERE parent = $1 AND status = 'live' AND expires_at > $2",
  add: {
    sqlite: `INSERT INTO delegations (id, child, parent, root, depth, max_depth, may_delegate, purpose, grants, memory, created_at, expires_at, created_by, decision_id, status)
      VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 'live') ON CONFLICT (child) DO NOTHING`,
    pg: `INSERT INTO delegations (id, child, parent, root, depth, max_depth, may_delegate, purpose, grants, memory, created_at, expires_at, created_by, decision_id, status)
      VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 'live') ON CONFLICT (child) DO NOTHING`,
  },
  end: "UPDATE delegations SET status = $1, ended_at = $2, ended_by = $3 WHERE child = $4 AND status = 'live'",
  revokeCredentials: "UPDATE credentials SET revoked_at = $1, revoked_by = $2 WHERE kind = 'agent' AND principal = $3 AND revoked_at IS NULL",
  byChild: 'SELECT * FROM delegations WHERE child = $1',
  get: 'SELECT * FROM delegations WHERE id = $1',
  list: 'SELECT * FROM delegations ORDER BY created_at, id',
  dueToExpire: "SELECT * FROM delegations WHERE status = 'live' AND expires_at <= $1 ORDER BY depth, id",
} satisfies Record<string, Sql>;

export const addParams = (r: Omit<DelegationRow, 'status' | 'ended_at' | 'ended_by'>): unknown[] => [
  r.id, r.child, r.parent, r.root, r.depth, r.max_depth, r.may_delegate, r.purpose, r.grants, r.memory, r.created_at, r.expires_at, r.created_by, r.decision_id,
];
