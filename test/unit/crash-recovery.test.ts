import { describe, expect, it } from 'vitest';
import { hashOf } from '../../src/core/canonical.js';
import type { Intent } from '../../src/core/types.js';
import { runnerAlive } from '../../src/kernel/recovery.js';
import type { Runtime } from '../../src/runtime.js';
import { call, readBook, replaceOnce, setupRuntime, T0, transfer, typesOf } from './helpers.js';

const LOG = `
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
export default function define({ z }) {
  return [{
    id: 'test.blind',
    version: '1.0.0',
    description: 'An effect that cannot tell afterwards whether it happened (tests only).',
    sideEffect: 'write',
    input: z.object({ n: z.number().int() }),
    output: z.object({ n: z.number().int() }),
    handler(params, ctx) {
      appendFileSync(join(ctx.workspaceDir, 'data', 'runs.log'), 'blind ' + params.n + '\\n');
      return { n: params.n };
    },
  }];
}
`;
const EDITS = {
  'capabilities/blind.mjs': () => LOG,
  'contracts/alice.yaml': replaceOnce('  - capability: payments.get_balance\n', '  - capability: payments.get_balance\n  - capability: test.blind\n'),
};

/**
 * What a process leaves behind when it dies between the pre-effect and the
 * post-effect commit: the decision running under a runner that is gone, its
 * key in flight, and ActionStarted on the record.
 */
async function orphan(rt: Runtime, id: string, intent: Intent, key: string): Promise<void> {
  const dfid = 'a'.repeat(32);
  const r = await rt.store.commit([
    { op: 'event', event: { dfid, agent: 'alice', type: 'IntentReceived', decision_id: id, data: {} } },
    { op: 'decision.open', id, dfid, agent: 'alice', capability: intent.capability, request_hash: 'h', created_at: T0 },
    { op: 'key.reserve', record: { agent: 'alice', key, request_hash: hashOf({ agent: 'alice', capability: intent.capability, params: intent.params }), state: 'in_flight', decision_id: id, created_at: T0, expires_at: T0 + 3_600_000 }, now: T0 },
    { op: 'runner.beat', row: { id: 'gone', host: 'elsewhere', pid: 1, started_at: T0 - 120_000, heartbeat_at: T0 - 60_000 } },
    { op: 'decision.running', id, runner: 'gone', key, intent },
    { op: 'event', event: { dfid, agent: 'alice', type: 'ActionStarted', decision_id: id, data: { capability: intent.capability } } },
  ]);
  expect(r.ok).toBe(true);
}

