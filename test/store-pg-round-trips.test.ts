// Round trips over PostgreSQL (ADR-028): a governed call's reads in one, a commit point on the predicted head in one,
// its guards checked in the database, and a try that a guard refuses leaves nothing behind.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { countRoundTrips } from '../src/store/pg/connect.js';
import { isPgPort, openPgPort, type PgStorePort } from '../src/store/pg/port.js';
import { FakeWorld } from './unit/helpers.js';
import { withBenchRuntimeOnPg } from './helpers/pg-runtime.js';
import { freshDatabase, freshSchema } from './helpers/postgres.js';
import { DFID, preEffect, T } from './helpers/pre-effect.js';
import { POSTGRES, requires } from './helpers/requires.js';

const need = await requires(import.meta.url, [POSTGRES]);

let db: Awaited<ReturnType<typeof freshDatabase>>;
beforeAll(async () => {
  db = await freshDatabase('trips');
});
afterAll(async () => {
  await db?.drop();
});

async function freshPort(): Promise<PgStorePort> {
  return (await openPgPort(await freshSchema(db.url), new FakeWorld())) as PgStorePort;
}

describe.skipIf(need.skip)(need.title('PostgreSQL round trips'), () => {
  it('on the head it predicts, a commit point is one round trip; a guard refused in the database leaves nothing of the try, and the batch answers with the conflict', async () => {
    const port = await freshPort();
    try {
      // The first batches lock first; from the second on the port finds the head where it left it.
      for (const d of ['d1', 'd2']) expect((await port.commit(preEffect(d, `k-${d}`))).ok).toBe(true);
      // The first batch on the predicted head prepares its statements on its connection first (ADR-044):
      // one round trip more, once; the commit points after it are one round trip (d7 below).
      const trips = countRoundTrips([port.pool]);
      expect((await port.commit(preEffect('d3', 'k-d3'))).ok).toBe(true);
      expect(trips.n).toBe(2);

      // A taken key: refused in the database, so the flow count and usage of that try are not kept.
      const taken = await port.commit(preEffect('d4', 'k-d1'));
      expect(taken).toMatchObject({ ok: false, conflict: { kind: 'key_taken', existing: { decision_id: 'd1' } } });
      expect(await port.usage.sum('alice', 'c', 'amount', 3_600_000, T)).toBe(3);
      expect(await port.decisions.get('d4')).toBeNull();
      const flows = await port.pool.query('SELECT invocations FROM flows WHERE dfid = $1', [DFID]);
      expect(flows.rows[0]).toEqual({ invocations: 3 });

      // A budget compared as the client compares it (doubles): 3 + 0.1 + 0.2 is over 3.3 there, so it is refused here too.
      expect((await port.commit(preEffect('d5', 'k-d5', { amount: 0.1, max: 1000 }))).ok).toBe(true);
      const over = await port.commit(preEffect('d6', 'k-d6', { amount: 0.2, max: 3.3 }));
      expect(3 + 0.1 + 0.2 <= 3.3).toBe(false);
      expect(over).toMatchObject({ ok: false, conflict: { kind: 'budget_exceeded', window: '1h', field: 'amount', max: 3.3 } });

      // The refusals moved no head, and kept the statements prepared: the next commit point is one round trip, and the chain holds.
      const again = countRoundTrips([port.pool]);
      expect((await port.commit(preEffect('d7', 'k-d7'))).ok).toBe(true);
      expect(again.n).toBe(1);
      expect(await port.ledger.verify()).toMatchObject({ ok: true, events: 10 });
    } finally {
      await port.close();
    }
  });

  it('a refused unit in a batch of several commits the others, each answered as alone', async () => {
    const port = await freshPort();
    try {
      for (const d of ['d1', 'd2']) expect((await port.commit(preEffect(d, `k-${d}`))).ok).toBe(true);
      const results = await Promise.all(['d3', 'd4', 'd5', 'd6'].map((d, i) => port.commit(preEffect(d, i === 1 ? 'k-d1' : `k-${d}`))));
      expect(results.map((r) => r.ok)).toEqual([true, false, true, true]);
      expect(results[1]).toMatchObject({ ok: false, conflict: { kind: 'key_taken' } });
      expect(await port.ledger.verify()).toMatchObject({ ok: true, events: 10 });
    } finally {
      await port.close();
    }
  });

  it('a governed call over PostgreSQL costs at most 4 round trips once the port predicts the head', async () => {
    await withBenchRuntimeOnPg('trips_kernel', async (rt) => {
      if (!isPgPort(rt.store)) throw new Error('not the PostgreSQL store');
      const call = (n: number) => rt.kernel.govern({ agent: 'bench', channel: 'stdio', intent: { capability: 'bench.noop', params: { n }, idempotency_key: `k-${n}` } });
      for (let n = 0; n < 3; n++) await call(n);
      const trips = countRoundTrips([rt.store.pool, rt.store.volatilePool]);
      let accepted = 0;
      for (let n = 3; n < 13; n++) if ((await call(n)).verdict === 'accepted') accepted++;
      expect(accepted).toBe(10);
      expect(trips.n / accepted).toBeLessThanOrEqual(4);
      expect(await rt.store.ledger.verify()).toMatchObject({ ok: true });
    });
  });
});
