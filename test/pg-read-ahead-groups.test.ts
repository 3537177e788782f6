// Reads ahead of calls that ask at once share one PostgreSQL query, and each call still gets exactly its own reads (ADR-046).
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReadAheadRequest } from '../src/store/port/index.js';
import { openPgPort, type PgStorePort } from '../src/store/pg/port.js';
import { openPool } from '../src/store/pg/connect.js';
import { PgReadAhead, readAheadPg } from '../src/store/pg/read-ahead.js';
import { StoreUnavailableError } from '../src/store/port/index.js';
import { FakeWorld } from './unit/helpers.js';
import { freshDatabase, freshSchema } from './helpers/postgres.js';
import { DFID, preEffect, T } from './helpers/pre-effect.js';
import { withBenchRuntimeOnPg } from './helpers/pg-runtime.js';
import { POSTGRES, requires } from './helpers/requires.js';

const need = await requires(import.meta.url, [POSTGRES]);

let db: Awaited<ReturnType<typeof freshDatabase>>;
let port: PgStorePort;

beforeAll(async () => {
  if (need.skip) return;
  db = await freshDatabase('readahead');
  port = (await openPgPort(await freshSchema(db.url), new FakeWorld())) as PgStorePort;
  // alice holds keys k0..k2 with some usage; bob is paused and his flow too.
  for (let i = 0; i < 3; i++) expect((await port.commit(preEffect(`d${i}`, `k${i}`, { amount: i + 1, max: 1000 }))).ok).toBe(true);
  expect(
    (
      await port.commit([
        { op: 'agent.status', agent: 'bob', status: 'paused', by: 'op', reason_hash: null, at: T },
        { op: 'flow.status', dfid: DFID, agent: 'bob', status: 'paused', at: T },
        { op: 'constraint.add', row: { intervention_id: 'i1', agent: 'alice', capability: 'c', field: 'amount', max: 5, expires_at: T + 60_000 } },
      ])
    ).ok,
  ).toBe(true);
});
afterAll(async () => {
  await port?.close();
  await db?.drop();
});

const ask = (agent: string, key: string | null): ReadAheadRequest => ({
  agent,
  dfid: DFID,
  now: T + 1,
  plans: true,
  key,
  capability: 'c',
  usage: [{ field: 'amount', windowMs: 3_600_000 }],
  steward: null,
});

/** The multi-statement read queries any connection sends while `run` runs. */
async function readQueries<R>(run: () => Promise<R>): Promise<{ result: R; queries: number }> {
  const proto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const query = proto.query;
  let queries = 0;
  proto.query = function (this: unknown, ...args: unknown[]) {
    if (typeof args[0] === 'string' && args[0].includes('EXECUTE') && !args[0].includes('BEGIN')) queries++;
    return query.apply(this, args);
  };
  try {
    return { result: await run(), queries };
  } finally {
    proto.query = query;
  }
}

describe.skipIf(need.skip)(need.title('reads ahead grouped on PostgreSQL'), () => {
  it('calls that ask at once share queries, and each gets the answer it would get alone', async () => {
    const asks = Array.from({ length: 12 }, (_, i) => (i % 3 === 2 ? ask('bob', null) : ask('alice', `k${i % 4}`)));
    const alone = [];
    for (const a of asks) alone.push(await readAheadPg(port.pool, a));
    const { result: together, queries } = await readQueries(() => Promise.all(asks.map((a) => port.readAhead(a))));
    expect(together).toEqual(alone);
    // The first goes at once; the eleven that asked while it was out share the next query.
    expect(queries).toBe(2);
    // Each answer is its own call's: alice's keys, bob's pause, usage and constraints per agent.
    expect(together.map((r) => r.key?.decision_id ?? null)).toEqual(asks.map((a) => (a.key === null || a.key === 'k3' ? null : `d${a.key.slice(1)}`)));
    expect(together.map((r) => r.status)).toEqual(asks.map((a) => (a.agent === 'bob' ? 'paused' : 'active')));
    expect(together.map((r) => r.flowStatus)).toEqual(asks.map((a) => (a.agent === 'bob' ? 'paused' : 'active')));
    expect(together.filter((r) => r.constraints?.length === 1)).toHaveLength(8);
    expect(together.map((r) => [...r.usage.values()][0])).toEqual(asks.map((a) => (a.agent === 'alice' ? 6 : 0)));
  });

  it("one call's read that the database refuses fails that call only: the others of its query are asked again alone", async () => {
    // PostgreSQL takes no NUL in a text value: a key carrying one fails its query.
    const asks = [ask('alice', 'k0'), ask('alice', 'k1'), ask('alice', 'bad\u0000key'), ask('bob', null), ask('alice', 'k2')];
    const settled = await Promise.allSettled(asks.map((a) => port.readAhead(a)));
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    const answers = settled.map((s) => (s.status === 'fulfilled' ? s.value : null));
    expect(answers.map((r) => r?.key?.decision_id ?? null)).toEqual(['d0', 'd1', null, null, 'd2']);
    expect(answers[3]?.status).toBe('paused');
    // The port still answers afterwards.
    expect((await port.readAhead(ask('alice', 'k1'))).key?.decision_id).toBe('d1');
  });

  it('a store out of reach fails a shared query at once, without asking each of its calls again', async () => {
    // Nothing listens on port 1 of the loopback: every connect is refused.
    const pool = openPool('postgres://postgres@127.0.0.1:1/none', { connectTimeoutMs: 500 });
    const connect = pool.connect.bind(pool) as () => Promise<pg.PoolClient>;
    let connects = 0;
    (pool as unknown as { connect: () => Promise<pg.PoolClient> }).connect = () => {
      connects++;
      return connect();
    };
    try {
      const reads = new PgReadAhead(pool);
      const settled = await Promise.allSettled([ask('alice', 'k0'), ask('alice', 'k1'), ask('bob', null)].map((a) => reads.read(a)));
      expect(settled.every((s) => s.status === 'rejected' && s.reason instanceof StoreUnavailableError)).toBe(true);
      // The first call's query alone, then one for the two that asked meanwhile.
      expect(connects).toBe(2);
    } finally {
      await pool.end();
    }
  });

  it('a caller key the kernel refuses is not sent to the store ahead: the call is SCHEMA_INVALID, not a store fault', async () => {
    await withBenchRuntimeOnPg('readahead_kernel', async (rt) => {
      // PostgreSQL takes no NUL in a text value; the key's shape is checked after the read ahead.
      for (const key of ['bad\u0000key', 'x'.repeat(200)]) {
        const out = await rt.kernel.govern({ agent: 'bench', channel: 'stdio', intent: { capability: 'bench.noop', params: { n: 1 }, idempotency_key: key } });
        expect(out).toMatchObject({ verdict: 'rejected', reasons: ['SCHEMA_INVALID'] });
      }
      expect((await rt.kernel.govern({ agent: 'bench', channel: 'stdio', intent: { capability: 'bench.noop', params: { n: 1 }, idempotency_key: 'good-key' } })).verdict).toBe('accepted');
    });
  });
});

