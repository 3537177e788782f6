import { afterEach, describe, expect, it } from 'vitest';
import { hashOf } from '../../src/core/canonical.js';
import { intervene, interventionAllowed, type InterventionAct, type Principal } from '../../src/kernel/interventions.js';
import type { Runtime } from '../../src/runtime.js';
import type { AgentStatus } from '../../src/store/port/index.js';
import { call, copyTemplate, FakeWorld, openTest, transfer, raw } from './helpers.js';

const agent = (id: string): Principal => ({ kind: 'agent', id });
const operator: Principal = { kind: 'operator', id: 'ops' };
const AGENT = { role: 'agent', supervises: [] as string[], approves: [] as string[] };
const SUPERVISOR = { role: 'supervisor', supervises: ['alice', 'scribe'], approves: [] as string[] };

describe('interventionAllowed (pure role table)', () => {
  type Row = [string, Principal, InterventionAct, string, { role: string; supervises: string[]; approves: string[] } | undefined, AgentStatus | 'flow', boolean];
  const table: Row[] = [
    ['an operator may pause anyone', operator, 'pause', 'alice', undefined, 'active', true],
    ['an operator may resume anyone', operator, 'resume', 'alice', undefined, 'paused', true],
    ['only an operator lifts a termination (operator)', operator, 'resume', 'alice', undefined, 'terminated', true],
    ['an operator may terminate anyone', operator, 'terminate', 'supervisor', undefined, 'active', true],
    ['an agent may pause itself', agent('alice'), 'pause', 'alice', AGENT, 'active', true],
    ['an agent never resumes itself', agent('alice'), 'resume', 'alice', AGENT, 'paused', false],
    ['an agent never terminates itself', agent('alice'), 'terminate', 'alice', AGENT, 'active', false],
    ['a supervisor never resumes itself', agent('supervisor'), 'resume', 'supervisor', SUPERVISOR, 'paused', false],
    ['an agent may not pause another agent', agent('alice'), 'pause', 'scribe', AGENT, 'active', false],
    ['a role agent with a supervises list is still not a supervisor', agent('alice'), 'pause', 'scribe', { role: 'agent', supervises: ['scribe'], approves: [] }, 'active', false],
    ['a supervisor may pause an agent it supervises', agent('supervisor'), 'pause', 'alice', SUPERVISOR, 'active', true],
    ['a supervisor may resume an agent it supervises', agent('supervisor'), 'resume', 'alice', SUPERVISOR, 'paused', true],
    ['a supervisor may terminate an agent it supervises', agent('supervisor'), 'terminate', 'scribe', SUPERVISOR, 'active', true],
    ['a supervisor may not act on an agent outside supervises', agent('supervisor'), 'pause', 'bob', SUPERVISOR, 'active', false],
    ['a supervisor may not lift a termination', agent('supervisor'), 'resume', 'alice', SUPERVISOR, 'terminated', false],
    ['an agent without a contract may do nothing', agent('ghost'), 'pause', 'ghost', undefined, 'active', false],
    ['an agent may cancel (withdraw) its own escalation', agent('alice'), 'cancel', 'alice', AGENT, 'active', true],
    ['a terminated agent may still withdraw its own escalation', agent('alice'), 'cancel', 'alice', AGENT, 'terminated', true],
    ["an agent may not cancel another agent's escalation", agent('alice'), 'cancel', 'scribe', AGENT, 'active', false],
    ['a supervisor cancels only escalations of agents it approves', agent('supervisor'), 'cancel', 'alice', SUPERVISOR, 'active', false],
    ['a supervisor that approves an agent may cancel its escalation', agent('supervisor'), 'cancel', 'alice', { ...SUPERVISOR, approves: ['alice'] }, 'active', true],
  ];
  it.each(table)('%s', (_name, principal, act, target, contract, status, ok) => {
    const r = interventionAllowed(principal, act, target, contract, status);
    expect(r.ok).toBe(ok);
    if (!r.ok) expect(r.message.length).toBeGreaterThan(0);
  });
});

