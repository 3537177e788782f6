// The ledger's events table (ADR-002) and PostgreSQL's chain head (ADR-015).
import { EVENT_COLUMNS } from '../port/events.js';
import type { Sql } from './sql.js';

export const events = {
  /** One row: a format-1 event, or a format-2 record of one commit point's events (ADR-021); parameters as `rowParams`. */
  insert: `INSERT INTO events (seq, id, dfid, agent, type, time, decision_id, reasons, data, prev_hash, hash, format, first_seq)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
  head: 'SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1',
  /** Rows holding events after $1 (a row's seq is its last event's); at most $2 rows, so at least $2 events. */
  page: 'SELECT * FROM events WHERE seq > $1 ORDER BY seq LIMIT $2',
  /** Rows holding a flow's events: its own, and records of several flows ('*'). */
  byDfid: "SELECT * FROM events WHERE dfid = $1 OR dfid = '*' ORDER BY seq",
  /** Rows holding events from $1 on (verification pages through the chain). */
  from: 'SELECT * FROM events WHERE seq >= $1 ORDER BY seq LIMIT $2',
  /** Rows after a sequence and up to another, in `EVENT_COLUMNS` order, for verification in pages (ADR-048). */
  verifyPage: `SELECT ${EVENT_COLUMNS.join(', ')} FROM events WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3`,
  /** PostgreSQL keeps the head in one row that every committing batch locks, so replicas never fork the chain. */
  chainHead: 'SELECT seq, hash FROM chain_head WHERE id = 1',
  lockChainHead: 'SELECT seq, hash FROM chain_head WHERE id = 1 FOR UPDATE',
  setChainHead: 'UPDATE chain_head SET seq = $1, hash = $2 WHERE id = 1',
} satisfies Record<string, Sql>;
