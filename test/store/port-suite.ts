// One behavioural suite for every implementation of the store port (ADR-010).
import { describe, expect, it } from 'vitest';
import type { Outcome } from '../../src/core/types.js';
import type { Op, StorePort } from '../../src/store/port.js';

const T = Date.UTC(2030, 0, 1);

function received(decision: string, agent = 'alice'): Op[] {
  return [
    { op: 'event', event: { dfid: 'f'.repeat(32), agent, type: 'IntentReceived', decision_id: decision, data: {} } },
    { op: 'decision.open', id: decision, dfid: 'f'.repeat(32), agent, capability: 'c', request_hash: 'h', created_at: T },
  ];
}

function reserve(decision: string, key: string): Op {
  return { op: 'key.reserve', record: { agent: 'alice', key, request_hash: 'h', state: 'in_flight', decision_id: decision, created_at: T, expires_at: T + 3_600_000 }, now: T };
}

function finish(decision: string): Op {
  const outcome = { verdict: 'accepted', reasons: [], details: [], dfid: 'f'.repeat(32), decision_id: decision, capability: 'c', idempotency_key: null, status: 'accepted', policies: [], receipt: null } as Outcome;
  return { op: 'decision.finish', id: decision, outcome: (ctx) => ({ ...outcome, receipt: ctx.receipt, ...(ctx.note ? { operator_note: ctx.note } : {}) }) };
}

