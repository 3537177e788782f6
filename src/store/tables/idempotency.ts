// The idempotency table: one reservation per (agent, key); the first caller wins.
import type { IdempotencyRecord } from '../port/rows.js';
import type { Sql } from './sql.js';

/**
 * Whether the record has lapsed by `now` (a parameter): expired, and not one whose effect may be running or whose
 * outcome a crash left unknown, which never lapse: they would run twice (ADR-017). `isLive` below is its negation.
 */
const lapsedBy = (now: string) => `idempotency.expires_at <= ${now} AND idempotency.state NOT IN ('in_flight', 'outcome_unknown')`;

export const idempotency = {
  get: 'SELECT * FROM idempotency WHERE agent = $1 AND key = $2',
  // The primary key (agent, key) makes the first reservation win in every process and replica; a record that has
  // lapsed is taken over in the same statement. One row changed: the key is this call's.
  reserve: `INSERT INTO idempotency (agent, key, request_hash, state, decision_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
    ON CONFLICT (agent, key) DO UPDATE SET request_hash = excluded.request_hash, state = excluded.state, decision_id = excluded.decision_id,
      created_at = excluded.created_at, expires_at = excluded.expires_at
    WHERE ${lapsedBy('$8')}`,
  setState: 'UPDATE idempotency SET state = $1, decision_id = $2 WHERE agent = $3 AND key = $4',
  release: 'DELETE FROM idempotency WHERE agent = $1 AND key = $2 AND decision_id = $3',
  purge: `DELETE FROM idempotency WHERE ${lapsedBy('$1')}`,
} satisfies Record<string, Sql>;

export const reserveParams = (k: IdempotencyRecord, now: number): unknown[] => [k.agent, k.key, k.request_hash, k.state, k.decision_id, k.created_at, k.expires_at, now];

/** Whether a stored record still holds its key at `now` (an expired one counts as absent). */
export const isLive = (rec: IdempotencyRecord, now: number): boolean => rec.expires_at > now || rec.state === 'in_flight' || rec.state === 'outcome_unknown';
