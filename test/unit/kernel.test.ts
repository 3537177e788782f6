import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hashOf } from '../../src/core/canonical.js';
import { createLogger } from '../../src/core/log.js';
import type { Outcome } from '../../src/core/types.js';
import { intervene } from '../../src/kernel/interventions.js';
import { KernelError } from '../../src/kernel/kernel.js';
import { openRuntime } from '../../src/runtime.js';
import { afterTest, call, copyTemplate, events, eventsOf, FakeWorld, readBook, replaceOnce, runs, setupRuntime, T0, TEST_CAPABILITIES, traceparent, transfer, typesOf, type Env, raw } from './helpers.js';

const MIN = 60_000;
const HOUR = 3_600_000;

const setup = setupRuntime;

/** A workspace where alice is also granted the test capabilities. */
const WITH_TEST_CAPS = {
  'capabilities/testing.mjs': () => TEST_CAPABILITIES,
  'contracts/alice.yaml': replaceOnce('  - capability: payments.get_balance\n', '  - capability: payments.get_balance\n  - capability: test.flaky\n  - capability: test.drifty\n'),
};

const balance = (dir: string) => readBook(dir).accounts['operating']?.balance_minor;

async function escalated(env: Env, amount = 20_000): Promise<Outcome> {
  const o = await env.rt.kernel.govern(call('alice', transfer(amount)));
  expect(o.verdict).toBe('escalated');
  expect(o.status).toBe('pending');
  expect(o.reasons).toEqual(['ESCALATION_REQUIRED']);
  return o;
}

