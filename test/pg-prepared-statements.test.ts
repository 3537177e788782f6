// The store's statements prepared once per PostgreSQL connection and sent as EXECUTE in a multi-statement query (ADR-044).
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { inDb } from '../src/store/pg/guards.js';
import { withLiterals } from '../src/store/pg/literals.js';
import { PreparedTexts } from '../src/store/pg/prepared.js';
import { openPgPort, type PgStorePort } from '../src/store/pg/port.js';
import { sqlFor, type Sql } from '../src/store/tables/sql.js';
import { FakeWorld } from './unit/helpers.js';
import { freshDatabase, freshSchema } from './helpers/postgres.js';
import { DFID, preEffect, T } from './helpers/pre-effect.js';
import { POSTGRES, requires } from './helpers/requires.js';

const need = await requires(import.meta.url, [POSTGRES]);

let db: Awaited<ReturnType<typeof freshDatabase>>;
let c: pg.Client;
let sent: string[] = [];

beforeAll(async () => {
  if (need.skip) return;
  db = await freshDatabase('prepared');
  c = new pg.Client({ connectionString: db.url });
  await c.connect();
  await c.query('CREATE TABLE t (id TEXT PRIMARY KEY, n BIGINT, x DOUBLE PRECISION, ok BOOLEAN, tags TEXT[], note TEXT)');
  // Every query this connection sends, in order.
  const query = c.query.bind(c) as (...args: unknown[]) => unknown;
  (c as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
    sent.push(typeof args[0] === 'string' ? args[0] : '(config)');
    return query(...args);
  };
});
afterAll(async () => {
  await c?.end();
  await db?.drop();
});

/** The name ADR-044 gives a statement on every connection. */
const nameOf = (sql: Sql) => `mandate_x_${createHash('sha256').update(sqlFor(sql, 'pg')).digest('hex').slice(0, 20)}`;

const INSERT = 'INSERT INTO t (id, n, x, ok, tags, note) VALUES ($1, $2, $3, $4, $5, $6)';
const GET = 'SELECT id, n, x, ok, tags, note FROM t WHERE id = $1';
const prepared = async (): Promise<string[]> => ((await c.query("SELECT name FROM pg_prepared_statements WHERE name LIKE 'mandate_x_%' ORDER BY name")).rows as { name: string }[]).map((r) => r.name);

describe.skipIf(need.skip)(need.title('prepared store statements'), () => {
  it('a statement is prepared once per connection, in a round trip before its first query only, and runs as its inline form does, odd values included', async () => {
    const odd = ["O'Brien \\ ünï ✓", 'line\nbreak', '$1 not a parameter'];
    sent = [];
    const first = new PreparedTexts(c);
    const texts = odd.map((note, i) => first.text(INSERT, [`r${i}`, 1_796_633_531_218 + i, 0.1 + i, i % 2 === 0, ['a', "b'c"], note]));
    expect(texts.every((t) => t.startsWith('EXECUTE mandate_x_'))).toBe(true);
    await first.ready();
    await c.query(texts.join(';\n'));
    expect(sent.filter((q) => q.includes('PREPARE'))).toHaveLength(1);
    expect(await prepared()).toHaveLength(1);

    sent = [];
    const again = new PreparedTexts(c);
    const reads = odd.map((_, i) => again.text(GET, [`r${i}`]));
    await again.ready();
    const viaExecute = (await c.query(reads.join(';\n'))) as unknown as pg.QueryResult[];
    const inline = (await c.query(odd.map((_, i) => withLiterals(GET, [`r${i}`])).join(';\n'))) as unknown as pg.QueryResult[];
    expect(viaExecute.map((r) => r.rows)).toEqual(inline.map((r) => r.rows));
    expect(viaExecute.map((r) => r.rows[0].note)).toEqual(odd);
    expect(viaExecute[0]?.rows[0]).toMatchObject({ n: '1796633531218', x: 0.1, ok: true, tags: ['a', "b'c"] });

    // Both statements are prepared now: a third batch sends no PREPARE.
    sent = [];
    const third = new PreparedTexts(c);
    const q = [third.text(GET, ['r0']), third.text(INSERT, ['r9', null, null, null, null, null])];
    await third.ready();
    await c.query(q.join(';\n'));
    expect(sent.some((s) => s.includes('PREPARE'))).toBe(false);
    expect(await prepared()).toHaveLength(2);
  });

  it('a statement prepared inside a transaction that rolls back stays prepared; what cannot be prepared goes inline', async () => {
    const UPDATE = 'UPDATE t SET note = $2 WHERE id = $1';
    const texts = new PreparedTexts(c);
    expect(texts.text('SAVEPOINT s', [])).toBe('SAVEPOINT s');
    await c.query('BEGIN');
    const update = texts.text(UPDATE, ['r0', 'changed']);
    await texts.ready();
    await c.query(update);
    await c.query('ROLLBACK');
    expect(((await c.query(withLiterals(GET, ['r0']))).rows[0] as { note: string }).note).toContain('Brien');
    sent = [];
    const after = new PreparedTexts(c);
    const q = after.text(UPDATE, ['r0', 'kept']);
    await after.ready();
    expect((await c.query(q)).rowCount).toBe(1);
    expect(sent.some((s) => s.includes('PREPARE'))).toBe(false);
  });

  it('a migration that changes a table under a prepared statement, a pooler that drops them, or one prepared unbeknown, costs no call: the connection is dropped and the work redone on another', async () => {
    const port = (await openPgPort(await freshSchema(db.url), new FakeWorld())) as PgStorePort;
    try {
      const ahead = (key: string) => port.readAhead({ agent: 'alice', dfid: DFID, now: T + 1, plans: true, key, capability: 'c', usage: [], steward: null });
      expect((await port.commit(preEffect('d1', 'k1'))).ok).toBe(true);
      expect((await ahead('k1')).key).toMatchObject({ decision_id: 'd1' });

      // A newer release migrates while this one runs: `SELECT * FROM idempotency` no longer has the row type it was planned with.
      await port.pool.query('ALTER TABLE idempotency ADD COLUMN added_by_a_migration TEXT');
      expect((await ahead('k1')).key).toMatchObject({ decision_id: 'd1' });
      expect((await port.commit(preEffect('d2', 'k2'))).ok).toBe(true);
      expect((await ahead('k2')).key).toMatchObject({ decision_id: 'd2' });

      // A pooler in transaction mode hands the next query a session without the statements.
      for (let i = 0; i < 3; i++) {
        const c = await port.pool.connect();
        await c.query('DEALLOCATE ALL');
        c.release();
        expect((await port.commit(preEffect(`d${3 + i}`, `k${3 + i}`))).ok).toBe(true);
        expect((await ahead(`k${3 + i}`)).key).toMatchObject({ decision_id: `d${3 + i}` });
      }
      // A session holding a statement this process does not know it prepared (a PREPARE round trip that failed part way).
      const c = await port.pool.connect();
      await c.query('DEALLOCATE ALL');
      await c.query(`PREPARE ${nameOf(inDb.lockChainHead)} AS ${sqlFor(inDb.lockChainHead, 'pg')}`);
      c.release();
      expect((await port.commit(preEffect('d6', 'k6'))).ok).toBe(true);
      expect(await port.ledger.verify()).toMatchObject({ ok: true, events: 12 });
    } finally {
      await port.close();
    }
  });
});
