import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { toCapability } from '../../src/capabilities/manifest.js';
import type { Outcome } from '../../src/core/types.js';
import { InProcessSections, SharedSections, sectionKey } from '../../src/kernel/sections.js';
import type { StoreSections } from '../../src/store/port/index.js';
import type { Op } from '../../src/store/port/index.js';
import { call, events, readBook, replaceOnce, runs, setupRuntime, transfer, typesOf } from './helpers.js';

const SLOW = `
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
export default function define({ z }) {
  const slow = (id, extra) => ({
    id,
    version: '1.0.0',
    description: 'Takes params.ms to finish (tests only).',
    sideEffect: 'write',
    input: z.object({ n: z.number().int(), ms: z.number().int() }),
    output: z.object({ n: z.number().int() }),
    limits: { deadlineMs: 300 },
    async handler(params, ctx) {
      appendFileSync(join(ctx.workspaceDir, 'data', 'runs.log'), id + ' ' + params.n + '\\n');
      await new Promise((r) => setTimeout(r, params.ms));
      return { n: params.n };
    },
    ...extra,
  });
  return [
    slow('test.slow', { serializeBy: () => 'shared', limits: { deadlineMs: 2000 } }),
    slow('test.quick', { serializeBy: () => 'shared' }),
    slow('test.parallel', { concurrency: 'self' }),
  ];
}
`;

const EDITS = {
  'capabilities/slow.mjs': () => SLOW,
  'contracts/alice.yaml': replaceOnce('  - capability: payments.get_balance\n', '  - capability: payments.get_balance\n  - capability: test.slow\n  - capability: test.quick\n  - capability: test.parallel\n'),
};

const cap = (extra: Record<string, unknown>) =>
  toCapability({ id: 'x.y', version: '1.0.0', description: 'a test capability', sideEffect: 'write', input: z.object({ a: z.string() }), output: z.object({}), handler: () => ({}), ...extra }, 'test');