/** Registers the port suite for one store; `open` gives a fresh, empty store each time. */
export function describePortSuite(name: string, open: () => Promise<StorePort>): void {
  describe(`store port: ${name}`, () => {
    it('tasks: read per agent, an open task moves, a terminal one never changes again (ADR-014)', async () => {
      const store = await open();
      try {
        const row = { id: 't1', agent: 'alice', decision_id: 'd1', result_form: 'outcome' as const, status: 'working' as const, status_message: null, ttl_ms: 1000, poll_ms: 500, created_at: T, updated_at: T, expires_at: T + 1000 };
        expect((await store.commit([{ op: 'task.create', row }])).ok).toBe(true);
        expect(await store.tasks.get('bob', 't1', T)).toBeNull();
        expect(await store.commit([{ op: 'task.status', agent: 'alice', id: 't1', status: 'input_required', message: 'waiting', at: T + 1 }])).toMatchObject({ ok: true });
        await store.commit([{ op: 'task.finish', agent: 'alice', id: 't1', status: 'failed', result: { isError: true }, message: 'DENIED', at: T + 2 }]);
        await store.commit([{ op: 'task.status', agent: 'alice', id: 't1', status: 'working', message: 'late', at: T + 3 }]);
        expect(await store.tasks.get('alice', 't1', T + 3)).toMatchObject({ status: 'failed', status_message: 'DENIED', result: { isError: true }, updated_at: T + 2 });
        expect((await store.tasks.list('alice', T + 3, null, 10)).map((t) => t.id)).toEqual(['t1']);
        expect(await store.tasks.get('alice', 't1', T + 1000)).toBeNull(); // past its TTL
        const purged = await store.commit([{ op: 'tasks.purge', now: T + 1000 }]);
        expect(purged.ok && purged.results.get(0)).toBe(1);
      } finally {
        await store.close();
      }
    });

    it('a committed unit is all there: events chained in order, the decision with the receipt of its last event', async () => {
      const store = await open();
      try {
        const r = await store.commit([...received('d1'), { op: 'event', event: { dfid: 'f'.repeat(32), agent: 'alice', type: 'IntentValidated', decision_id: 'd1' } }, finish('d1')]);
        expect(r.ok).toBe(true);
        if (!r.ok) return;
        expect(r.receipts.map((x) => x.seq)).toEqual([1, 2]);
        const events = await store.ledger.page(0, 10);
        expect(events.map((e) => e.type)).toEqual(['IntentReceived', 'IntentValidated']);
        expect(events[1]?.prev_hash).toBe(events[0]?.hash);
        expect((await store.decisions.get('d1'))?.outcome?.receipt).toEqual(r.receipts[1]);
        expect((await store.ledger.verify()).ok).toBe(true);
      } finally {
        await store.close();
      }
    });

    it('units submitted together are group-committed; each gets its own receipts, and chain order is submission order', async () => {
      const store = await open();
      try {
        const results = await Promise.all(Array.from({ length: 40 }, (_, i) => store.commit([...received(`d${i}`), finish(`d${i}`)])));
        expect(results.every((r) => r.ok)).toBe(true);
        const seqs = results.map((r) => (r.ok ? r.receipts[0]?.seq : -1));
        expect(seqs).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
        expect((await store.ledger.verify())).toMatchObject({ ok: true, events: 40 });
      } finally {
        await store.close();
      }
    });

    it('a guard that fails rolls back its own unit only, and says why; the chain has no gap', async () => {
      const store = await open();
      try {
        const [a, b, c] = await Promise.all([
          store.commit([...received('d1'), reserve('d1', 'k')]),
          store.commit([...received('d2'), reserve('d2', 'k')]),
          store.commit([...received('d3'), finish('d3')]),
        ]);
        expect(a.ok).toBe(true);
        expect(b).toMatchObject({ ok: false, conflict: { kind: 'key_taken', existing: { decision_id: 'd1', state: 'in_flight' } } });
        expect(c.ok).toBe(true);
        expect(await store.decisions.get('d2')).toBeNull();
        const events = await store.ledger.page(0, 10);
        expect(events.map((e) => e.decision_id)).toEqual(['d1', 'd3']);
        expect((await store.ledger.verify())).toMatchObject({ ok: true, events: 2 });
        expect((await store.idempotency.peek('alice', 'k', T))?.decision_id).toBe('d1');
      } finally {
        await store.close();
      }
    });

    it('a flow over its invocation cap is refused with the count, and the count is not kept', async () => {
      const store = await open();
      try {
        const bump = (): Op => ({ op: 'flow.bump', dfid: 'flow-1', max: 2 });
        expect((await store.commit([bump()])).ok).toBe(true);
        expect((await store.commit([bump()])).ok).toBe(true);
        expect(await store.commit([bump()])).toMatchObject({ ok: false, conflict: { kind: 'flow_limit', count: 3 } });
        expect(await store.commit([bump()])).toMatchObject({ ok: false, conflict: { kind: 'flow_limit', count: 3 } });
      } finally {
        await store.close();
      }
    });

    it('an op that throws fails its unit with the error and leaves the others committed', async () => {
      const store = await open();
      try {
        const broken: Op = { op: 'decision.finish', id: 'd1', outcome: () => { throw new Error('broken outcome'); } };
        const [bad, good] = await Promise.allSettled([store.commit([...received('d1'), broken]), store.commit([...received('d2'), finish('d2')])]);
        expect(bad.status).toBe('rejected');
        expect(good.status).toBe('fulfilled');
        expect((await store.ledger.page(0, 10)).map((e) => e.decision_id)).toEqual(['d2']);
        expect((await store.ledger.verify()).ok).toBe(true);
      } finally {
        await store.close();
      }
    });

    it('a note is taken once: the unit that takes it gets it, its decision carries it, the next unit does not', async () => {
      const store = await open();
      try {
        await store.commit([{ op: 'note.add', row: { intervention_id: 'n1', agent: 'alice', note: 'use the EU account', created_at: T, expires_at: T + 60_000 } }]);
        const first = await store.commit([...received('d1'), { op: 'note.take', agent: 'alice', now: T + 1 }, finish('d1')]);
        const second = await store.commit([...received('d2'), { op: 'note.take', agent: 'alice', now: T + 2 }]);
        expect(first.ok && first.note).toBe('use the EU account');
        expect(second.ok && second.note).toBeUndefined();
        expect((await store.decisions.get('d1'))?.outcome?.operator_note).toBe('use the EU account');
      } finally {
        await store.close();
      }
    });
  });
}
