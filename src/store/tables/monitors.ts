// Drift-monitor windows and steward counters. SQLite evaluates windows with
// statements inside its transaction; PostgreSQL loads one agent's windows,
// evaluates them in memory and writes them back (src/store/pg/windows.ts).
import type { Sql } from './sql.js';

export const monitors = {
  countExecuted: 'INSERT INTO steward_counts (agent, executed) VALUES ($1, 1) ON CONFLICT (agent) DO UPDATE SET executed = steward_counts.executed + 1 RETURNING executed',
  executed: 'SELECT executed FROM steward_counts WHERE agent = $1',
  samples: 'SELECT at, value FROM monitor_samples WHERE agent = $1 AND monitor = $2 ORDER BY id',
  resetSamples: 'DELETE FROM monitor_samples WHERE agent = $1',
  resetState: 'DELETE FROM monitor_state WHERE agent = $1',
  addSample: 'INSERT INTO monitor_samples (agent, monitor, at, value) VALUES ($1, $2, $3, $4)',
  // As an upsert: an existing row keeps its first_at.
  setState: `INSERT INTO monitor_state (agent, monitor, first_at, consecutive) VALUES ($1, $2, $3, $4)
    ON CONFLICT (agent, monitor) DO UPDATE SET consecutive = EXCLUDED.consecutive`,
  state: 'SELECT first_at, consecutive FROM monitor_state WHERE agent = $1 AND monitor = $2',
  // SQLite's statement-by-statement windows.
  trimLast: `DELETE FROM monitor_samples WHERE agent = $1 AND monitor = $2 AND id <= (
      SELECT id FROM monitor_samples WHERE agent = $1 AND monitor = $2 ORDER BY id DESC LIMIT 1 OFFSET $3)`,
  trimTime: 'DELETE FROM monitor_samples WHERE agent = $1 AND monitor = $2 AND at <= $3',
  statsLast: 'SELECT COUNT(*) AS count, SUM(value) AS sum, MAX(value) AS max, MIN(at) AS "firstAt" FROM monitor_samples WHERE agent = $1 AND monitor = $2',
  statsTime: 'SELECT COUNT(*) AS count, SUM(value) AS sum, MAX(value) AS max, MIN(at) AS "firstAt" FROM monitor_samples WHERE agent = $1 AND monitor = $2 AND at > $3',
  // PostgreSQL's load and write-back of one agent's windows (its state rows FOR UPDATE).
  loadState: 'SELECT monitor, first_at, consecutive FROM monitor_state WHERE agent = $1 FOR UPDATE',
  loadSamples: 'SELECT id, monitor, at, value FROM monitor_samples WHERE agent = $1 ORDER BY id',
  dropSamples: 'DELETE FROM monitor_samples WHERE id = ANY($1::bigint[])',
} satisfies Record<string, Sql>;