describe('effect sections', () => {
  it('four transfers at once, five times over: every accepted decision moved money exactly once and every refused one moved none', async () => {
    const env = await setupRuntime();
    const outcomes: Outcome[] = [];
    for (let round = 0; round < 5; round++) {
      outcomes.push(...(await Promise.all([1, 2, 3, 4].map((i) => env.rt.kernel.govern(call('alice', transfer(100 * i + round, { idempotency_key: `r${round}-${i}` })))))));
    }
    const book = readBook(env.dir) as { transfers: { decision_id: string }[] };
    const accepted = outcomes.filter((o) => o.verdict === 'accepted').map((o) => o.decision_id).sort();
    expect(book.transfers.map((t) => t.decision_id).sort()).toEqual(accepted);
    expect(accepted.length).toBeGreaterThanOrEqual(5);
    for (const o of outcomes.filter((x) => x.verdict !== 'accepted')) {
      // Queued behind another transfer, the re-read saw the book move: refused before the effect, nothing ran.
      expect(o.reasons).toEqual(['STATE_DRIFT']);
      expect(typesOf(env.rt, o.decision_id)).not.toContain('ActionStarted');
    }
  });

  it('write and destructive capabilities are serialised per capability by default, per resource when they say so; reads and self-managed ones are not', () => {
    expect(sectionKey(cap({}), { a: '1' })).toBe('capability:x.y');
    expect(sectionKey(cap({ sideEffect: 'destructive' }), { a: '1' })).toBe('capability:x.y');
    expect(sectionKey(cap({ serializeBy: (p: Record<string, unknown>) => `acct:${String(p['a'])}` }), { a: '7' })).toBe('resource:acct:7');
    expect(sectionKey(cap({ sideEffect: 'read' }), { a: '1' })).toBeNull();
    expect(sectionKey(cap({ concurrency: 'self' }), { a: '1' })).toBeNull();
  });

  it('a section is granted first come, first served, and a waiter that runs out of time gets nothing', async () => {
    const sections = new InProcessSections();
    const order: number[] = [];
    const first = await sections.acquire('k', 1000);
    const second = sections.acquire('k', 1000).then((r) => (order.push(2), r));
    const third = sections.acquire('k', 1000).then((r) => (order.push(3), r));
    expect(await sections.acquire('k', 20)).toBeNull();
    first?.();
    (await second)?.();
    (await third)?.();
    expect(order).toEqual([2, 3]);
    expect(sections.size).toBe(0);
  });

  it('waiting for a section counts against the deadline: a call queued behind a slow one on the same resource is refused before its effect', async () => {
    const env = await setupRuntime(EDITS);
    const [slow, queued] = await Promise.all([
      env.rt.kernel.govern(call('alice', { capability: 'test.slow', params: { n: 1, ms: 800 } })),
      env.rt.kernel.govern(call('alice', { capability: 'test.quick', params: { n: 2, ms: 10 } })),
    ]);
    expect(slow.verdict).toBe('accepted');
    expect(queued).toMatchObject({ verdict: 'rejected', reasons: ['DEADLINE_EXCEEDED'] });
    expect(queued.details[0]?.message).toMatch(/waited 300 ms/);
    expect(typesOf(env.rt, queued.decision_id)).not.toContain('ActionStarted');
    expect(runs(env.dir)).toEqual(['test.slow 1']);
  });

  it('the section ends with the effect: the next call on the resource starts before the first call has committed its record, and the record still comes first in the chain', async () => {
    const env = await setupRuntime(EDITS);
    const store = env.rt.store;
    const commit = store.commit.bind(store);
    // What reaches the store, in order: each unit's submission and its commit.
    const log: string[] = [];
    const name = (unit: Op[]) => unit.flatMap((op) => (op.op === 'event' && ['ActionStarted', 'ActionOutcome'].includes(op.event.type) ? [`${op.event.type} ${op.event.decision_id}`] : [])).join(',');
    store.commit = async (unit) => {
      const what = name(unit);
      if (what) log.push(`submit ${what}`);
      const r = await commit(unit);
      if (what) log.push(`commit ${what}`);
      return r;
    };
    const [first, second] = await Promise.all([1, 2].map((n) => env.rt.kernel.govern(call('alice', { capability: 'test.quick', params: { n, ms: 0 } }))));
    expect([first?.verdict, second?.verdict]).toEqual(['accepted', 'accepted']);
    const at = (entry: string) => log.indexOf(entry);
    const [a, b] = [first?.decision_id, second?.decision_id];
    // The second call's pre-effect commit was submitted before the first call's post-effect commit had committed (ADR-041) ...
    expect(at(`submit ActionStarted ${b}`)).toBeGreaterThan(at(`submit ActionOutcome ${a}`));
    expect(at(`submit ActionStarted ${b}`)).toBeLessThan(at(`commit ActionOutcome ${a}`));
    // ... and the chain still has the first call's outcome before the second call's start.
    const types = events(env.rt).filter((e) => e.type === 'ActionStarted' || e.type === 'ActionOutcome').map((e) => `${e.type} ${e.decision_id}`);
    expect(types).toEqual([`ActionStarted ${a}`, `ActionOutcome ${a}`, `ActionStarted ${b}`, `ActionOutcome ${b}`]);
  });

  it('a store section is handed from call to call of one process while they queue, at most maxTurns in a row, and then released so another process gets its turn', async () => {
    // The store's side: a FIFO of holders, as PostgreSQL's advisory locks and the SQLite tickets are.
    const trace: string[] = [];
    const queue: { who: string; grant(): void }[] = [];
    let holder: string | null = null;
    const store = (who: string): StoreSections => ({
      acquire: (key) =>
        new Promise((resolve) => {
          const grant = () => {
            holder = who;
            trace.push(`${who} takes ${key}`);
            resolve(async () => {
              trace.push(`${who} frees ${key}`);
              holder = null;
              queue.shift()?.grant();
            });
          };
          if (holder === null) grant();
          else queue.push({ who, grant });
        }),
    });
    const mine = new SharedSections(new InProcessSections(), store('this'), Date.now, (err) => { throw err; }, 3);
    const ran: string[] = [];
    const work = async (sections: SharedSections, name: string) => {
      const release = await sections.acquire('k', 5_000);
      expect(release).not.toBeNull();
      ran.push(`${name} (store held by ${holder})`);
      await new Promise((r) => setTimeout(r, 5));
      release?.();
    };
    // Five calls of this process queue at once; another process asks for the store's section while the first runs.
    const calls = [1, 2, 3, 4, 5].map((n) => work(mine, `call ${n}`));
    await new Promise((r) => setTimeout(r, 1));
    const other = new SharedSections(new InProcessSections(), store('other'), Date.now, (err) => { throw err; });
    await Promise.all([...calls, work(other, 'other process')]);
    await mine.settle();
    await other.settle();
    // Three turns, then the store's section goes to the process that was queued in the store, then back.
    expect(ran).toEqual(['call 1 (store held by this)', 'call 2 (store held by this)', 'call 3 (store held by this)', 'other process (store held by other)', 'call 4 (store held by this)', 'call 5 (store held by this)']);
    expect(trace).toEqual(['this takes k', 'this frees k', 'other takes k', 'other frees k', 'this takes k', 'this frees k']);
  });

  it('a capability that manages its own concurrency runs calls side by side', async () => {
    const env = await setupRuntime(EDITS);
    const both = await Promise.all([1, 2].map((n) => env.rt.kernel.govern(call('alice', { capability: 'test.parallel', params: { n, ms: 200 } }))));
    expect(both.map((o) => o.verdict)).toEqual(['accepted', 'accepted']);
    expect(runs(env.dir).sort()).toEqual(['test.parallel 1', 'test.parallel 2']);
  });
});
