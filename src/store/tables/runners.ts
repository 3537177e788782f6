// The processes sharing the store that can run effects, with their heartbeats (ADR-017).
import type { Sql } from './sql.js';

export const runners = {
  beat: `INSERT INTO runners (id, host, pid, started_at, heartbeat_at) VALUES ($1, $2, $3, $4, $5)
    ON CONFLICT (id) DO UPDATE SET heartbeat_at = EXCLUDED.heartbeat_at`,
  remove: 'DELETE FROM runners WHERE id = $1',
  list: 'SELECT * FROM runners ORDER BY started_at, id',
} satisfies Record<string, Sql>;