describe('intervene (through the kernel and the ledger)', () => {
  let rt: Runtime;
  let cleanup: () => void;
  afterEach(async () => {
    await rt.close();
    cleanup();
  });

  async function open(): Promise<Runtime> {
    const ws = copyTemplate();
    cleanup = ws.cleanup;
    rt = await openTest(ws.dir, new FakeWorld());
    return rt;
  }

  it('an agent may pause itself but never resume itself; its supervisor may', async () => {
    await open();
    const paused = await intervene(rt.kernel, agent('alice'), { act: 'pause', target: { agent: 'alice' }, reason: 'I am looping' });
    expect(paused).toMatchObject({ verdict: 'accepted', output: { act: 'pause', target: 'alice', agent_status: 'paused' } });
    expect((await rt.store.agents.status('alice'))).toBe('paused');

    const self = await intervene(rt.kernel, agent('alice'), { act: 'resume', target: { agent: 'alice' }, reason: 'I am fine now' });
    expect(self).toMatchObject({ verdict: 'rejected', reasons: ['INTERVENTION_NOT_ALLOWED'] });
    expect((await rt.store.agents.status('alice'))).toBe('paused');
    expect((await rt.kernel.govern(call('alice', transfer(100)))).reasons).toEqual(['AGENT_PAUSED']);

    expect((await intervene(rt.kernel, agent('supervisor'), { act: 'resume', target: { agent: 'alice' }, reason: 'checked' })).verdict).toBe('accepted');
    expect((await rt.store.agents.status('alice'))).toBe('active');
    expect((await rt.kernel.govern(call('alice', transfer(100)))).verdict).toBe('accepted');
  });

  it('only an operator lifts a termination', async () => {
    await open();
    expect((await intervene(rt.kernel, agent('supervisor'), { act: 'terminate', target: { agent: 'scribe' }, reason: 'rogue' })).verdict).toBe('accepted');
    expect((await rt.kernel.govern(call('scribe', { capability: 'files.write', params: { path: 'a.md', content: 'x' } }))).reasons).toEqual(['AGENT_TERMINATED']);
    expect((await intervene(rt.kernel, agent('supervisor'), { act: 'resume', target: { agent: 'scribe' }, reason: 'oops' })).reasons).toEqual(['INTERVENTION_NOT_ALLOWED']);
    expect((await intervene(rt.kernel, agent('scribe'), { act: 'resume', target: { agent: 'scribe' }, reason: 'let me out' })).reasons).toEqual(['INTERVENTION_NOT_ALLOWED']);
    expect((await rt.store.agents.status('scribe'))).toBe('terminated');
    expect((await intervene(rt.kernel, operator, { act: 'resume', target: { agent: 'scribe' }, reason: 'reviewed' })).verdict).toBe('accepted');
    expect((await rt.store.agents.status('scribe'))).toBe('active');
  });

  it('a supervisor acts only over agents in supervises; a plain agent over nobody else', async () => {
    await open();
    expect((await intervene(rt.kernel, agent('alice'), { act: 'pause', target: { agent: 'scribe' }, reason: 'x' })).reasons).toEqual(['INTERVENTION_NOT_ALLOWED']);
    expect((await intervene(rt.kernel, agent('scribe'), { act: 'terminate', target: { agent: 'supervisor' }, reason: 'x' })).reasons).toEqual(['INTERVENTION_NOT_ALLOWED']);
    expect((await intervene(rt.kernel, agent('supervisor'), { act: 'pause', target: { agent: 'nobody' }, reason: 'x' })).reasons).toEqual(['UNKNOWN_AGENT']);
    expect((await rt.store.agents.status('scribe'))).toBe('active');
    expect((await rt.store.agents.status('supervisor'))).toBe('active');
  });

  it('a paused supervisor can still pause itself but nothing else', async () => {
    await open();
    await intervene(rt.kernel, operator, { act: 'pause', target: { agent: 'supervisor' }, reason: 'audit' });
    expect((await intervene(rt.kernel, agent('supervisor'), { act: 'pause', target: { agent: 'alice' }, reason: 'x' })).reasons).toEqual(['AGENT_PAUSED']);
    expect((await intervene(rt.kernel, agent('supervisor'), { act: 'pause', target: { agent: 'supervisor' }, reason: 'x' })).verdict).toBe('accepted');
    expect((await rt.store.agents.status('alice'))).toBe('active');
  });

  it('records issued and applied interventions with the reason as a hash only', async () => {
    await open();
    const o = await intervene(rt.kernel, agent('supervisor'), { act: 'pause', target: { agent: 'alice' }, reason: 'SECRET-REASON-991' });
    const evs = (await rt.store.ledger.page(0, 100)).filter((e) => e.decision_id === o.decision_id);
    expect(evs.map((e) => e.type)).toEqual(['InterventionIssued', 'InterventionAcknowledged', 'InterventionApplied']);
    expect(evs[0]?.data).toEqual({ act: 'pause', target_kind: 'agent', target_hash: hashOf('alice'), role: 'supervisor', reason_hash: hashOf('SECRET-REASON-991') });
    expect(evs[2]?.data).toEqual({ act: 'pause', target_kind: 'agent', from: 'active', to: 'paused' });
    expect(JSON.stringify(raw(rt).db.prepare('SELECT * FROM events').all())).not.toContain('SECRET-REASON-991');
    expect((await rt.store.agents.interventions())).toMatchObject([{ id: o.decision_id, target_agent: 'alice', act: 'pause', issued_by: 'supervisor', issuer_role: 'supervisor', state: 'applied' }]);
    const refused = await intervene(rt.kernel, agent('alice'), { act: 'resume', target: { agent: 'alice' }, reason: 'x' });
    expect((await rt.store.ledger.page(0, 100)).filter((e) => e.decision_id === refused.decision_id).map((e) => e.type)).toEqual(['InterventionIssued', 'InterventionRejected']);
    expect((await rt.store.agents.interventions()).find((i) => i.id === refused.decision_id)).toMatchObject({ act: 'resume', issued_by: 'alice', state: 'rejected' });
    expect((await rt.store.ledger.verify()).ok).toBe(true);
  });
});
