import type pg from 'pg';
import type { Db } from '../sqlite/db.js';
import { GENESIS_HASH } from '../port/events.js';
import { checkout } from './connect.js';

/**
 * The tables a copy moves, in an order that keeps every reference valid. MCP
 * stream events are not copied: they belong to sessions, which live in one
 * process and end with it.
 */
const TABLES = [
  'events',
  'decisions',
  'idempotency',
  'flows',
  'agent_status',
  'interventions',
  'flow_status',
  'constraints',
  'notes',
  'monitor_samples',
  'monitor_state',
  'steward_counts',
  'memory',
  'memory_packs',
  'usage',
  'credentials',
  'upstream_pins',
  'retention_marks',
] as const;

const CHUNK = 500;

export interface CopyReport {
  rows: Record<string, number>;
  head: { seq: number; hash: string };
}

/**
 * Copies a SQLite store into an empty, migrated PostgreSQL store in one
 * transaction: rows as they are (the ledger's stored canonical text, so
 * every hash still holds), the chain head set to the last event. Refuses a
 * target that already has events. The caller verifies afterwards.
 */
export async function copySqliteToPg(db: Db, pool: pg.Pool): Promise<CopyReport> {
  const { client: c, done } = await checkout(pool);
  let failed: unknown;
  try {
    await c.query('BEGIN');
    const head = (await c.query<{ seq: number }>('SELECT seq FROM chain_head WHERE id = 1 FOR UPDATE')).rows[0];
    const existing = (await c.query<{ n: number }>('SELECT count(*) AS n FROM events')).rows[0]?.n ?? 0;
    if ((head?.seq ?? 0) !== 0 || existing !== 0) throw new Error(`the target store is not empty (its chain has ${existing} events); copy only into a new database`);
    const rows: Record<string, number> = {};
    for (const table of TABLES) {
      let n = 0;
      let batch: Record<string, unknown>[] = [];
      const flush = async () => {
        if (!batch.length) return;
        const cols = Object.keys(batch[0] as object);
        const params: unknown[] = [];
        const values = batch.map((r) => `(${cols.map((col) => (params.push(r[col]), `$${params.length}`)).join(', ')})`);
        await c.query(`INSERT INTO ${table} (${cols.join(', ')}) VALUES ${values.join(', ')}`, params);
        n += batch.length;
        batch = [];
      };
      const order = table === 'events' ? ' ORDER BY seq' : '';
      for (const row of db.prepare(`SELECT * FROM ${table}${order}`).iterate() as IterableIterator<Record<string, unknown>>) {
        batch.push(row);
        if (batch.length >= CHUNK) await flush();
      }
      await flush();
      rows[table] = n;
    }
    // Serial ids continue after the copied ones.
    await c.query("SELECT setval(pg_get_serial_sequence('monitor_samples', 'id'), GREATEST((SELECT max(id) FROM monitor_samples), 1))");
    const last = db.prepare<[], { seq: number; hash: string }>('SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1').get() ?? { seq: 0, hash: GENESIS_HASH };
    await c.query('UPDATE chain_head SET seq = $1, hash = $2 WHERE id = 1', [last.seq, last.hash]);
    await c.query('COMMIT');
    return { rows, head: last };
  } catch (err) {
    failed = err;
    await c.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    done(failed);
  }
}
