// API keys of agents and operators, stored as SHA-256 hashes (src/http/ authenticates with them).
import type { CredentialRow } from '../port/rows.js';
import type { Sql } from './sql.js';

export const credentials = {
  add: 'INSERT INTO credentials (id, kind, principal, role, key_hash, key_prefix, label, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)',
  byHash: 'SELECT * FROM credentials WHERE key_hash = $1 AND revoked_at IS NULL',
  get: 'SELECT * FROM credentials WHERE id = $1',
  list: 'SELECT * FROM credentials ORDER BY created_at, id',
  revoke: 'UPDATE credentials SET revoked_at = $1, revoked_by = $2 WHERE id = $3 AND revoked_at IS NULL',
} satisfies Record<string, Sql>;

export const addParams = (r: Omit<CredentialRow, 'revoked_at' | 'revoked_by'>): unknown[] => [r.id, r.kind, r.principal, r.role, r.key_hash, r.key_prefix, r.label, r.created_at, r.created_by];
