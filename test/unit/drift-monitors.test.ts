// Drift monitors: a rolling window over an agent's executed outcomes,
// evaluated after each one once the window is full; strictly above the
// threshold (for `consecutive` evaluations) suspends the agent at once. The
// suspended agent is refused before anything runs; only an operator resumes it.
import { describe, expect, it } from 'vitest';
import { call, raw } from './helpers.js';
import { act, agent, eventsOf, expectRefused, HOUR, oversightEdits, MIN, operator, setup, TESTER_CONTRACT, typesOf, type Env } from './oversight-fixtures.js';

let n = 0;
const sample = (env: Env, v: number) => env.rt.kernel.govern(call('tester', { capability: 'test.metric', params: { n: ++n, v } }));
const suspensions = (env: Env) => raw(env.rt).ledger.page(0, 100_000).filter((e) => e.type === 'AgentSuspended');

describe('drift monitors', () => {
  it('a last-N average exactly at the threshold does not trip; the next value that pushes it above suspends with DRIFT_MONITOR_BREACHED', async () => {
    const env = await setup();
    // avg-v: the average of the last 3 samples of v, threshold 10.
    for (const v of [10, 10, 10, 10]) {
      expect((await sample(env, v)).verdict).toBe('accepted');
      expect((await env.rt.store.agents.status('tester'))).toBe('active');
    }
    expect(suspensions(env)).toEqual([]);
    // [10, 10, 11]: 10.33 > 10. The call that breaches has run; the suspension applies right after it.
    const tipping = await sample(env, 11);
    expect(tipping.verdict).toBe('accepted');
    expect((await env.rt.store.agents.status('tester'))).toBe('suspended');
    const [ev] = suspensions(env);
    expect(ev).toMatchObject({
      agent: 'tester',
      decision_id: tipping.decision_id,
      dfid: tipping.dfid,
      reasons: ['DRIFT_MONITOR_BREACHED'],
      data: { breaches: [{ monitor: 'avg-v', metric: 31 / 3, threshold: 10 }] },
    });
    expect(typesOf(env.rt, tipping.decision_id).slice(-2)).toEqual(['ActionOutcome', 'AgentSuspended']);
    // It is recorded as an intervention by the monitor.
    expect((await env.rt.store.agents.interventions()).find((i) => i.act === 'suspend')).toMatchObject({ target_agent: 'tester', issued_by: 'system:monitor:avg-v', issuer_role: 'monitor', state: 'applied' });
    expect((await env.rt.store.ledger.verify()).ok).toBe(true);
  });

  it('a window is evaluated only once it is full: large early samples do not trip before N outcomes', async () => {
    const env = await setup();
    await sample(env, 1_000);
    await sample(env, 1_000);
    expect((await env.rt.store.agents.status('tester'))).toBe('active');
    await sample(env, 1_000);
    expect((await env.rt.store.agents.status('tester'))).toBe('suspended');
  });

  it('a suspended agent\'s next call is refused with AGENT_SUSPENDED before any capability runs', async () => {
    const env = await setup();
    for (const v of [20, 20, 20]) await sample(env, v);
    expect((await env.rt.store.agents.status('tester'))).toBe('suspended');
    const ran = env.runs().length;
    expect(ran).toBe(3);

    const refused = await sample(env, 0);
    expect(refused).toMatchObject({ verdict: 'rejected', reasons: ['AGENT_SUSPENDED'] });
    expect(typesOf(env.rt, refused.decision_id)).toEqual(['IntentReceived', 'IntentRejected']);
    // Even a request that is wrong in every other way is refused for the suspension alone.
    const nonsense = await env.rt.kernel.govern(call('tester', { capability: 'no.such', params: {}, ttl_seconds: -1 } as never));
    expect(nonsense.reasons).toEqual(['AGENT_SUSPENDED']);
    const wait = await env.rt.kernel.govern(call('tester', { capability: 'test.wait', params: { n: 1 } }));
    expect(wait.reasons).toEqual(['AGENT_SUSPENDED']);
    expect(env.runs().length).toBe(ran);
    // It cannot act through other tools either.
    await expectRefused(env, await act(env, agent('tester'), { act: 'redirect', target: { agent: 'tester' }, reason: 'x', redirect: { note: 'n' } }), 'INTERVENTION_NOT_ALLOWED');
  });

  it('only an operator resumes a drift-suspended agent; AgentResumed is recorded and calls run again', async () => {
    const env = await setup();
    for (const v of [20, 20, 20]) await sample(env, v);
    await expectRefused(env, await act(env, agent('tester'), { act: 'resume', target: { agent: 'tester' }, reason: 'fine' }), 'INTERVENTION_NOT_ALLOWED');
    await expectRefused(env, await act(env, agent('supervisor'), { act: 'resume', target: { agent: 'tester' }, reason: 'fine' }), 'INTERVENTION_NOT_ALLOWED');
    expect((await env.rt.store.ledger.page(0, 100_000)).filter((e) => e.type === 'AgentResumed')).toEqual([]);

    const resumed = await act(env, operator, { act: 'resume', target: { agent: 'tester' }, reason: 'reviewed the samples' });
    expect(resumed).toMatchObject({ verdict: 'accepted', output: { agent_status: 'active' } });
    const ev = eventsOf(env.rt, resumed.decision_id);
    expect(ev.map((e) => e.type)).toEqual(['InterventionIssued', 'InterventionAcknowledged', 'InterventionApplied', 'AgentResumed']);
    expect(ev.at(-1)).toMatchObject({ agent: 'tester', data: { by: 'operator:ops' } });
    expect(ev.find((e) => e.type === 'InterventionApplied')?.data).toMatchObject({ from: 'suspended', to: 'active' });
    expect((await env.rt.store.agents.status('tester'))).toBe('active');
    // Resuming does not clear the window: [20, 20, -10] averages exactly 10, so it keeps running.
    expect((await sample(env, -10)).verdict).toBe('accepted');
    expect((await env.rt.store.agents.status('tester'))).toBe('active');
  });

  it('consecutive: 2 suspends only on the second breaching evaluation in a row; a good sample resets the streak', async () => {
    const contract = TESTER_CONTRACT.replace('over: { last: 3 }\n    metric: { avg: v }\n    threshold: 10\n', 'over: { last: 1 }\n    metric: { max: v }\n    threshold: 50\n    consecutive: 2\n');
    const env = await setup(oversightEdits({ 'contracts/tester.yaml': () => contract }));
    await sample(env, 60);
    expect((await env.rt.store.agents.status('tester'))).toBe('active');
    await sample(env, 50); // exactly at the threshold: not a breach, the streak resets
    await sample(env, 60);
    expect((await env.rt.store.agents.status('tester'))).toBe('active');
    await sample(env, 60);
    expect((await env.rt.store.agents.status('tester'))).toBe('suspended');
    expect(suspensions(env)).toHaveLength(1);
  });

  it('a time-window sum counts only samples inside the window and waits until the window has elapsed once', async () => {
    const contract = TESTER_CONTRACT.replace('over: { last: 3 }\n    metric: { avg: v }\n', 'over: { window: 1h }\n    metric: { sum: v }\n').replace('threshold: 10', 'threshold: 100');
    const env = await setup(oversightEdits({ 'contracts/tester.yaml': () => contract }));
    await sample(env, 60); // T0
    env.world.advance(30 * MIN);
    await sample(env, 60); // sum 120 > 100, but the window has not elapsed once yet
    expect((await env.rt.store.agents.status('tester'))).toBe('active');
    env.world.advance(31 * MIN);
    await sample(env, 1); // T0+61m: the T0 sample left the window, sum 61
    expect((await env.rt.store.agents.status('tester'))).toBe('active');
    env.world.advance(19 * MIN);
    await sample(env, 39); // T0+80m: 60 + 1 + 39 = 100, exactly the threshold
    expect((await env.rt.store.agents.status('tester'))).toBe('active');
    env.world.advance(HOUR - 49 * MIN);
    await sample(env, 1); // T0+91m: the T0+30m sample is gone: 1 + 39 + 1 = 41
    expect((await env.rt.store.agents.status('tester'))).toBe('active');
    await sample(env, 60); // 101 > 100
    expect((await env.rt.store.agents.status('tester'))).toBe('suspended');
    expect(suspensions(env)[0]?.data).toMatchObject({ breaches: [{ monitor: 'avg-v', metric: 101, threshold: 100 }] });
  });

  it('a monitor scoped to one capability ignores the outcomes of others', async () => {
    const env = await setup();
    await sample(env, 1_000);
    await sample(env, 1_000);
    for (let i = 0; i < 5; i++) expect((await env.rt.kernel.govern(call('tester', { capability: 'test.peek', params: { n: i } }))).verdict).toBe('accepted');
    expect((await env.rt.store.agents.status('tester'))).toBe('active');
  });
});
