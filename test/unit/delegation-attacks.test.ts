import { describe, expect, it } from 'vitest';
import { intervene } from '../../src/kernel/interventions.js';
import { delegate, DELEGATING_ALICE, workerRequest } from './delegation-fixtures.js';
import { call, events, raw, setupRuntime, transfer } from './helpers.js';

const MIN = 60_000;


describe('delegation: attacks are refused with a structured reason and recorded', () => {
  it('a request for anything the parent lacks is refused per dimension, never clipped, and nothing is created', async () => {
    const env = await setupRuntime(DELEGATING_ALICE);
    const o = await delegate(env, 'alice', {
      child: 'greedy',
      purpose: 'wants more',
      grants: [
        { capability: 'payments.transfer', limits: { max: { amount_minor: 90_000 }, allowed: { currency: ['EUR', 'USD'] }, budgets: [{ window: '1d', sum: 'amount_minor', max: 300_000 }] } },
        { capability: 'files.write', limits: {} },
      ],
      memory: [{ scope: 'suppliers', max_sensitivity: 'restricted' }],
      expires_in_minutes: 600,
    });
    expect(o.verdict).toBe('rejected');
    expect(new Set(o.reasons)).toEqual(new Set(['DELEGATION_LIMIT_WIDER', 'DELEGATION_BUDGET_EXCEEDS_REMAINING', 'DELEGATION_CAPABILITY_NOT_HELD', 'DELEGATION_MEMORY_WIDER', 'DELEGATION_EXPIRY_LATER']));
    expect(o.details.find((d) => d.code === 'DELEGATION_LIMIT_WIDER' && d.path === 'grants.0.limits.amount_minor')?.message).toContain('cap 90000 asked');
    expect(o.details.find((d) => d.code === 'DELEGATION_LIMIT_WIDER' && d.path === 'grants.0.limits.currency')?.message).toContain('"USD"');
    expect(await env.rt.store.delegations.byChild('greedy')).toBeNull();
    const rejected = events(env.rt).find((e) => e.type === 'IntentRejected' && e.decision_id === o.decision_id);
    expect(rejected?.reasons).toContain('DELEGATION_LIMIT_WIDER');
    // The would-be child is nobody.
    expect((await env.rt.kernel.govern(call('greedy', transfer(100)))).reasons).toEqual(['UNKNOWN_AGENT']);
  });

  it('an agent without a delegation section cannot delegate, and a child without may_delegate cannot either', async () => {
    const env = await setupRuntime(DELEGATING_ALICE);
    const scribe = await delegate(env, 'scribe', { child: 'x1', purpose: 'p', grants: [{ capability: 'files.write', limits: {} }] });
    expect(scribe.reasons).toEqual(['CAPABILITY_NOT_GRANTED']);
    expect((await delegate(env, 'alice', workerRequest('worker-1'))).verdict).toBe('accepted');
    const again = await delegate(env, 'worker-1', workerRequest('worker-2', 100, 100));
    expect(again.reasons).toEqual(['CAPABILITY_NOT_GRANTED']);
  });

  it('delegating past the depth the chain allows is refused with DELEGATION_DEPTH_EXCEEDED', async () => {
    const env = await setupRuntime(DELEGATING_ALICE);
    const asks = await delegate(env, 'alice', workerRequest('lead', 5_000, 10_000, { may_delegate: true, max_depth: 2 }));
    expect(asks.reasons).toEqual(['DELEGATION_DEPTH_EXCEEDED']);
    expect((await delegate(env, 'alice', workerRequest('lead', 5_000, 10_000, { may_delegate: true, max_depth: 1 }))).verdict).toBe('accepted');
    const helper = await delegate(env, 'lead', workerRequest('helper', 1_000, 2_000, { expires_in_minutes: 20 }));
    expect(helper.verdict, JSON.stringify(helper.details)).toBe('accepted');
    expect(helper.output).toMatchObject({ depth: 2, root: 'alice', parent: 'lead' });
    const deeper = await delegate(env, 'helper', workerRequest('helper-2', 100, 100));
    expect(deeper.reasons).toEqual(['CAPABILITY_NOT_GRANTED']);
    // A child of lead may not ask to outlive lead, nor to spend more than lead has left.
    const late = await delegate(env, 'lead', workerRequest('late', 1_000, 2_000, { expires_in_minutes: 40 }));
    expect(late.reasons).toEqual(['DELEGATION_EXPIRY_LATER']);
    const rich = await delegate(env, 'lead', workerRequest('rich', 1_000, 11_000, { expires_in_minutes: 10 }));
    expect(rich.reasons).toEqual(['DELEGATION_BUDGET_EXCEEDS_REMAINING']);
  });

  it('a child never outlives its parent: when the parent expires its child is refused, and the sweep records both expiries', async () => {
    const env = await setupRuntime(DELEGATING_ALICE);
    await delegate(env, 'alice', workerRequest('lead', 5_000, 10_000, { may_delegate: true, max_depth: 1, expires_in_minutes: 30 }));
    await delegate(env, 'lead', workerRequest('helper', 1_000, 2_000, { expires_in_minutes: 30 }));
    env.world.advance(30 * MIN);
    const o = await env.rt.kernel.govern(call('helper', transfer(100)));
    expect(o.reasons).toEqual(['DELEGATION_EXPIRED']);
    expect(await env.rt.kernel.expireDelegations()).toBe(2);
    expect(events(env.rt).filter((e) => e.type === 'DelegationExpired').map((e) => e.agent).sort()).toEqual(['helper', 'lead']);
  });

  it('revoking a parent revokes its subtree and their keys; their next calls are refused with DELEGATION_REVOKED', async () => {
    const env = await setupRuntime(DELEGATING_ALICE);
    await delegate(env, 'alice', workerRequest('lead', 5_000, 10_000, { may_delegate: true, max_depth: 1 }));
    await delegate(env, 'lead', workerRequest('helper', 1_000, 2_000, { expires_in_minutes: 20 }));
    const { agentKeyUnit } = await import('../../src/http/api-keys.js');
    const key = agentKeyUnit(env.rt.kernel.deps.world, 'helper', 'operator:test', null);
    await env.rt.store.commit(key.unit);
    expect((await env.rt.kernel.govern(call('helper', transfer(100)))).verdict).toBe('accepted');

    const ended = await env.rt.kernel.revokeDelegation('lead', { kind: 'operator', id: 'ops' }, 'done');
    expect(ended.map((r) => r.child)).toEqual(['lead', 'helper']);
    expect((await env.rt.kernel.govern(call('helper', transfer(100)))).reasons).toEqual(['DELEGATION_REVOKED']);
    expect((await env.rt.kernel.govern(call('lead', transfer(100)))).reasons).toEqual(['DELEGATION_REVOKED']);
    expect((await env.rt.store.credentials.get(key.id))?.revoked_at).not.toBeNull();
    const revoked = events(env.rt).filter((e) => e.type === 'DelegationRevoked');
    expect(revoked.map((e) => [e.agent, e.data['cascade_from'] ?? null])).toEqual([['lead', null], ['helper', 'lead']]);
    // A child may not revoke its parent, nor a sibling.
    await expect(env.rt.kernel.revokeDelegation('alice', { kind: 'agent', id: 'helper' }, null)).rejects.toThrow(/no sub-mandate/);
  });

  it('suspending or pausing the parent stops its whole subtree at the next call', async () => {
    const env = await setupRuntime(DELEGATING_ALICE);
    await delegate(env, 'alice', workerRequest('worker-1'));
    await delegate(env, 'alice', workerRequest('worker-2'));
    await intervene(env.rt.kernel, { kind: 'operator', id: 'ops' }, { act: 'pause', target: { agent: 'alice' }, reason: 'stop' });
    for (const w of ['worker-1', 'worker-2']) {
      const o = await env.rt.kernel.govern(call(w, transfer(100)));
      expect(o.reasons).toEqual(['AGENT_PAUSED']);
      expect(o.details[0]?.message).toContain('ancestor `alice`');
    }
    await intervene(env.rt.kernel, { kind: 'operator', id: 'ops' }, { act: 'resume', target: { agent: 'alice' }, reason: 'go' });
    expect((await env.rt.kernel.govern(call('worker-1', transfer(100)))).verdict).toBe('accepted');
  });

  it('an escalation of a child goes to the approvers of the root: neither the child, a sibling, nor the parent can decide it', async () => {
    // The template's supervisor approves alice's escalations, so it decides her workers' too.
    const env = await setupRuntime({
      // alice herself is made a supervisor (one that approves scribe), to prove she still may not approve her own subtree.
      'contracts/alice.yaml': (t) => DELEGATING_ALICE['contracts/alice.yaml'](t.replace('role: agent ', 'role: supervisor ').replace('grants:\n', 'approves: [scribe]\ngrants:\n')),
    });
    await delegate(env, 'alice', workerRequest('worker-1', 20_000, 40_000));
    await delegate(env, 'alice', workerRequest('worker-2', 20_000, 40_000));
    const o = await env.rt.kernel.govern(call('worker-1', transfer(15_000)));
    expect(o.verdict).toBe('escalated');
    for (const who of ['worker-1', 'worker-2', 'alice']) {
      const r = await intervene(env.rt.kernel, { kind: 'agent', id: who }, { act: 'approve', target: { decision_id: o.decision_id }, reason: 'mine' });
      expect(r.reasons, who).toEqual(['INTERVENTION_NOT_ALLOWED']);
    }
    expect((await env.rt.store.decisions.get(o.decision_id))?.status).toBe('pending');
    expect(events(env.rt).filter((e) => e.type === 'InterventionRejected').length).toBe(3);
    const ok = await intervene(env.rt.kernel, { kind: 'agent', id: 'supervisor' }, { act: 'approve', target: { decision_id: o.decision_id }, reason: 'fine' });
    expect(ok.verdict).toBe('accepted');
    expect((await env.rt.store.decisions.get(o.decision_id))?.status).toBe('approved');
    expect(raw(env.rt).usage.sum('alice', 'payments.transfer', 'amount_minor', 86_400_000, env.world.now())).toBe(15_000);
  });
});
