// Who may do what: every role violation is tried through the kernel
// and refused, recorded as an issued-then-rejected intervention, and leaves
// the target exactly as it was.
import { describe, expect, it } from 'vitest';
import { interventionAllowed, type InterventionAct, type Principal } from '../../src/kernel/interventions.js';
import type { AgentStatus } from '../../src/store/port/index.js';
import { call, readBook, replaceOnce, traceparent, transfer } from './helpers.js';
import { act, agent, expectRefused, oversightEdits, operator, setup, typesOf } from './oversight-fixtures.js';

const SUP = { role: 'supervisor', supervises: ['alice', 'scribe'], approves: ['alice'] };
const AGENT = { role: 'agent', supervises: [] as string[], approves: [] as string[] };

describe('interventionAllowed: approvals, constraints and suspensions (pure)', () => {
  type Contract = { role: string; supervises: string[]; approves: string[] } | undefined;
  type Row = [string, Principal, InterventionAct, string, Contract, AgentStatus | 'flow', boolean];
  const table: Row[] = [
    ['a supervisor approves an agent listed in approves', agent('supervisor'), 'approve', 'alice', SUP, 'active', true],
    ['a supervisor denies an agent listed in approves', agent('supervisor'), 'deny', 'alice', SUP, 'active', true],
    ['a supervisor may not approve an agent missing from approves, even one it supervises', agent('supervisor'), 'approve', 'scribe', SUP, 'active', false],
    ['no agent decides its own escalation, even when listed in its own approves', agent('supervisor'), 'approve', 'supervisor', { ...SUP, approves: ['supervisor'] }, 'active', false],
    ['an agent never denies its own escalation', agent('alice'), 'deny', 'alice', AGENT, 'active', false],
    ['a role agent with an approves list is still not an approver', agent('alice'), 'approve', 'scribe', { ...AGENT, approves: ['scribe'] }, 'active', false],
    ['a supervisor may not lift a drift suspension', agent('supervisor'), 'resume', 'alice', SUP, 'suspended', false],
    ['an operator lifts a drift suspension', operator, 'resume', 'alice', undefined, 'suspended', true],
    ['an agent may constrain (tighten) itself', agent('alice'), 'constrain', 'alice', AGENT, 'active', true],
    ['an agent may not constrain another agent', agent('alice'), 'constrain', 'scribe', AGENT, 'active', false],
    ['an agent may not redirect another agent', agent('alice'), 'redirect', 'scribe', AGENT, 'active', false],
    ['an agent may terminate its own flow', agent('alice'), 'terminate', 'alice', AGENT, 'flow', true],
    ['an agent may not resume its own flow', agent('alice'), 'resume', 'alice', AGENT, 'flow', false],
    ['a supervisor may constrain an agent it supervises', agent('supervisor'), 'constrain', 'scribe', SUP, 'active', true],
    ['a supervisor may not pause a terminated agent (no two-step revival)', agent('supervisor'), 'pause', 'alice', SUP, 'terminated', false],
    ['a supervisor may not pause a drift-suspended agent (no two-step revival)', agent('supervisor'), 'pause', 'alice', SUP, 'suspended', false],
    ['a drift-suspended agent may not pause itself', agent('alice'), 'pause', 'alice', AGENT, 'suspended', false],
  ];
  it.each(table)('%s', (_name, principal, a, target, contract, status, ok) => {
    const r = interventionAllowed(principal, a, target, contract, status);
    expect(r.ok).toBe(ok);
    if (!r.ok) expect(r.message.length).toBeGreaterThan(0);
  });

  it('a terminated flow is moved by an operator only', () => {
    expect(interventionAllowed(agent('supervisor'), 'resume', 'alice', SUP, 'flow', 'terminated').ok).toBe(false);
    expect(interventionAllowed(agent('supervisor'), 'pause', 'alice', SUP, 'flow', 'terminated').ok).toBe(false);
    expect(interventionAllowed(agent('supervisor'), 'resume', 'alice', SUP, 'flow', 'paused').ok).toBe(true);
    expect(interventionAllowed(operator, 'resume', 'alice', undefined, 'flow', 'terminated').ok).toBe(true);
  });
});

