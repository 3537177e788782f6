// The ledger's events table (ADR-002) and PostgreSQL's chain head (ADR-015).
import type { Sql } from './sql.js';

export const events = {
  insert: `INSERT INTO events (seq, id, dfid, agent, type, time, decision_id, reasons, data, prev_hash, hash)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
  head: 'SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1',
  page: 'SELECT * FROM events WHERE seq > $1 ORDER BY seq LIMIT $2',
  byDfid: 'SELECT * FROM events WHERE dfid = $1 ORDER BY seq',
  /** From a sequence on (verification pages through the chain). */
  from: 'SELECT * FROM events WHERE seq >= $1 ORDER BY seq LIMIT $2',
  /** PostgreSQL keeps the head in one row that every committing batch locks, so replicas never fork the chain. */
  chainHead: 'SELECT seq, hash FROM chain_head WHERE id = 1',
  lockChainHead: 'SELECT seq, hash FROM chain_head WHERE id = 1 FOR UPDATE',
  setChainHead: 'UPDATE chain_head SET seq = $1, hash = $2 WHERE id = 1',
} satisfies Record<string, Sql>;