describe('kernel: escalations', () => {
  it('an escalation expires with the injected clock: getDecision returns expired with ESCALATION_EXPIRED and approve then throws DECISION_NOT_FOUND', async () => {
    const env = await setup();
    const o = await escalated(env);
    expect(o.expires_at).toBe(new Date(T0 + 15 * MIN).toISOString());

    env.world.advance(15 * MIN - 1);
    expect((await env.rt.kernel.getDecision('alice', o.decision_id))?.status).toBe('pending');

    env.world.advance(1);
    const d = (await env.rt.kernel.getDecision('alice', o.decision_id));
    expect(d).toMatchObject({ verdict: 'rejected', status: 'expired', reasons: ['ESCALATION_EXPIRED'], decision_id: o.decision_id });
    expect((await env.rt.store.decisions.get(o.decision_id))?.status).toBe('expired');

    const err = await env.rt.kernel.approve(o.decision_id, 'ops', null).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KernelError);
    expect((err as KernelError).code).toBe('DECISION_NOT_FOUND');
    await expect(env.rt.kernel.deny(o.decision_id, 'ops', null)).rejects.toThrow(KernelError);

    expect(balance(env.dir)).toBe(500_000);
    expect(typesOf(env.rt, o.decision_id)).not.toContain('ActionStarted');
    expect(eventsOf(env.rt, o.decision_id).at(-1)).toMatchObject({ type: 'EscalationResolved', reasons: ['ESCALATION_EXPIRED'] });
  });

  it('approving an overdue escalation expires it instead of running it', async () => {
    const env = await setup();
    const o = await escalated(env);
    env.world.advance(15 * MIN);
    const r = await env.rt.kernel.approve(o.decision_id, 'ops', 'too late');
    expect(r).toMatchObject({ status: 'expired', reasons: ['ESCALATION_EXPIRED'] });
    expect(balance(env.dir)).toBe(500_000);
  });

  it('approve is single-use: a second approve throws DECISION_NOT_FOUND and the transfer runs once', async () => {
    const env = await setup();
    const o = await escalated(env);
    env.world.advance(MIN);
    const first = await env.rt.kernel.approve(o.decision_id, 'ops', 'invoice checked');
    expect(first).toMatchObject({ verdict: 'accepted', status: 'approved', decision_id: o.decision_id, dfid: o.dfid });
    expect(first.output).toMatchObject({ balance_minor: 480_000 });

    await expect(env.rt.kernel.approve(o.decision_id, 'ops', null)).rejects.toMatchObject({ name: 'KernelError', code: 'DECISION_NOT_FOUND' });
    await expect(env.rt.kernel.deny(o.decision_id, 'ops', null)).rejects.toThrow(/not pending/);
    expect(balance(env.dir)).toBe(480_000);
    expect(readBook(env.dir).transfers).toHaveLength(1);
    expect(typesOf(env.rt, o.decision_id).filter((t) => t === 'ActionStarted')).toHaveLength(1);
    expect((await env.rt.kernel.getDecision('alice', o.decision_id))?.status).toBe('approved');
    // Another agent cannot see it.
    expect((await env.rt.kernel.getDecision('scribe', o.decision_id))).toBeNull();
  });

  it('deny closes an escalation with ESCALATION_DENIED and nothing runs', async () => {
    const env = await setup();
    const o = await escalated(env);
    expect((await env.rt.kernel.deny(o.decision_id, 'ops', 'no invoice'))).toMatchObject({ verdict: 'rejected', status: 'denied', reasons: ['ESCALATION_DENIED'] });
    await expect(env.rt.kernel.approve(o.decision_id, 'ops', null)).rejects.toMatchObject({ code: 'DECISION_NOT_FOUND' });
    expect(balance(env.dir)).toBe(500_000);
  });

  it('a repeat of a pending request answers IN_PROGRESS and opens no second escalation', async () => {
    const env = await setup();
    const o = await escalated(env);
    const again = await env.rt.kernel.govern(call('alice', transfer(20_000)));
    expect(again.replay_of).toBe(o.decision_id);
    expect(again.reasons).toContain('IN_PROGRESS');
    expect((await env.rt.store.decisions.pending()).map((d) => d.id)).toEqual([o.decision_id]);
  });

  it('approving the request of an agent paused since it escalated refuses with AGENT_PAUSED and nothing runs', async () => {
    const env = await setup();
    const o = await escalated(env);
    await intervene(env.rt.kernel, { kind: 'agent', id: 'supervisor' }, { act: 'pause', target: { agent: 'alice' }, reason: 'suspicious' });
    const r = await env.rt.kernel.approve(o.decision_id, 'ops', null);
    expect(r).toMatchObject({ verdict: 'rejected', reasons: ['AGENT_PAUSED'] });
    expect(balance(env.dir)).toBe(500_000);
    expect(typesOf(env.rt, o.decision_id)).not.toContain('ActionStarted');
  });

  it('a pending escalation survives a restart and is approvable by the new runtime', async () => {
    const env = await setup();
    const o = await escalated(env);
    env.world.advance(5 * MIN);
    const rt = await env.restart();
    expect((await rt.kernel.getDecision('alice', o.decision_id))).toMatchObject({ status: 'pending', verdict: 'escalated' });
    expect((await rt.store.decisions.pending()).map((d) => d.id)).toEqual([o.decision_id]);
    const approved = await rt.kernel.approve(o.decision_id, 'ops', null);
    expect(approved).toMatchObject({ verdict: 'accepted', status: 'approved' });
    expect(balance(env.dir)).toBe(480_000);
    expect((await rt.store.ledger.verify()).ok).toBe(true);
  });
});