describe('role violations through the kernel are refused and recorded', () => {
  it('an agent that paused itself cannot resume itself', async () => {
    const env = await setup();
    expect((await act(env, agent('alice'), { act: 'pause', target: { agent: 'alice' }, reason: 'looping' })).verdict).toBe('accepted');
    await expectRefused(env, await act(env, agent('alice'), { act: 'resume', target: { agent: 'alice' }, reason: 'fine now' }), 'INTERVENTION_NOT_ALLOWED');
    expect((await env.rt.store.agents.status('alice'))).toBe('paused');
  });

  it('an agent cannot approve or deny its own escalation through intervene; it stays pending and nothing runs', async () => {
    const env = await setup();
    const esc = await env.rt.kernel.govern(call('alice', transfer(20_000)));
    expect(esc.verdict).toBe('escalated');
    await expectRefused(env, await act(env, agent('alice'), { act: 'approve', target: { decision_id: esc.decision_id }, reason: 'I approve myself' }), 'INTERVENTION_NOT_ALLOWED');
    await expectRefused(env, await act(env, agent('alice'), { act: 'deny', target: { decision_id: esc.decision_id }, reason: 'never mind' }), 'INTERVENTION_NOT_ALLOWED');
    expect((await env.rt.store.decisions.get(esc.decision_id))?.status).toBe('pending');
    expect(typesOf(env.rt, esc.decision_id)).not.toContain('ActionStarted');
    expect(readBook(env.dir).transfers).toHaveLength(0);
  });

  it('a supervisor cannot approve an agent missing from its approves list, nor can a plain agent', async () => {
    const env = await setup(oversightEdits({ 'contracts/supervisor.yaml': replaceOnce('approves: [alice, scribe]', 'approves: [scribe]') }));
    const esc = await env.rt.kernel.govern(call('alice', transfer(20_000)));
    expect(esc.verdict).toBe('escalated');
    await expectRefused(env, await act(env, agent('supervisor'), { act: 'approve', target: { decision_id: esc.decision_id }, reason: 'looks fine' }), 'INTERVENTION_NOT_ALLOWED');
    await expectRefused(env, await act(env, agent('scribe'), { act: 'approve', target: { decision_id: esc.decision_id }, reason: 'helping' }), 'INTERVENTION_NOT_ALLOWED');
    expect((await env.rt.store.decisions.get(esc.decision_id))?.status).toBe('pending');
    expect(readBook(env.dir).transfers).toHaveLength(0);
    // The same supervisor may decide for scribe, whom it does approve.
    const del = await env.rt.kernel.govern(call('scribe', { capability: 'files.delete', params: { path: 'README.md' } }));
    expect(del.verdict).toBe('escalated');
    const ok = await act(env, agent('supervisor'), { act: 'deny', target: { decision_id: del.decision_id }, reason: 'keep it' });
    expect(ok).toMatchObject({ verdict: 'accepted', output: { act: 'deny', decision: { status: 'denied', reasons: ['ESCALATION_DENIED'] } } });
  });

  it('a supervisor cannot resume a terminated agent or a drift-suspended one; an operator can', async () => {
    const env = await setup();
    expect((await act(env, agent('supervisor'), { act: 'terminate', target: { agent: 'scribe' }, reason: 'rogue' })).verdict).toBe('accepted');
    await expectRefused(env, await act(env, agent('supervisor'), { act: 'resume', target: { agent: 'scribe' }, reason: 'oops' }), 'INTERVENTION_NOT_ALLOWED');
    expect((await env.rt.store.agents.status('scribe'))).toBe('terminated');

    // tester's monitor: the average of the last 3 samples above 10 suspends it.
    for (const [n, v] of [[1, 20], [2, 20], [3, 20]] as const) await env.rt.kernel.govern(call('tester', { capability: 'test.metric', params: { n, v } }));
    expect((await env.rt.store.agents.status('tester'))).toBe('suspended');
    await expectRefused(env, await act(env, agent('supervisor'), { act: 'resume', target: { agent: 'tester' }, reason: 'looks ok' }), 'INTERVENTION_NOT_ALLOWED');
    await expectRefused(env, await act(env, agent('tester'), { act: 'resume', target: { agent: 'tester' }, reason: 'let me out' }), 'INTERVENTION_NOT_ALLOWED');
    expect((await env.rt.store.agents.status('tester'))).toBe('suspended');

    expect((await act(env, operator, { act: 'resume', target: { agent: 'scribe' }, reason: 'reviewed' })).verdict).toBe('accepted');
    expect((await act(env, operator, { act: 'resume', target: { agent: 'tester' }, reason: 'reviewed' })).verdict).toBe('accepted');
    expect((await env.rt.store.agents.status('scribe'))).toBe('active');
    expect((await env.rt.store.agents.status('tester'))).toBe('active');
  });

  it('an agent cannot constrain, redirect or pause another agent, or another agent\'s flow', async () => {
    const env = await setup();
    const scribeCall = await env.rt.kernel.govern(call('scribe', { capability: 'files.write', params: { path: 'a.md', content: 'x' } }, { traceparent: traceparent('5'.repeat(32)) }));
    expect(scribeCall.verdict).toBe('accepted');
    await expectRefused(env, await act(env, agent('alice'), { act: 'constrain', target: { agent: 'scribe' }, reason: 'x', constrain: { capability: 'files.write', field: 'bytes', max: 1 } }), 'INTERVENTION_NOT_ALLOWED');
    await expectRefused(env, await act(env, agent('alice'), { act: 'redirect', target: { agent: 'scribe' }, reason: 'x', redirect: { note: 'stop' } }), 'INTERVENTION_NOT_ALLOWED');
    await expectRefused(env, await act(env, agent('alice'), { act: 'pause', target: { dfid: scribeCall.dfid, agent: 'scribe' }, reason: 'x' }), 'INTERVENTION_NOT_ALLOWED');
    // Without an agent, a flow act by an agent concerns only its own calls in that flow (a shared trace id gives no reach).
    expect((await env.rt.kernel.govern(call('alice', transfer(100), { traceparent: traceparent('5'.repeat(32)) }))).verdict).toBe('accepted');
    expect((await act(env, agent('alice'), { act: 'terminate', target: { dfid: scribeCall.dfid }, reason: 'x' })).verdict).toBe('accepted');
    expect((await env.rt.store.agents.flowStatus(scribeCall.dfid, 'alice'))).toBe('terminated');
    expect((await env.rt.store.agents.constraints('scribe', 'files.write', env.world.now()))).toEqual([]);
    expect((await env.rt.store.agents.flowStatus(scribeCall.dfid, 'scribe'))).toBe('active');
    const next = await env.rt.kernel.govern(call('scribe', { capability: 'files.write', params: { path: 'b.md', content: 'xx' } }, { traceparent: traceparent('5'.repeat(32)) }));
    expect(next.verdict).toBe('accepted');
    expect(next.operator_note).toBeUndefined();
  });

  it('a constraint can only tighten: above the contract cap it is refused, for a supervisor and for the agent itself', async () => {
    const env = await setup();
    const widen = (who: Principal, max: number) =>
      act(env, who, { act: 'constrain', target: { agent: 'alice' }, reason: 'x', constrain: { capability: 'payments.transfer', field: 'amount_minor', max } });
    // alice's contract caps amount_minor at 50000.
    await expectRefused(env, await widen(agent('supervisor'), 60_000), 'INTERVENTION_NOT_ALLOWED');
    await expectRefused(env, await widen(agent('alice'), 50_001), 'INTERVENTION_NOT_ALLOWED');
    await expectRefused(env, await widen(operator, 1_000_000), 'INTERVENTION_NOT_ALLOWED');
    await expectRefused(env, await widen(operator, Number.POSITIVE_INFINITY), 'INTERVENTION_NOT_ALLOWED');
    await expectRefused(env, await act(env, operator, { act: 'constrain', target: { agent: 'alice' }, reason: 'x', constrain: { capability: 'files.write', field: 'bytes', max: 1 } }), 'CAPABILITY_NOT_GRANTED');
    expect((await env.rt.store.agents.constraints('alice', 'payments.transfer', env.world.now()))).toEqual([]);
    // The contract still holds as written: 50000 passes DIM (and escalates as the contract says).
    expect((await env.rt.kernel.govern(call('alice', transfer(50_000)))).verdict).toBe('escalated');
    expect((await env.rt.kernel.govern(call('alice', transfer(50_001)))).reasons).toEqual(['CONTRACT_LIMIT_EXCEEDED']);
    // Tightening within the contract is allowed, even for the agent itself.
    expect((await widen(agent('alice'), 50_000)).verdict).toBe('accepted');
    expect((await widen(agent('alice'), 5_000)).verdict).toBe('accepted');
  });

  it('redirect and constrain target an agent, never a flow', async () => {
    const env = await setup();
    const o = await env.rt.kernel.govern(call('alice', transfer(100), { traceparent: traceparent('6'.repeat(32)) }));
    expect(o.verdict).toBe('accepted');
    await expectRefused(env, await act(env, operator, { act: 'redirect', target: { dfid: o.dfid }, reason: 'x', redirect: { note: 'use the other account' } }), 'SCHEMA_INVALID');
    await expectRefused(env, await act(env, agent('supervisor'), { act: 'redirect', target: { dfid: o.dfid }, reason: 'x', redirect: { note: 'n' } }), 'SCHEMA_INVALID');
    expectRefused(
      env,
      await act(env, operator, { act: 'constrain', target: { dfid: o.dfid }, reason: 'x', constrain: { capability: 'payments.transfer', field: 'amount_minor', max: 10 } }),
      'SCHEMA_INVALID',
    );
    await expectRefused(env, await act(env, operator, { act: 'redirect', target: { agent: 'alice' }, reason: 'x', redirect: { note: '' } }), 'SCHEMA_INVALID');
    const next = await env.rt.kernel.govern(call('alice', transfer(101), { traceparent: traceparent('6'.repeat(32)) }));
    expect(next.verdict).toBe('accepted');
    expect(next.operator_note).toBeUndefined();
  });

  it('a suspended or paused agent cannot intervene on others; interventions on unknown targets are refused', async () => {
    const env = await setup();
    await act(env, operator, { act: 'pause', target: { agent: 'supervisor' }, reason: 'audit' });
    await expectRefused(env, await act(env, agent('supervisor'), { act: 'terminate', target: { agent: 'alice' }, reason: 'x' }), 'AGENT_PAUSED');
    expect((await env.rt.store.agents.status('alice'))).toBe('active');
    await expectRefused(env, await act(env, operator, { act: 'pause', target: { dfid: 'a'.repeat(32) }, reason: 'x' }), 'UNKNOWN_AGENT');
    await expectRefused(env, await act(env, operator, { act: 'approve', target: { decision_id: 'no-such-decision' }, reason: 'x' }), 'DECISION_NOT_FOUND');
    expect((await env.rt.store.ledger.verify()).ok).toBe(true);
  });
});
