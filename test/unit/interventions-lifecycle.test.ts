// Interventions: terminate aborts running calls through their abort
// signal; constrain tightens a limit until it expires; redirect leaves a note
// delivered exactly once; a flow (dfid) can be paused or terminated on its
// own; interventions survive a restart.
import { describe, expect, it } from 'vitest';
import { hashOf } from '../../src/core/canonical.js';
import { intervene } from '../../src/kernel/interventions.js';
import { call, openTest, traceparent, transfer, raw } from './helpers.js';
import { act, agent, events, eventsOf, MIN, operator, setup, typesOf, until, type Env } from './oversight-fixtures.js';

const T1 = '1'.repeat(32);
const T2 = '2'.repeat(32);

function startWait(env: Env, n: number, trace?: string) {
  return env.rt.kernel.govern(call('tester', { capability: 'test.wait', params: { n } }, trace ? { traceparent: traceparent(trace) } : {}));
}

describe('terminate aborts in-flight calls', () => {
  it('terminating an agent aborts its running call through the handler signal: ABORTED_BY_INTERVENTION, recorded', async () => {
    const env = await setup();
    const started = Date.now();
    const running = startWait(env, 1);
    await until(() => env.runs().includes('wait start 1'), 'the handler to start');

    const t = await act(env, operator, { act: 'terminate', target: { agent: 'tester' }, reason: 'runaway' });
    expect(t).toMatchObject({ verdict: 'accepted', output: { agent_status: 'terminated' } });
    const o = await running;
    // The handler's deadline is 12 s: the abort, not the deadline, ended it.
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(o).toMatchObject({ verdict: 'rejected', status: 'failed', reasons: ['ABORTED_BY_INTERVENTION'] });
    expect(o.details[0]?.message).toContain(t.decision_id);
    expect(env.runs()).toEqual(['wait start 1', 'wait aborted 1']);
    const outcome = eventsOf(env.rt, o.decision_id).find((e) => e.type === 'ActionOutcome');
    expect(outcome).toMatchObject({ reasons: ['ABORTED_BY_INTERVENTION'], data: { ok: false } });
    // The agent stays terminated, and an aborted call never feeds a drift monitor.
    expect((await startWait(env, 2)).reasons).toEqual(['AGENT_TERMINATED']);
    expect(events(env.rt).filter((e) => e.type === 'AgentSuspended')).toEqual([]);
  });

  it('terminating one flow aborts only that flow\'s running call and refuses its later calls; other flows go on', async () => {
    const env = await setup();
    const one = startWait(env, 1, T1);
    const two = startWait(env, 2, T2);
    await until(() => env.runs().includes('wait start 1') && env.runs().includes('wait start 2'), 'both handlers to start');

    // An agent may terminate its own flow.
    const t = await act(env, agent('tester'), { act: 'terminate', target: { dfid: T1 }, reason: 'wrong plan' });
    expect(t).toMatchObject({ verdict: 'accepted', output: { target_kind: 'flow', flow_status: 'terminated' } });
    expect(await one).toMatchObject({ reasons: ['ABORTED_BY_INTERVENTION'], dfid: T1 });
    expect(env.runs()).toEqual(['wait start 1', 'wait start 2', 'wait aborted 1']);
    expect((await env.rt.store.agents.status('tester'))).toBe('active');
    expect((await env.rt.kernel.govern(call('tester', { capability: 'test.peek', params: { n: 1 } }, { traceparent: traceparent(T1) }))).reasons).toEqual(['FLOW_TERMINATED']);
    expect((await env.rt.kernel.govern(call('tester', { capability: 'test.peek', params: { n: 2 } }, { traceparent: traceparent('3'.repeat(32)) }))).verdict).toBe('accepted');

    // Then the whole agent: the other flow's call is aborted too.
    await act(env, agent('supervisor'), { act: 'terminate', target: { agent: 'tester' }, reason: 'enough' });
    expect(await two).toMatchObject({ reasons: ['ABORTED_BY_INTERVENTION'], dfid: T2 });
  });

  it('the cross-process sweep aborts calls of an agent terminated elsewhere, but never re-applies a termination an operator has lifted', async () => {
    const env = await setup();
    const since = env.world.now() - 500;
    const running = startWait(env, 1);
    await until(() => env.runs().includes('wait start 1'), 'the handler to start');
    // Another process on the same store (as the CLI is) terminates the agent: this kernel's call runs on...
    const other = await openTest(env.dir, env.world);
    try {
      await intervene(other.kernel, operator, { act: 'terminate', target: { agent: 'tester' }, reason: 'from the CLI' });
      await new Promise((r) => setTimeout(r, 50));
      expect(env.runs()).not.toContain('wait aborted 1');
      // ...until the serving process's sweep picks the termination up.
      (await env.rt.kernel.abortTerminated(since));
      expect(await running).toMatchObject({ reasons: ['ABORTED_BY_INTERVENTION'] });

      // Revived by an operator, the agent's new call survives later sweeps over the same period.
      await intervene(other.kernel, operator, { act: 'resume', target: { agent: 'tester' }, reason: 'revived' });
    } finally {
      other.close();
    }
    const next = startWait(env, 2);
    await until(() => env.runs().includes('wait start 2'), 'the second handler to start');
    (await env.rt.kernel.abortTerminated(since));
    await new Promise((r) => setTimeout(r, 50));
    expect(env.runs()).not.toContain('wait aborted 2');
    await act(env, operator, { act: 'terminate', target: { agent: 'tester' }, reason: 'cleanup' });
    expect(await next).toMatchObject({ reasons: ['ABORTED_BY_INTERVENTION'] });
  });
});