describe('kernel: idempotency', () => {
  it('a repeat with the same key returns the recorded outcome and never runs twice', async () => {
    const env = await setup();
    const first = await env.rt.kernel.govern(call('alice', transfer(100, { idempotency_key: 'inv-1' })));
    expect(first).toMatchObject({ verdict: 'accepted', status: 'accepted', idempotency_key: 'inv-1' });
    env.world.advance(MIN);
    const again = await env.rt.kernel.govern(call('alice', transfer(100, { idempotency_key: 'inv-1' })));
    expect(again).toMatchObject({ verdict: 'accepted', replay_of: first.decision_id, output: first.output });
    expect(again.reasons).toEqual(['IDEMPOTENT_REPLAY']);
    expect(again.decision_id).not.toBe(first.decision_id);
    // The key from _meta works the same way.
    const meta = await env.rt.kernel.govern(call('alice', transfer(100), { metaIdempotencyKey: 'inv-1' }));
    expect(meta.replay_of).toBe(first.decision_id);
    expect(readBook(env.dir).transfers).toHaveLength(1);
    expect(events(env.rt).filter((e) => e.type === 'ActionStarted')).toHaveLength(1);
    expect(typesOf(env.rt, again.decision_id)).toEqual(['IntentReceived', 'IntentReplayed']);
  });

  it('concurrent calls with one key: one runs, the other gets IN_PROGRESS, the side effect runs once', async () => {
    const env = await setup();
    const [a, b] = await Promise.all([
      env.rt.kernel.govern(call('alice', transfer(100, { idempotency_key: 'race' }))),
      env.rt.kernel.govern(call('alice', transfer(100, { idempotency_key: 'race' }))),
    ]);
    const outcomes = [a, b];
    expect(outcomes.filter((o) => o.verdict === 'accepted' && !o.replay_of)).toHaveLength(1);
    const loser = outcomes.find((o) => o.replay_of) as Outcome;
    expect(loser.reasons).toContain('IN_PROGRESS');
    expect(readBook(env.dir).transfers).toHaveLength(1);
    expect(events(env.rt).filter((e) => e.type === 'ActionStarted')).toHaveLength(1);
  });

  it('a key already held in flight answers IN_PROGRESS and nothing runs', async () => {
    const env = await setup();
    const intent = transfer(100, { idempotency_key: 'held' });
    const now = env.world.now();
    raw(env.rt).idempotency.transaction(() =>
      raw(env.rt).idempotency.reserve(
        { agent: 'alice', key: 'held', request_hash: hashOf({ agent: 'alice', capability: intent.capability, params: intent.params }), state: 'in_flight', decision_id: 'other', created_at: now, expires_at: now + HOUR },
        now,
      ),
    );
    const o = await env.rt.kernel.govern(call('alice', intent));
    expect(o).toMatchObject({ verdict: 'rejected', reasons: ['IN_PROGRESS'], replay_of: 'other' });
    expect(balance(env.dir)).toBe(500_000);
    expect(events(env.rt).filter((e) => e.type === 'ActionStarted')).toHaveLength(0);
  });

  it('the same key with different params is IDEMPOTENCY_CONFLICT', async () => {
    const env = await setup();
    await env.rt.kernel.govern(call('alice', transfer(100, { idempotency_key: 'k' })));
    const o = await env.rt.kernel.govern(call('alice', transfer(101, { idempotency_key: 'k' })));
    expect(o).toMatchObject({ verdict: 'rejected', reasons: ['IDEMPOTENCY_CONFLICT'] });
    expect(readBook(env.dir).transfers).toHaveLength(1);
  });

  it('after idempotency_window_hours pass the same key runs afresh', async () => {
    const env = await setup();
    const first = await env.rt.kernel.govern(call('alice', transfer(100, { idempotency_key: 'daily' })));
    expect(first.verdict).toBe('accepted');
    env.world.advance(24 * HOUR - 1);
    expect((await env.rt.kernel.govern(call('alice', transfer(100, { idempotency_key: 'daily' })))).reasons).toEqual(['IDEMPOTENT_REPLAY']);
    env.world.advance(1);
    const fresh = await env.rt.kernel.govern(call('alice', transfer(100, { idempotency_key: 'daily' })));
    expect(fresh).toMatchObject({ verdict: 'accepted', status: 'accepted', reasons: [] });
    expect(fresh.replay_of).toBeUndefined();
    expect(readBook(env.dir).transfers).toHaveLength(2);
    expect(balance(env.dir)).toBe(499_800);
  });
});