describe('crash recovery', () => {
  it('an effect cut short whose capability cannot tell is marked outcome-unknown: a retry gets OUTCOME_UNKNOWN, never IN_PROGRESS, and nothing runs', async () => {
    const env = await setupRuntime(EDITS);
    const intent = { capability: 'test.blind', params: { n: 1 } };
    await orphan(env.rt, 'd-orphan', intent, 'blind-1');
    expect(await env.rt.kernel.recover()).toBe(1);
    const retry = await env.rt.kernel.govern(call('alice', { ...intent, idempotency_key: 'blind-1' }));
    expect(retry).toMatchObject({ verdict: 'rejected', reasons: ['OUTCOME_UNKNOWN'], replay_of: 'd-orphan' });
    expect(retry.details[0]?.message).toContain('mandate decisions settle d-orphan');
    expect(await env.rt.kernel.getDecision('alice', 'd-orphan')).toMatchObject({ status: 'outcome_unknown', reasons: ['OUTCOME_UNKNOWN'] });
    expect(typesOf(env.rt, 'd-orphan')).toEqual(['IntentReceived', 'ActionStarted', 'ActionOutcomeUnknown']);
    // Long after the key window, the key still does not run again.
    env.world.advance(48 * 3_600_000);
    expect((await env.rt.kernel.govern(call('alice', { ...intent, idempotency_key: 'blind-1' }))).reasons).toEqual(['OUTCOME_UNKNOWN']);
    expect(env.runs()).toEqual([]);
  });

  it('an operator settles it: applied makes a retry replay it; not applied releases the key and a retry runs', async () => {
    const env = await setupRuntime(EDITS);
    await orphan(env.rt, 'd-a', { capability: 'test.blind', params: { n: 1 } }, 'ka');
    await orphan(env.rt, 'd-b', { capability: 'test.blind', params: { n: 2 } }, 'kb');
    await env.rt.kernel.recover();
    expect(await env.rt.kernel.settleOutcome('d-a', true, 'operator:ops', 'saw it in the target system')).toMatchObject({ verdict: 'accepted', status: 'accepted' });
    expect(await env.rt.kernel.settleOutcome('d-b', false, 'operator:ops', null)).toMatchObject({ status: 'failed', reasons: ['OUTCOME_NOT_APPLIED'] });
    await expect(env.rt.kernel.settleOutcome('d-b', true, 'operator:ops', null)).rejects.toMatchObject({ code: 'DECISION_NOT_FOUND' });
    const a = await env.rt.kernel.govern(call('alice', { capability: 'test.blind', params: { n: 1 }, idempotency_key: 'ka' }));
    const b = await env.rt.kernel.govern(call('alice', { capability: 'test.blind', params: { n: 2 }, idempotency_key: 'kb' }));
    expect(a).toMatchObject({ verdict: 'accepted', reasons: ['IDEMPOTENT_REPLAY'], replay_of: 'd-a' });
    expect(b).toMatchObject({ verdict: 'accepted', reasons: [] });
    expect(env.runs()).toEqual(['blind 2']);
    const settled = typesOf(env.rt, 'd-a');
    expect(settled.slice(-2)).toEqual(['ActionOutcomeUnknown', 'ActionOutcome']);
  });

  it('the payments capability reconciles from its book: a transfer that landed is recorded and replayed, one that did not is released', async () => {
    const env = await setupRuntime();
    const landed = transfer(1234, {}, { memo: 'landed' });
    const lost = transfer(4321, {}, { memo: 'lost' });
    await orphan(env.rt, 'd-landed', landed, 'pay-1');
    await orphan(env.rt, 'd-lost', lost, 'pay-2');
    // The dead process had written its transfer to the book before it died.
    const { writeFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const book = readBook(env.dir) as { version: number; accounts: Record<string, { balance_minor: number }>; transfers: Record<string, unknown>[] };
    book.version += 1;
    (book.accounts['operating'] as { balance_minor: number }).balance_minor -= 1234;
    book.transfers.push({ id: `t-${book.version}`, decision_id: 'd-landed', payee: 'acme-supplies', amount_minor: 1234, currency: 'EUR' });
    writeFileSync(join(env.dir, 'data', 'books.json'), JSON.stringify(book));
    expect(await env.rt.kernel.recover()).toBe(2);
    const again = await env.rt.kernel.govern(call('alice', { ...landed, idempotency_key: 'pay-1' }));
    expect(again).toMatchObject({ verdict: 'accepted', reasons: ['IDEMPOTENT_REPLAY'], replay_of: 'd-landed', output: { transfer_id: `t-${book.version}` } });
    const retried = await env.rt.kernel.govern(call('alice', { ...lost, idempotency_key: 'pay-2' }));
    expect(retried).toMatchObject({ verdict: 'accepted', reasons: [] });
    expect(readBook(env.dir).transfers).toHaveLength(book.transfers.length + 1);
  });

  it('a running effect of a live process is left alone: on this host by its pid, elsewhere by its heartbeat', async () => {
    const now = T0;
    expect(runnerAlive({ id: 'a', host: 'here', pid: process.pid, started_at: 0, heartbeat_at: 0 }, now, 'here')).toBe(true);
    expect(runnerAlive({ id: 'b', host: 'here', pid: 2 ** 22 + 17, started_at: 0, heartbeat_at: now }, now, 'here')).toBe(false);
    expect(runnerAlive({ id: 'c', host: 'there', pid: 1, started_at: 0, heartbeat_at: now - 1_000 }, now, 'here')).toBe(true);
    expect(runnerAlive({ id: 'd', host: 'there', pid: 1, started_at: 0, heartbeat_at: now - 60_000 }, now, 'here')).toBe(false);
    const env = await setupRuntime(EDITS);
    await env.rt.store.commit([{ op: 'runner.beat', row: { id: 'busy', host: 'there', pid: 1, started_at: now, heartbeat_at: now } }]);
    await orphan(env.rt, 'd-live', { capability: 'test.blind', params: { n: 3 } }, 'live');
    // orphan() registered runner 'gone'; re-point the decision at the live runner.
    await env.rt.store.commit([{ op: 'decision.running', id: 'd-live', runner: 'busy', key: 'live', intent: { capability: 'test.blind', params: { n: 3 } } }]);
    expect(await env.rt.kernel.recover()).toBe(0);
    expect((await env.rt.kernel.govern(call('alice', { capability: 'test.blind', params: { n: 3 }, idempotency_key: 'live' }))).reasons).toEqual(['IN_PROGRESS']);
    expect(await env.rt.kernel.getDecision('alice', 'd-live')).toMatchObject({ status: 'running' });
  });
});