describe('constrain, redirect and flows', () => {
  it('constrain tightens a limit until it expires; expireInterventions records InterventionExpired', async () => {
    const env = await setup();
    const c = await act(env, agent('supervisor'), {
      act: 'constrain',
      target: { agent: 'alice' },
      reason: 'suspicious volume',
      constrain: { capability: 'payments.transfer', field: 'amount_minor', max: 1_000, minutes: 10 },
    });
    expect(c).toMatchObject({ verdict: 'accepted', output: { constraint: { capability: 'payments.transfer', field: 'amount_minor', max: 1_000 }, expires_at: new Date(env.world.now() + 10 * MIN).toISOString() } });
    const over = await env.rt.kernel.govern(call('alice', transfer(1_500)));
    expect(over).toMatchObject({ verdict: 'rejected', reasons: ['CONTRACT_LIMIT_EXCEEDED'] });
    expect(over.details[0]).toMatchObject({ path: 'amount_minor' });
    expect((await env.rt.kernel.govern(call('alice', transfer(1_000)))).verdict).toBe('accepted');

    env.world.advance(10 * MIN - 1);
    expect((await env.rt.kernel.expireInterventions())).toBe(0);
    expect((await env.rt.kernel.govern(call('alice', transfer(1_501)))).reasons).toEqual(['CONTRACT_LIMIT_EXCEEDED']);
    env.world.advance(1);
    expect((await env.rt.kernel.expireInterventions())).toBe(1);
    expect(typesOf(env.rt, c.decision_id)).toEqual(['InterventionIssued', 'InterventionAcknowledged', 'InterventionApplied', 'InterventionExpired']);
    expect((await env.rt.store.agents.interventions()).find((i) => i.id === c.decision_id)?.state).toBe('expired');
    expect((await env.rt.kernel.govern(call('alice', transfer(1_502)))).verdict).toBe('accepted');
    expect((await env.rt.kernel.expireInterventions())).toBe(0);
  });

  it('redirect: the operator note is delivered exactly once, on the next call, and the ledger holds only its hash', async () => {
    const env = await setup();
    const note = 'NOTE-SECRET-77: pay acme from the reserve account from now on';
    const r = await act(env, operator, { act: 'redirect', target: { agent: 'alice' }, reason: 'treasury change', redirect: { note } });
    expect(r.verdict).toBe('accepted');
    expect(eventsOf(env.rt, r.decision_id).find((e) => e.type === 'InterventionApplied')?.data).toMatchObject({ note_hash: hashOf(note) });

    // Another agent's call does not take alice's note.
    expect((await env.rt.kernel.govern(call('scribe', { capability: 'files.write', params: { path: 'n.md', content: 'x' } }))).operator_note).toBeUndefined();
    const first = await env.rt.kernel.govern(call('alice', transfer(100)));
    expect(first).toMatchObject({ verdict: 'accepted', operator_note: note });
    const second = await env.rt.kernel.govern(call('alice', transfer(101)));
    expect(second.verdict).toBe('accepted');
    expect(second.operator_note).toBeUndefined();
    expect(JSON.stringify(raw(env.rt).db.prepare('SELECT * FROM events').all())).not.toContain('NOTE-SECRET-77');
  });

  it('a redirect note not picked up before it expires is never delivered', async () => {
    const env = await setup();
    const r = await act(env, agent('supervisor'), { act: 'redirect', target: { agent: 'alice' }, reason: 'x', redirect: { note: 'stale advice', minutes: 1 } });
    expect(r.verdict).toBe('accepted');
    env.world.advance(MIN);
    expect((await env.rt.kernel.expireInterventions())).toBe(1);
    expect((await env.rt.kernel.govern(call('alice', transfer(100)))).operator_note).toBeUndefined();
  });

  it('a paused flow refuses only calls carrying its dfid; resuming the flow lets it continue', async () => {
    const env = await setup();
    expect((await env.rt.kernel.govern(call('alice', transfer(100), { traceparent: traceparent(T1) }))).verdict).toBe('accepted');
    const p = await act(env, agent('supervisor'), { act: 'pause', target: { dfid: T1, agent: 'alice' }, reason: 'check this flow' });
    expect(p).toMatchObject({ verdict: 'accepted', output: { target_kind: 'flow', flow_status: 'paused' } });

    const refused = await env.rt.kernel.govern(call('alice', transfer(101), { traceparent: traceparent(T1) }));
    expect(refused).toMatchObject({ verdict: 'rejected', reasons: ['FLOW_PAUSED'], dfid: T1 });
    expect(typesOf(env.rt, refused.decision_id)).toEqual(['IntentReceived', 'IntentRejected']);
    expect((await env.rt.kernel.govern(call('alice', transfer(102), { traceparent: traceparent(T2) }))).verdict).toBe('accepted');
    expect((await env.rt.kernel.govern(call('alice', transfer(103)))).verdict).toBe('accepted');
    expect((await env.rt.store.agents.status('alice'))).toBe('active');

    // alice cannot resume the flow her supervisor paused; the supervisor can.
    expect((await act(env, agent('alice'), { act: 'resume', target: { dfid: T1 }, reason: 'x' })).reasons).toEqual(['INTERVENTION_NOT_ALLOWED']);
    expect((await act(env, agent('supervisor'), { act: 'resume', target: { dfid: T1, agent: 'alice' }, reason: 'ok' })).verdict).toBe('accepted');
    expect((await env.rt.kernel.govern(call('alice', transfer(104), { traceparent: traceparent(T1) }))).verdict).toBe('accepted');
  });

  it('interventions survive a restart: a paused agent, a terminated flow and a live constraint still hold', async () => {
    const env = await setup();
    expect((await env.rt.kernel.govern(call('alice', transfer(100), { traceparent: traceparent(T1) }))).verdict).toBe('accepted');
    await act(env, operator, { act: 'terminate', target: { dfid: T1 }, reason: 'x' });
    await act(env, operator, { act: 'pause', target: { agent: 'scribe' }, reason: 'x' });
    await act(env, operator, { act: 'constrain', target: { agent: 'alice' }, reason: 'x', constrain: { capability: 'payments.transfer', field: 'amount_minor', max: 500, minutes: 30 } });
    await env.restart();
    expect((await env.rt.kernel.govern(call('alice', transfer(101), { traceparent: traceparent(T1) }))).reasons).toEqual(['FLOW_TERMINATED']);
    expect((await env.rt.kernel.govern(call('scribe', { capability: 'files.write', params: { path: 'r.md', content: 'x' } }))).reasons).toEqual(['AGENT_PAUSED']);
    expect((await env.rt.kernel.govern(call('alice', transfer(501)))).reasons).toEqual(['CONTRACT_LIMIT_EXCEEDED']);
    expect((await env.rt.store.agents.interventions()).map((i) => i.state)).toEqual(['applied', 'applied', 'applied']);
  });
});