describe('kernel: bounds', () => {
  it('FLOW_LIMIT_EXCEEDED when max_invocations_per_flow is reached within one dfid', async () => {
    const env = await setup({ 'mandate.yaml': replaceOnce('max_invocations_per_flow: 50', 'max_invocations_per_flow: 2') });
    const trace = 'abcdef0123456789abcdef0123456789';
    const balanceCall = (key: string, tp = traceparent(trace)) =>
      env.rt.kernel.govern(call('alice', { capability: 'payments.get_balance', params: { account: 'operating' }, idempotency_key: key }, { traceparent: tp }));
    expect((await balanceCall('b1')).verdict).toBe('accepted');
    expect((await balanceCall('b2')).verdict).toBe('accepted');
    const third = await balanceCall('b3');
    expect(third).toMatchObject({ verdict: 'rejected', reasons: ['FLOW_LIMIT_EXCEEDED'], dfid: trace });
    expect(typesOf(env.rt, third.decision_id)).not.toContain('ActionStarted');
    // Another flow is not affected, and the refused key was released for a retry.
    const other = await balanceCall('b3', traceparent('1bcdef0123456789abcdef0123456789'));
    expect(other).toMatchObject({ verdict: 'accepted', reasons: [] });
    expect(other.replay_of).toBeUndefined();
  });

  it('a 1h max_calls budget refuses call N+1 with BUDGET_EXCEEDED and allows again after the hour', async () => {
    const env = await setup({ 'contracts/alice.yaml': replaceOnce('max_calls: 30', 'max_calls: 3') });
    const pay = (key: string) => env.rt.kernel.govern(call('alice', transfer(100, { idempotency_key: key })));
    for (const key of ['p1', 'p2', 'p3']) {
      expect((await pay(key)).verdict).toBe('accepted');
      env.world.advance(1_000);
    }
    const fourth = await pay('p4');
    expect(fourth).toMatchObject({ verdict: 'rejected', reasons: ['BUDGET_EXCEEDED'] });
    expect(fourth.details[0]?.path).toBe('budgets.1h.calls');
    env.world.set(T0 + 30 * MIN);
    expect((await pay('p4')).reasons).toEqual(['BUDGET_EXCEEDED']); // the refused key is not burned
    env.world.set(T0 + HOUR + 2 * MIN);
    expect(await pay('p4')).toMatchObject({ verdict: 'accepted', reasons: [] });
    expect(readBook(env.dir).transfers).toHaveLength(4);
  });

  it('a budget never admits more than max_calls within any rolling window', async () => {
    const env = await setup({ 'contracts/alice.yaml': replaceOnce('max_calls: 30', 'max_calls: 3') });
    const pay = (key: string) => env.rt.kernel.govern(call('alice', transfer(100, { idempotency_key: key })));
    // Three calls late in one minute ...
    env.world.set(T0 + 59_000);
    for (const key of ['q1', 'q2', 'q3']) expect((await pay(key)).verdict).toBe('accepted');
    // ... and 59 min 30 s later they are still within the hour.
    env.world.set(T0 + 59_000 + HOUR - 30_000);
    expect((await pay('q4')).reasons).toEqual(['BUDGET_EXCEEDED']);
    env.world.set(T0 + HOUR); // 59 min 1 s after the calls
    expect((await pay('q4')).reasons).toEqual(['BUDGET_EXCEEDED']);
    env.world.set(T0 + 59_000 + HOUR + MIN);
    expect((await pay('q4')).verdict).toBe('accepted');
  });

  it('the circuit opens after repeated handler failures, refuses without running, and a successful probe closes it (transitions in the ledger)', async () => {
    const env = await setup({
      ...WITH_TEST_CAPS,
      'mandate.yaml': (t) => replaceOnce('cooldown_ms: 30000', 'cooldown_ms: 1000')(replaceOnce('failure_threshold: 5', 'failure_threshold: 2')(t)),
      'data/flaky.json': () => '{"fail": true}',
    });
    const flaky = (n: number) => env.rt.kernel.govern(call('alice', { capability: 'test.flaky', params: { n } }));
    expect(await flaky(1)).toMatchObject({ verdict: 'rejected', status: 'failed', reasons: ['HANDLER_FAILED'] });
    expect(await flaky(2)).toMatchObject({ reasons: ['HANDLER_FAILED'] });
    expect(env.rt.kernel.breakers.state('test.flaky')).toBe('open');
    const refused = await flaky(3);
    expect(refused).toMatchObject({ verdict: 'rejected', reasons: ['CIRCUIT_OPEN'] });
    expect(typesOf(env.rt, refused.decision_id)).not.toContain('ActionStarted');
    expect(runs(env.dir)).toEqual(['flaky 1', 'flaky 2']);

    env.world.advance(1_000);
    writeFileSync(join(env.dir, 'data', 'flaky.json'), '{"fail": false}');
    expect(await flaky(4)).toMatchObject({ verdict: 'accepted', output: { n: 4 } });
    expect(env.rt.kernel.breakers.state('test.flaky')).toBe('closed');
    expect(runs(env.dir)).toEqual(['flaky 1', 'flaky 2', 'flaky 4']);
    const transitions = events(env.rt)
      .filter((e) => e.type === 'CircuitStateChanged')
      .map((e) => `${String(e.data['from'])}->${String(e.data['to'])}`);
    expect(transitions).toEqual(['closed->open', 'open->half_open', 'half_open->closed']);
  });

  it('facts that move between decision and effect reject with STATE_DRIFT and the handler never runs', async () => {
    const env = await setup(WITH_TEST_CAPS);
    const o = await env.rt.kernel.govern(call('alice', { capability: 'test.drifty', params: { n: 1 } }));
    expect(o).toMatchObject({ verdict: 'rejected', reasons: ['STATE_DRIFT'] });
    expect(o.details[0]?.path).toBe('facts.version');
    expect(runs(env.dir)).toEqual([]);
    // Refused before the effect: the (derived) key is free, so a retry is evaluated again, not replayed.
    const again = await env.rt.kernel.govern(call('alice', { capability: 'test.drifty', params: { n: 1 } }));
    expect(again.replay_of).toBeUndefined();
    expect(again.reasons).toEqual(['STATE_DRIFT']);
  });

  it('observed_version that is no longer current is refused with STATE_DRIFT', async () => {
    const env = await setup();
    const read = await env.rt.kernel.govern(call('alice', { capability: 'payments.get_balance', params: { account: 'operating' } }));
    const version = (read.output as { version: string }).version;
    expect((await env.rt.kernel.govern(call('alice', transfer(100, { observed_version: version })))).verdict).toBe('accepted');
    const stale = await env.rt.kernel.govern(call('alice', transfer(200, { observed_version: version })));
    expect(stale).toMatchObject({ verdict: 'rejected', reasons: ['STATE_DRIFT'] });
  });
});

describe('kernel: fail closed and on the record', () => {
  it('a policy that errors at evaluation rejects with POLICY_ERROR and nothing runs', async () => {
    const env = await setup({
      'policies/broken.cedar': () => '@id("forbid-reads-missing-fact")\nforbid (principal, action, resource) when { context.facts.missing_attr == true };\n',
    });
    const o = await env.rt.kernel.govern(call('alice', transfer(500)));
    expect(o).toMatchObject({ verdict: 'rejected', reasons: ['POLICY_ERROR'], policies: ['forbid-reads-missing-fact'] });
    expect(balance(env.dir)).toBe(500_000);
    const policy = eventsOf(env.rt, o.decision_id).find((e) => e.type === 'PolicyDecided');
    expect(policy?.data['decision']).toBe('error');
    expect(policy?.data['policy_set_hash']).toBe(env.rt.workspace.policySet.hash);
    expect(typesOf(env.rt, o.decision_id)).not.toContain('ActionStarted');
  });

  it('a forbid wins over the contract permit in the kernel (blocked payee)', async () => {
    const env = await setup();
    const o = await env.rt.kernel.govern(call('alice', transfer(500, {}, { payee: 'shady-llc' })));
    expect(o).toMatchObject({ verdict: 'rejected', reasons: ['POLICY_FORBID'], policies: ['forbid-blocked-payees'] });
    expect(balance(env.dir)).toBe(500_000);
  });

  it('a paused agent is refused with AGENT_PAUSED before any other check', async () => {
    const env = await setup();
    await intervene(env.rt.kernel, { kind: 'operator', id: 'ops' }, { act: 'pause', target: { agent: 'alice' }, reason: 'investigating' });
    // Everything about this intent is wrong, yet the only reason is the pause.
    const o = await env.rt.kernel.govern(call('alice', { capability: 'no.such', params: { x: 'y'.repeat(100_000) }, ttl_seconds: -1 } as never));
    expect(o).toMatchObject({ verdict: 'rejected', reasons: ['AGENT_PAUSED'] });
    expect(typesOf(env.rt, o.decision_id)).toEqual(['IntentReceived', 'IntentRejected']);
    const valid = await env.rt.kernel.govern(call('alice', transfer(100)));
    expect(valid.reasons).toEqual(['AGENT_PAUSED']);
    expect(balance(env.dir)).toBe(500_000);
  });

  it('an unknown agent is refused with UNKNOWN_AGENT', async () => {
    const env = await setup();
    expect(await env.rt.kernel.govern(call('mallory', transfer(100)))).toMatchObject({ verdict: 'rejected', reasons: ['UNKNOWN_AGENT'] });
  });

  it('reports every DIM failure of a call together, through the kernel', async () => {
    const env = await setup();
    const o = await env.rt.kernel.govern(call('alice', transfer(600_000, {}, { currency: 'USD' })));
    expect(o.verdict).toBe('rejected');
    expect(o.details.map((d) => d.path ?? d.invariant)).toEqual([
      'amount_minor',
      'currency',
      'budgets.1d.amount_minor',
      'currency_matches_account',
      'sufficient_funds',
    ]);
    expect(o.reasons).toEqual(['CONTRACT_LIMIT_EXCEEDED', 'BUDGET_EXCEEDED', 'INVARIANT_VIOLATED']);
  });

  it('the ledger and the logs hold hashes and codes, never param values, rationale or memo', async () => {
    const lines: string[] = [];
    const ws = copyTemplate();
    afterTest(ws.cleanup);
    const rt = await openRuntime(ws.dir, createLogger('trace', { write: (s: string) => void lines.push(s) }), new FakeWorld());
    afterTest(() => rt.close());
    const secrets = ['MEMO-SECRET-7731', 'RATIONALE-SECRET-4410', 'acme-supplies', 'Acme Supplies Ltd'];
    const intent = transfer(1234, { rationale: 'RATIONALE-SECRET-4410 pay the invoice' }, { memo: 'MEMO-SECRET-7731' });
    expect((await rt.kernel.govern(call('alice', intent))).verdict).toBe('accepted');
    expect((await rt.kernel.govern(call('alice', transfer(20_000, {}, { memo: 'MEMO-SECRET-7731' })))).verdict).toBe('escalated');
    expect((await rt.kernel.govern(call('alice', transfer(1234, {}, { memo: 'MEMO-SECRET-7731', currency: 'USD' })))).verdict).toBe('rejected');
    const { readMemory } = await import('../../src/kernel/memory-read.js');
    expect((await readMemory(rt.kernel, 'alice', { scope: 'suppliers', key: 'acme-supplies' })).verdict).toBe('accepted');

    const ledgerText = JSON.stringify(raw(rt).db.prepare('SELECT * FROM events').all());
    expect(lines.length).toBeGreaterThan(5);
    const logText = lines.join('\n');
    for (const s of secrets) {
      expect(ledgerText).not.toContain(s);
      expect(logText).not.toContain(s);
    }
    expect(ledgerText).not.toContain('amount_minor');
    const validated = (await rt.store.ledger.page(0, 1000)).find((e) => e.type === 'IntentValidated');
    expect(validated?.data['rationale_hash']).toBe(hashOf(intent.rationale));
  });

  it('every event of a flow carries its dfid: the trace-id of the caller traceparent', async () => {
    const env = await setup();
    const trace = '0af7651916cd43dd8448eb211c80319c';
    const o = await env.rt.kernel.govern(call('alice', transfer(100), { traceparent: traceparent(trace) }));
    expect(o.dfid).toBe(trace);
    const flow = (await env.rt.store.ledger.byDfid(trace));
    expect(flow.map((e) => e.type)).toEqual(['IntentReceived', 'IntentValidated', 'PolicyDecided', 'ActionStarted', 'ActionOutcome']);
    expect(new Set(flow.map((e) => e.decision_id))).toEqual(new Set([o.decision_id]));
    expect(o.receipt).toEqual({ seq: flow.at(-1)?.seq, hash: flow.at(-1)?.hash });
    // Without one, the World mints it.
    const minted = await env.rt.kernel.govern(call('alice', transfer(101)));
    expect(minted.dfid).toMatch(/^[0-9a-f]{32}$/);
    expect(minted.dfid).not.toBe(trace);
  });

  it('the chain verifies after a mix of accepted, rejected, escalated, replayed and resolved flows', async () => {
    const env = await setup();
    const k = env.rt.kernel;
    await k.govern(call('alice', transfer(100, { idempotency_key: 'a' })));
    await k.govern(call('alice', transfer(100, { idempotency_key: 'a' })));
    await k.govern(call('alice', transfer(60_000)));
    const e1 = await k.govern(call('alice', transfer(20_000)));
    const e2 = await k.govern(call('alice', transfer(30_000)));
    await k.approve(e1.decision_id, 'ops', null);
    k.deny(e2.decision_id, 'ops', null);
    await k.govern(call('scribe', { capability: 'files.write', params: { path: 'notes/a.md', content: 'hello' } }));
    await intervene(k, { kind: 'agent', id: 'alice' }, { act: 'resume', target: { agent: 'alice' }, reason: 'let me out' });
    const result = (await env.rt.store.ledger.verify());
    expect(result.ok).toBe(true);
    expect(result.events).toBe((await env.rt.store.ledger.headSeq()));
    expect(result.events).toBeGreaterThan(20);
  });
});
