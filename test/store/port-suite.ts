// One behavioural suite for every implementation of the store port (ADR-010).
import { describe, expect, it } from 'vitest';
import type { Outcome } from '../../src/core/types.js';
import type { Op, OpHandlers, OpKind, OpOf, StorePort } from '../../src/store/port/index.js';

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

/**
 * One case per op kind: the units that stage it, the op, and what reading the
 * store back must show. Keyed by every kind, so a new op does not compile until
 * it has a case here, and then runs on every store (ADR-021).
 */
type OpCase<K extends OpKind> = { before?: Op[]; op: OpOf<K>; check(store: StorePort, result: Map<number, unknown>): Promise<void> };
const D = 'f'.repeat(32);
const intent = { capability: 'c', params: { amount: 1 } } as never;
const interventionRow = { id: 'i9', dfid: D, target_kind: 'agent' as const, target: 'alice', target_agent: 'alice', act: 'pause', args: '{}', issued_by: 'op', issuer_role: 'operator', state: 'pending' as const, reason_hash: null, created_at: T, updated_at: T, expires_at: T + 1000 };
const policyInput = (decision_id: string) => ({ decision_id, capability: 'payments.transfer', verdict: 'permit', gates: ['g1'], input: '{"context":{}}', input_hash: 'h'.repeat(64) });
/** A decision of `agent` made at `at`, with no capability yet (a free-text intent's): its policy input names it. */
const opened = (id: string, at: number, agent = 'alice'): Op => ({ op: 'decision.open', id, dfid: D, agent, capability: null, request_hash: 'h', created_at: at });
/** A policy input as read back: its decision's flow, agent and time. */
const inputRead = (decision_id: string, at: number, agent = 'alice') => ({ ...policyInput(decision_id), dfid: D, agent, at });
const taskRow = { id: 't9', agent: 'alice', decision_id: 'd9', result_form: 'outcome' as const, status: 'working' as const, status_message: null, ttl_ms: 60_000, poll_ms: 500, created_at: T, updated_at: T, expires_at: T + 60_000 };
const delegationRow = { id: 'dlg-1', child: 'w1', parent: 'alice', root: 'alice', depth: 1, max_depth: 1, may_delegate: 0, purpose: 'p', grants: '[]', memory: '[]', created_at: T, expires_at: T + 60_000, created_by: 'agent:alice', decision_id: 'd1' };
const credentialRow = { id: 'k9', kind: 'agent' as const, principal: 'alice', role: 'agent' as const, key_hash: 'h'.repeat(64), key_prefix: 'mk_', label: null, created_at: T, created_by: 'op' };
const pending = { intent, facts: { balance: 5 }, facts_hash: 'fh', expires_at: T + 1000 };
const escalated = { verdict: 'escalated', reasons: [], details: [], dfid: D, decision_id: 'd9', capability: 'c', idempotency_key: 'k', status: 'pending', policies: ['p'], receipt: null } as unknown as Outcome;
const planRow = { id: 'p9', agent: 'alice', child: 'alice/plan/p9', digest: 'dg', status: 'running' as const, request: '{}', decision_id: 'd9', created_at: T, expires_at: T + 60_000 };
const EVERY_OP: { [K in OpKind]: OpCase<K> } = {
  event: { op: { op: 'event', event: { dfid: D, agent: 'alice', type: 'IntentReceived', decision_id: 'd9' } }, check: async (s) => expect((await s.ledger.page(0, 5)).map((e) => e.type)).toEqual(['IntentReceived']) },
  'decision.open': { op: received('d9')[1] as OpOf<'decision.open'>, check: async (s) => expect(await s.decisions.get('d9')).toMatchObject({ status: 'rejected', agent: 'alice', capability: 'c' }) },
  'decision.finish': { before: [received('d9')[1] as Op], op: finish('d9') as OpOf<'decision.finish'>, check: async (s) => expect((await s.decisions.get('d9'))?.outcome?.status).toBe('accepted') },
  'decision.resolve': {
    before: [received('d9')[1] as Op, { op: 'decision.finish', id: 'd9', outcome: () => escalated, pending }],
    op: { op: 'decision.resolve', id: 'd9', status: 'denied', by: 'op', note: 'no', at: T + 1 },
    check: async (s) => expect(await s.decisions.get('d9')).toMatchObject({ status: 'denied', resolved_by: 'op', resolution_note: 'no', facts: { balance: 5 } }),
  },
  'decision.review': {
    before: [received('d9')[1] as Op, { op: 'decision.finish', id: 'd9', outcome: () => escalated, pending }],
    op: { op: 'decision.review', id: 'd9', review: { risk: 'low', summary: 's', model: 'm', route: 'r', at: T } },
    check: async (s, r) => {
      expect(r.get(0)).toBe(true);
      expect((await s.decisions.get('d9'))?.review).toEqual({ risk: 'low', summary: 's', model: 'm', route: 'r', at: T });
    },
  },
  'decision.running': { before: [received('d9')[1] as Op], op: { op: 'decision.running', id: 'd9', runner: 'r1', key: 'k', intent }, check: async (s) => expect((await s.decisions.started()).map((d) => [d.id, d.runner, d.idempotency_key, d.intent])).toEqual([['d9', 'r1', 'k', intent]]) },
  'decision.transition': {
    before: [received('d9')[1] as Op, { op: 'decision.running', id: 'd9', runner: 'r1', key: 'k', intent }],
    op: { op: 'decision.transition', id: 'd9', from: 'running', to: 'outcome_unknown' },
    check: async (s) => expect((await s.decisions.get('d9'))?.status).toBe('outcome_unknown'),
  },
  'runner.beat': { op: { op: 'runner.beat', row: { id: 'r1', host: 'h', pid: 7, started_at: T, heartbeat_at: T + 5 } }, check: async (s) => expect(await s.runners.list()).toEqual([{ id: 'r1', host: 'h', pid: 7, started_at: T, heartbeat_at: T + 5 }]) },
  'runner.remove': { before: [{ op: 'runner.beat', row: { id: 'r1', host: 'h', pid: 7, started_at: T, heartbeat_at: T } }], op: { op: 'runner.remove', id: 'r1' }, check: async (s) => expect(await s.runners.list()).toEqual([]) },
  'key.reserve': { op: reserve('d9', 'k') as OpOf<'key.reserve'>, check: async (s) => expect((await s.idempotency.peek('alice', 'k', T))?.state).toBe('in_flight') },
  'key.state': { before: [reserve('d9', 'k')], op: { op: 'key.state', agent: 'alice', key: 'k', state: 'done', decision_id: 'd10' }, check: async (s) => expect(await s.idempotency.peek('alice', 'k', T)).toMatchObject({ state: 'done', decision_id: 'd10' }) },
  'key.release': { before: [reserve('d9', 'k')], op: { op: 'key.release', agent: 'alice', key: 'k', decision_id: 'd9' }, check: async (s) => expect(await s.idempotency.peek('alice', 'k', T)).toBeNull() },
  'flow.bump': { op: { op: 'flow.bump', dfid: D, max: 1 }, check: async (s) => expect(await s.commit([{ op: 'flow.bump', dfid: D, max: 1 }])).toMatchObject({ ok: false, conflict: { kind: 'flow_limit', count: 2 } }) },
  'note.take': {
    before: [{ op: 'note.add', row: { intervention_id: 'n1', agent: 'alice', note: 'hello', created_at: T, expires_at: T + 10 } }],
    op: { op: 'note.take', agent: 'alice', now: T + 1 },
    check: async (s) => expect(await s.commit([{ op: 'note.take', agent: 'alice', now: T + 2 }])).toMatchObject({ ok: true, note: undefined }),
  },
  'note.add': {
    op: { op: 'note.add', row: { intervention_id: 'n1', agent: 'alice', note: 'hello', created_at: T, expires_at: T + 10 } },
    check: async (s) => expect(await s.commit([{ op: 'note.take', agent: 'alice', now: T + 1 }])).toMatchObject({ ok: true, note: 'hello' }),
  },
  'usage.add': { op: { op: 'usage.add', agent: 'alice', capability: 'c', field: 'amount', amount: 3, at: T }, check: async (s) => expect(await s.usage.sum('alice', 'c', 'amount', 60_000, T)).toBe(3) },
  'usage.admit': {
    before: [{ op: 'usage.add', agent: 'alice', capability: 'c', field: 'amount', amount: 3, at: T }],
    op: { op: 'usage.admit', agent: 'alice', capability: 'c', at: T, budgets: [{ window: '1h', windowMs: 3_600_000, field: 'amount', amount: 2, max: 5 }] },
    check: async (s) =>
      expect(await s.commit([{ op: 'usage.admit', agent: 'alice', capability: 'c', at: T, budgets: [{ window: '1h', windowMs: 3_600_000, field: 'amount', amount: 3, max: 5 }] }])).toMatchObject({
        ok: false,
        conflict: { kind: 'budget_exceeded', window: '1h', field: 'amount', used: 3, max: 5 },
      }),
  },
  'monitors.observe': { op: { op: 'monitors.observe', agent: 'alice', evaluate: (w) => w.sample('alice', 'm', 4, T, { last: 2 }) }, check: async (s, r) => {
    expect(r.get(0)).toEqual({ count: 1, sum: 4, max: 4, firstAt: T });
    expect(await s.monitors.executed('alice')).toBe(1);
    // Without `evaluate` (an agent with no drift monitors) the call is counted and no window is touched.
    const counted = await s.commit([{ op: 'monitors.observe', agent: 'alice' }]);
    expect(counted.ok).toBe(true);
    expect(counted.ok && counted.results.has(0)).toBe(false);
    expect(await s.monitors.executed('alice')).toBe(2);
    expect(await s.monitors.samples('alice', 'm')).toHaveLength(1);
  } },
  'monitors.reset': {
    before: [{ op: 'monitors.observe', agent: 'alice', evaluate: (w) => w.sample('alice', 'm', 4, T, { last: 2 }) }],
    op: { op: 'monitors.reset', agent: 'alice' },
    check: async (s) => {
      const r = await s.commit([{ op: 'monitors.observe', agent: 'alice', evaluate: (w) => w.sample('alice', 'm', 1, T + 1, { last: 2 }) }]);
      expect(r.ok && r.results.get(0)).toEqual({ count: 1, sum: 1, max: 1, firstAt: T + 1 });
    },
  },
  'agent.status': { op: { op: 'agent.status', agent: 'alice', status: 'suspended', by: 'op', reason_hash: null, at: T }, check: async (s) => expect(await s.agents.status('alice')).toBe('suspended') },
  'flow.status': { op: { op: 'flow.status', dfid: D, agent: 'alice', status: 'paused', at: T }, check: async (s) => expect([await s.agents.flowStatus(D, 'alice'), await s.agents.flowStatus(D, 'bob')]).toEqual(['paused', 'active']) },
  'intervention.add': { op: { op: 'intervention.add', row: interventionRow }, check: async (s) => expect(await s.agents.interventions()).toEqual([interventionRow]) },
  'intervention.state': { before: [{ op: 'intervention.add', row: interventionRow }], op: { op: 'intervention.state', id: 'i9', state: 'applied', at: T + 2 }, check: async (s) => expect(await s.agents.intervention('i9')).toMatchObject({ state: 'applied', updated_at: T + 2 }) },
  'interventions.expire': {
    before: [{ op: 'intervention.add', row: interventionRow }],
    op: { op: 'interventions.expire', now: T + 1000 },
    check: async (s, r) => {
      expect(r.get(0)).toBe(1);
      expect((await s.ledger.page(0, 5)).map((e) => [e.type, e.decision_id])).toEqual([['InterventionExpired', 'i9']]);
    },
  },
  'constraint.add': { op: { op: 'constraint.add', row: { intervention_id: 'i9', agent: 'alice', capability: 'c', field: 'amount', max: 2, expires_at: T + 5 } }, check: async (s) => expect((await s.agents.constraints('alice', 'c', T)).map((c) => c.max)).toEqual([2]) },
  'credential.add': { op: { op: 'credential.add', row: credentialRow }, check: async (s) => expect(await s.credentials.byHash('h'.repeat(64))).toEqual({ ...credentialRow, revoked_at: null, revoked_by: null }) },
  'credential.revoke': {
    before: [{ op: 'credential.add', row: credentialRow }],
    op: { op: 'credential.revoke', id: 'k9', by: 'op', at: T + 1 },
    check: async (s) => {
      expect(await s.credentials.byHash('h'.repeat(64))).toBeNull();
      expect(await s.credentials.get('k9')).toMatchObject({ revoked_at: T + 1, revoked_by: 'op' });
    },
  },
  'pins.replace': {
    before: [{ op: 'pins.replace', server: 'fs', rows: [{ tool: 'old', hash: 'h0', definition: { name: 'old', inputSchema: {} }, pinned_at: T, pinned_by: 'op' }] }],
    op: { op: 'pins.replace', server: 'fs', rows: [{ tool: 'read', hash: 'h1', definition: { name: 'read', inputSchema: { type: 'object' } }, pinned_at: T, pinned_by: 'op' }] },
    check: async (s) => {
      expect((await s.pins.list('fs')).map((p) => [p.tool, p.definition])).toEqual([['read', { name: 'read', inputSchema: { type: 'object' } }]]);
      expect(await s.pins.generation()).toBe('fs.read=h1');
    },
  },
  'policy_input.put': {
    before: [opened('d1', T), opened('d2', T + 5, 'bob'), opened('d0', T - 5)],
    op: { op: 'policy_input.put', row: policyInput('d1') },
    check: async (s) => {
      await s.commit([{ op: 'policy_input.put', row: { ...policyInput('d1'), verdict: 'forbid' } }]); // a second write of one decision changes nothing
      await s.commit([{ op: 'policy_input.put', row: policyInput('d2') }]);
      // In (at, decision_id) order; a decision without an input (d0, refused before the policy stage) is not one.
      expect(await s.policyInputs.list({ limit: 10 })).toEqual([inputRead('d1', T), inputRead('d2', T + 5, 'bob')]);
      expect((await s.decisions.get('d1'))?.capability).toBe('payments.transfer');
      expect((await s.policyInputs.list({ agent: 'bob', limit: 10 })).map((r) => r.decision_id)).toEqual(['d2']);
      expect((await s.policyInputs.list({ since: T + 1, capability: 'payments.transfer', limit: 10 })).map((r) => r.decision_id)).toEqual(['d2']);
      expect((await s.policyInputs.list({ after: { at: T, decision_id: 'd1' }, limit: 1 })).map((r) => r.decision_id)).toEqual(['d2']);
      // An input that names no decision has nowhere to be kept: its unit is refused, not silently emptied.
      expect(await s.commit([{ op: 'policy_input.put', row: policyInput('nope') }])).toMatchObject({ ok: false, conflict: { kind: 'not_found', id: 'nope' } });
    },
  },
  'policy_inputs.purge': {
    before: [opened('d1', T), opened('d2', T + 10), { op: 'policy_input.put', row: policyInput('d1') }, { op: 'policy_input.put', row: policyInput('d2') }],
    op: { op: 'policy_inputs.purge', before: T + 5 },
    check: async (s) => {
      expect((await s.policyInputs.list({ limit: 10 })).map((r) => r.decision_id)).toEqual(['d2']);
      // The decision stays; only what its policy request saw is cleared.
      expect(await s.decisions.get('d1')).toMatchObject({ id: 'd1', status: 'rejected', capability: 'payments.transfer' });
      // A later purge starts where this one stopped, and a shorter window still clears what it covers.
      expect((await s.commit([{ op: 'policy_inputs.purge', before: T }])).ok).toBe(true);
      expect((await s.policyInputs.list({ limit: 10 })).map((r) => r.decision_id)).toEqual(['d2']);
      expect((await s.commit([{ op: 'policy_inputs.purge', before: T + 11 }])).ok).toBe(true);
      expect(await s.policyInputs.list({ limit: 10 })).toEqual([]);
    },
  },
  'task.create': { op: { op: 'task.create', row: taskRow }, check: async (s) => expect(await s.tasks.get('alice', 't9', T)).toEqual({ ...taskRow, result: null }) },
  'task.status': { before: [{ op: 'task.create', row: taskRow }], op: { op: 'task.status', agent: 'alice', id: 't9', status: 'input_required', message: 'm', at: T + 1 }, check: async (s) => expect(await s.tasks.get('alice', 't9', T)).toMatchObject({ status: 'input_required', status_message: 'm' }) },
  'task.message': { before: [{ op: 'task.create', row: taskRow }], op: { op: 'task.message', agent: 'alice', id: 't9', message: '50%', at: T + 1 }, check: async (s) => expect(await s.tasks.get('alice', 't9', T)).toMatchObject({ status: 'working', status_message: '50%', updated_at: T + 1 }) },
  'task.finish': { before: [{ op: 'task.create', row: taskRow }], op: { op: 'task.finish', agent: 'alice', id: 't9', status: 'completed', result: { ok: 1 }, message: null, at: T + 1 }, check: async (s) => expect(await s.tasks.get('alice', 't9', T)).toMatchObject({ status: 'completed', result: { ok: 1 } }) },
  'task.attach': {
    before: [{ op: 'task.create', row: taskRow }, { op: 'task.status', agent: 'alice', id: 't9', status: 'cancelled', message: null, at: T }],
    op: { op: 'task.attach', agent: 'alice', id: 't9', result: { late: true } },
    check: async (s) => expect(await s.tasks.get('alice', 't9', T)).toMatchObject({ status: 'cancelled', result: { late: true } }),
  },
  'tasks.purge': { before: [{ op: 'task.create', row: taskRow }], op: { op: 'tasks.purge', now: T + 60_000 }, check: async (s, r) => {
    expect(r.get(0)).toBe(1);
    expect(await s.tasks.list('alice', T, null, 10)).toEqual([]);
  } },
  'delegation.add': {
    op: { op: 'delegation.add', row: delegationRow, maxChildren: 2, now: T },
    check: async (s) => {
      expect(await s.delegations.byChild('w1')).toMatchObject({ id: 'dlg-1', parent: 'alice', status: 'live', expires_at: T + 60_000 });
      expect(await s.delegations.liveChildren('alice', T)).toBe(1);
      expect(await s.delegations.liveChildren('alice', T + 60_000)).toBe(0);
      expect(await s.commit([{ op: 'delegation.add', row: delegationRow, maxChildren: 5, now: T }])).toMatchObject({ ok: false, conflict: { kind: 'child_taken' } });
      expect(await s.commit([{ op: 'delegation.add', row: { ...delegationRow, id: 'dlg-2', child: 'w2' }, maxChildren: 1, now: T }])).toMatchObject({ ok: false, conflict: { kind: 'children_limit', count: 1 } });
    },
  },
  'delegation.end': {
    before: [{ op: 'delegation.add', row: delegationRow, maxChildren: 2, now: T }, { op: 'credential.add', row: { ...credentialRow, id: 'kw1', principal: 'w1', key_hash: 'w'.repeat(64) } }],
    op: { op: 'delegation.end', child: 'w1', status: 'revoked', by: 'operator:op', at: T + 1 },
    check: async (s, r) => {
      expect(r.get(0)).toBe(true);
      expect(await s.delegations.get('dlg-1')).toMatchObject({ status: 'revoked', ended_at: T + 1, ended_by: 'operator:op' });
      expect(await s.credentials.get('kw1')).toMatchObject({ revoked_at: T + 1 });
      expect(await s.delegations.dueToExpire(T + 120_000)).toEqual([]);
    },
  },
  'plan.add': { op: { op: 'plan.add', row: planRow, facts: ['{}', null] }, check: async (s) => {
    expect(await s.plans.get('p9')).toMatchObject({ agent: 'alice', status: 'running', failed_step: null });
    expect((await s.plans.steps('p9')).map((x) => [x.step, x.status, x.facts])).toEqual([[0, 'pending', '{}'], [1, 'pending', null]]);
  } },
  'plan.facts': { before: [{ op: 'plan.add', row: planRow, facts: [null, null] }], op: { op: 'plan.facts', id: 'p9', facts: ['{"a":1}', null] }, check: async (s) => expect((await s.plans.steps('p9')).map((x) => x.facts)).toEqual(['{"a":1}', null]) },
  'plan.status': { before: [{ op: 'plan.add', row: planRow, facts: [null] }], op: { op: 'plan.status', id: 'p9', from: 'running', to: 'failed', at: T + 1, by: null, failed_step: 0 }, check: async (s) => expect(await s.plans.get('p9')).toMatchObject({ status: 'failed', failed_step: 0, updated_at: T + 1 }) },
  'plan.step': { before: [{ op: 'plan.add', row: planRow, facts: [null] }], op: { op: 'plan.step', id: 'p9', step: 0, from: 'pending', to: 'running', decision_id: 'd9', at: T + 1 }, check: async (s) => expect((await s.plans.steps('p9'))[0]).toMatchObject({ status: 'running', decision_id: 'd9' }) },
  'plan.settle': { before: [{ op: 'plan.add', row: planRow, facts: [null] }, { op: 'plan.step', id: 'p9', step: 0, from: 'pending', to: 'failed', decision_id: 'd9', at: T }], op: { op: 'plan.settle', id: 'p9', at: T + 2 }, check: async (s, r) => {
    expect(r.get(0)).toBe(true);
    expect((await s.plans.get('p9'))?.status).toBe('completed');
  } },
  'plan.amend': {
    before: [
      { op: 'plan.add', row: planRow, facts: [null, '{"b":1}', null] },
      { op: 'delegation.add', row: { ...delegationRow, id: 'plan-p9', child: 'alice/plan/p9' }, maxChildren: 5, now: T },
      { op: 'plan.status', id: 'p9', from: 'running', to: 'failed', at: T + 1, by: null, failed_step: 0 },
    ],
    op: { op: 'plan.amend', id: 'p9', request: '{"changed":true}', digest: 'dg2', keep: 1, facts: ['{"c":2}'], grants: '[{"capability":"c"}]', child: 'alice/plan/p9', at: T + 2 },
    check: async (s) => {
      expect(await s.plans.get('p9')).toMatchObject({ status: 'pending_approval', digest: 'dg2', request: '{"changed":true}', failed_step: 0, updated_at: T + 2 });
      expect((await s.plans.steps('p9')).map((x) => [x.step, x.status, x.facts])).toEqual([[0, 'pending', null], [1, 'pending', '{"c":2}']]);
      expect((await s.delegations.byChild('alice/plan/p9'))?.grants).toBe('[{"capability":"c"}]');
      // Only a failed plan can be changed.
      expect(await s.commit([{ op: 'plan.amend', id: 'p9', request: '{}', digest: 'dg3', keep: 1, facts: [], grants: '[]', child: 'alice/plan/p9', at: T + 3 }])).toMatchObject({ ok: false, conflict: { kind: 'plan_moved' } });
    },
  },
  'plan.attempt': { before: [{ op: 'plan.add', row: planRow, facts: [null] }], op: { op: 'plan.attempt', row: { plan_id: 'p9', decision_id: 'd9', capability: 'c', code: 'PLAN_STEP_MISMATCH', at: T } }, check: async (s) => expect(await s.plans.attempts('p9')).toEqual([{ plan_id: 'p9', decision_id: 'd9', capability: 'c', code: 'PLAN_STEP_MISMATCH', at: T }]) },
  'memory.write': { op: { op: 'memory.write', write: { scope: 's', key: 'k', value: [1], sensitivity: 'elevated', provenance: 'agent:alice', expected: 0, at: T } }, check: async (s, r) => {
    expect(r.get(0)).toBe(1);
    expect(await s.memory.list('s')).toMatchObject([{ key: 'k', value: [1], sensitivity: 'elevated', version: 1 }]);
  } },
};

// Checked by the compiler (tsc, in the build): a store's handler table that misses an op kind is refused.
// @ts-expect-error `decision.open` and every other kind but `event` have no handler
export const incompleteTableIsRefused = { event: () => undefined } satisfies OpHandlers<unknown, void>;

export interface PortSuiteOptions {
  /** A second port on the same store (another process or replica sharing it). */
  twin(of: StorePort): Promise<StorePort>;
  /** Whether the store pushes changes (`notifications`); stores that do not are polled. */
  pushes: boolean;
}

/** Registers the port suite for one store; `open` gives a fresh, empty store each time. */
export function describePortSuite(name: string, open: () => Promise<StorePort>, opts: PortSuiteOptions): void {
  describe(`store port: ${name}`, () => {
    it('every op kind commits and reads back the same on this store (one case per kind, ADR-021)', async () => {
      for (const [kind, c] of Object.entries(EVERY_OP) as [OpKind, OpCase<OpKind>][]) {
        const store = await open();
        try {
          if (c.before) expect((await store.commit(c.before)).ok, `${kind}: staging`).toBe(true);
          const r = await store.commit([c.op]);
          expect(r.ok, kind).toBe(true);
          if (r.ok) await c.check(store, r.results);
        } finally {
          await store.close();
        }
      }
    });

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

    it('a committed unit is all there: its events one record in order (ADR-021), the decision with the receipt of its last event', async () => {
      const store = await open();
      try {
        const r = await store.commit([...received('d1'), { op: 'event', event: { dfid: 'f'.repeat(32), agent: 'alice', type: 'IntentValidated', decision_id: 'd1' } }, finish('d1')]);
        expect(r.ok).toBe(true);
        if (!r.ok) return;
        expect(r.receipts.map((x) => x.seq)).toEqual([1, 2]);
        const events = await store.ledger.page(0, 10);
        expect(events.map((e) => e.type)).toEqual(['IntentReceived', 'IntentValidated']);
        expect(events.map((e) => [e.prev_hash, e.hash, e.record])).toEqual(events.map(() => ['0'.repeat(64), r.receipts[0]?.hash, { first_seq: 1, last_seq: 2 }]));
        // A unit's events after its outcome are a record of their own, chained to the first.
        const more = await store.commit([{ op: 'event', event: { dfid: 'f'.repeat(32), agent: 'alice', type: 'ActionStarted', decision_id: 'd1' } }]);
        expect((await store.ledger.page(2, 1))[0]?.prev_hash).toBe(r.receipts[1]?.hash);
        expect(more.ok && more.receipts).toEqual([{ seq: 3, hash: (await store.ledger.page(2, 1))[0]?.hash }]);
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

    it('a decision opened and marked running in one unit is the row an open and a later running leave, and a guard between them takes both back (ADR-032)', async () => {
      const store = await open();
      try {
        const intent = { capability: 'c', params: { n: 1 } };
        const running = (id: string): Op => ({ op: 'decision.running', id, runner: 'r1', key: `k-${id}`, intent });
        expect((await store.commit([...received('d1'), reserve('d1', 'k-d1'), running('d1')])).ok).toBe(true);
        expect((await store.commit(received('d2'))).ok).toBe(true);
        expect((await store.commit([reserve('d2', 'k-d2'), running('d2')])).ok).toBe(true);
        const [one, two] = [await store.decisions.get('d1'), await store.decisions.get('d2')];
        expect(one).toMatchObject({ status: 'running', runner: 'r1', idempotency_key: 'k-d1', intent, request_hash: 'h', capability: 'c', created_at: T });
        expect({ ...one, id: 'd2', idempotency_key: 'k-d2' }).toEqual(two);
        expect((await store.decisions.started()).map((d) => d.id)).toEqual(['d1', 'd2']);
        // The key is taken: the unit is refused, and neither the decision nor its running mark is kept.
        expect(await store.commit([...received('d3'), reserve('d3', 'k-d1'), running('d3')])).toMatchObject({ ok: false, conflict: { kind: 'key_taken' } });
        expect(await store.decisions.get('d3')).toBeNull();
        // A unit that opens one decision and marks another running does each on its own row.
        expect((await store.commit([...received('d4'), running('d2')])).ok).toBe(true);
        expect(await store.decisions.get('d4')).toMatchObject({ status: 'rejected', runner: null, intent: null });
        // Another op on the decision between them: each is applied in order, as before.
        expect((await store.commit([...received('d5'), finish('d5'), running('d5')])).ok).toBe(true);
        expect(await store.decisions.get('d5')).toMatchObject({ status: 'running', runner: 'r1', outcome: { status: 'accepted' } });
      } finally {
        await store.close();
      }
    });

    it("a decision's policy input in its unit is written by the decision's insert: the row an input written later leaves, and a guard takes both back (ADR-040)", async () => {
      const store = await open();
      try {
        const running: Op = { op: 'decision.running', id: 'd1', runner: 'r1', key: 'k-d1', intent };
        const put = (id: string): Op => ({ op: 'policy_input.put', row: policyInput(id) });
        // A fresh call's pre-effect unit: opened, judged, marked running, in one insert.
        expect((await store.commit([opened('d1', T), put('d1'), reserve('d1', 'k-d1'), running])).ok).toBe(true);
        // The input of a decision opened by an earlier unit.
        expect((await store.commit([opened('d2', T)])).ok).toBe(true);
        expect((await store.commit([put('d2')])).ok).toBe(true);
        // A refusal at the policy stage: the input before the outcome.
        expect((await store.commit([opened('d3', T), put('d3'), finish('d3')])).ok).toBe(true);
        expect(await store.decisions.get('d1')).toMatchObject({ status: 'running', runner: 'r1', idempotency_key: 'k-d1', capability: 'payments.transfer' });
        expect({ ...(await store.decisions.get('d2')), id: 'd1' }).toEqual({ ...(await store.decisions.get('d1')), status: 'rejected', runner: null, idempotency_key: null, intent: null });
        expect((await store.decisions.get('d3'))?.outcome?.status).toBe('accepted');
        expect(await store.policyInputs.list({ limit: 10 })).toEqual(['d1', 'd2', 'd3'].map((id) => inputRead(id, T)));
        // The key is taken: neither the decision nor its input is kept.
        expect(await store.commit([opened('d4', T), put('d4'), reserve('d4', 'k-d1')])).toMatchObject({ ok: false, conflict: { kind: 'key_taken' } });
        expect(await store.decisions.get('d4')).toBeNull();
        expect((await store.policyInputs.list({ limit: 10 })).map((r) => r.decision_id)).toEqual(['d1', 'd2', 'd3']);
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

    it('a unit that fails (before writing, or on a statement the store refuses) never undoes the unit before it in the batch', async () => {
      const store = await open();
      try {
        const broken: Op = { op: 'decision.finish', id: 'd2', outcome: () => { throw new Error('broken outcome'); } };
        const settled = await Promise.allSettled([
          store.commit([...received('d1'), finish('d1')]),
          store.commit([broken]),
          store.commit([...received('d3'), finish('d3')]),
          store.commit([...received('d1')]), // the decision id exists: the store refuses the insert
          store.commit([...received('d5'), finish('d5')]),
        ]);
        expect(settled.map((x) => x.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'rejected', 'fulfilled']);
        expect((await store.ledger.page(0, 10)).map((e) => e.decision_id)).toEqual(['d1', 'd3', 'd5']);
        for (const id of ['d1', 'd3', 'd5']) expect((await store.decisions.get(id))?.outcome?.decision_id).toBe(id);
        expect(await store.ledger.verify()).toMatchObject({ ok: true, events: 3 });
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

    it('two ports on one store (two replicas) extend one chain: no gap, no fork, every receipt unique', async () => {
      const a = await open();
      const b = await opts.twin(a);
      try {
        const results = await Promise.all(Array.from({ length: 60 }, (_, i) => (i % 2 ? a : b).commit([...received(`d${i}`), finish(`d${i}`)])));
        const seqs = results.map((r) => (r.ok ? (r.receipts[0]?.seq ?? -1) : -1)).sort((x, y) => x - y);
        expect(seqs).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
        expect(await a.ledger.verify()).toMatchObject({ ok: true, events: 60 });
        expect(await b.ledger.headSeq()).toBe(60);
      } finally {
        await b.close();
        await a.close();
      }
    });

    it('a port that predicts the chain head (its own last commit) finds it moved by another port, and commits on the real head', async () => {
      const a = await open();
      const b = await opts.twin(a);
      try {
        for (const id of ['d1', 'd2', 'd3']) expect((await a.commit([...received(id), finish(id)])).ok).toBe(true);
        expect((await b.commit([...received('d4'), finish('d4')])).ok).toBe(true);
        // a's guard fails on the moved head, and a unit of its first try is refused after that: both must leave no trace.
        const [moved, taken] = await Promise.all([a.commit([...received('d5'), reserve('d5', 'k'), finish('d5')]), a.commit([...received('d6'), reserve('d6', 'k')])]);
        expect(moved.ok && moved.receipts.map((r) => r.seq)).toEqual([5]);
        expect(taken).toMatchObject({ ok: false, conflict: { kind: 'key_taken' } });
        expect((await a.commit([...received('d7'), finish('d7')])).ok).toBe(true);
        expect((await b.ledger.page(0, 10)).map((e) => e.decision_id)).toEqual(['d1', 'd2', 'd3', 'd4', 'd5', 'd7']);
        expect(await b.ledger.verify()).toMatchObject({ ok: true, events: 6 });
      } finally {
        await b.close();
        await a.close();
      }
    });

    it('an idempotency key reserved on two ports at once goes to exactly one of them', async () => {
      const a = await open();
      const b = await opts.twin(a);
      try {
        const results = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).commit([...received(`d${i}`), reserve(`d${i}`, 'shared-key')])));
        expect(results.filter((r) => r.ok)).toHaveLength(1);
        const winner = results.findIndex((r) => r.ok);
        for (const r of results) if (!r.ok) expect(r.conflict).toMatchObject({ kind: 'key_taken', existing: { decision_id: `d${winner}` } });
        expect(await a.ledger.verify()).toMatchObject({ ok: true, events: 1 });
      } finally {
        await b.close();
        await a.close();
      }
    });

    it('a key whose record has lapsed goes to the next reservation and is purged; one whose effect may be running, or whose outcome is unknown, never lapses (ADR-017)', async () => {
      const store = await open();
      const at = (decision: string, key: string, state: 'done' | 'in_flight' | 'outcome_unknown', now: number, expires: number): Op => ({
        op: 'key.reserve',
        record: { agent: 'alice', key, request_hash: 'h', state, decision_id: decision, created_at: now, expires_at: expires },
        now,
      });
      try {
        for (const [d, key, state] of [['d0', 'finished-key', 'done'], ['d1', 'done-key', 'done'], ['d2', 'running-key', 'in_flight'], ['d3', 'unknown-key', 'outcome_unknown']] as const) {
          expect((await store.commit([...received(d), at(d, key, state, T, T + 10)])).ok).toBe(true);
        }
        // Before its expiry a finished key is still its decision's; at its expiry it is the next reservation's.
        expect(await store.commit([...received('d4'), at('d4', 'done-key', 'in_flight', T + 9, T + 100)])).toMatchObject({ ok: false, conflict: { kind: 'key_taken', existing: { decision_id: 'd1' } } });
        expect((await store.commit([...received('d5'), at('d5', 'done-key', 'done', T + 10, T + 100)])).ok).toBe(true);
        expect(await store.idempotency.peek('alice', 'done-key', T + 10)).toMatchObject({ decision_id: 'd5', state: 'done', created_at: T + 10, expires_at: T + 100 });
        // Long past their expiry, a running key and a key whose outcome is unknown still hold.
        expect(await store.commit([...received('d6'), at('d6', 'running-key', 'in_flight', T + 1000, T + 2000)])).toMatchObject({ ok: false, conflict: { kind: 'key_taken', existing: { decision_id: 'd2', state: 'in_flight' } } });
        expect(await store.commit([...received('d7'), at('d7', 'unknown-key', 'in_flight', T + 1000, T + 2000)])).toMatchObject({ ok: false, conflict: { kind: 'key_taken', existing: { decision_id: 'd3', state: 'outcome_unknown' } } });
        // A refused reservation leaves nothing of its unit.
        expect((await store.ledger.page(0, 10)).map((e) => e.decision_id)).toEqual(['d0', 'd1', 'd2', 'd3', 'd5']);
        // The purge takes lapsed records only: the one taken over is live again until its own expiry, and a running key or one whose outcome is unknown stays.
        expect(await store.idempotency.purgeExpired(T + 50)).toBe(1);
        expect(await store.idempotency.peek('alice', 'done-key', T + 50)).toMatchObject({ decision_id: 'd5' });
        expect(await store.idempotency.purgeExpired(T + 1000)).toBe(1);
        expect(await store.idempotency.peek('alice', 'running-key', T + 1000)).toMatchObject({ decision_id: 'd2' });
        expect(await store.idempotency.peek('alice', 'unknown-key', T + 1000)).toMatchObject({ decision_id: 'd3' });
      } finally {
        await store.close();
      }
    });

    it('guards: resolving a decision twice, a moved memory version and an unknown credential each fail their unit', async () => {
      const store = await open();
      try {
        const pending = { intent: { capability: 'c', params: {} } as never, facts: {}, facts_hash: 'x', expires_at: T + 1000 };
        const outcome = { verdict: 'escalated', reasons: [], details: [], dfid: 'f'.repeat(32), decision_id: 'd1', capability: 'c', idempotency_key: null, status: 'pending', policies: ['p1'], receipt: null } as unknown as Outcome;
        await store.commit([...received('d1'), { op: 'decision.finish', id: 'd1', outcome: () => outcome, pending }]);
        expect(await store.decisions.pendingCount()).toBe(1);
        expect((await store.decisions.pending()).map((d) => [d.id, d.policies, d.expires_at])).toEqual([['d1', ['p1'], T + 1000]]);
        const resolve = (): Op => ({ op: 'decision.resolve', id: 'd1', status: 'approved', by: 'op', note: null, at: T });
        expect((await store.commit([resolve()])).ok).toBe(true);
        expect(await store.commit([resolve()])).toMatchObject({ ok: false, conflict: { kind: 'not_pending', id: 'd1' } });
        expect(await store.decisions.get('d1')).toMatchObject({ status: 'approved', resolved_by: 'op', resolved_at: T });
        const write = (expected: number): Op => ({ op: 'memory.write', write: { scope: 's', key: 'k', value: { n: expected }, sensitivity: 'standard', provenance: 'agent:alice', expected, at: T } });
        const w1 = await store.commit([write(0)]);
        expect(w1.ok && w1.results.get(0)).toBe(1);
        expect(await store.commit([write(0)])).toMatchObject({ ok: false, conflict: { kind: 'version_moved' } });
        const w2 = await store.commit([write(1)]);
        expect(w2.ok && w2.results.get(0)).toBe(2);
        expect(await store.memory.get('s', 'k')).toMatchObject({ version: 2, value: { n: 1 }, provenance: 'agent:alice' });
        expect(await store.commit([{ op: 'credential.revoke', id: 'nope', by: 'op', at: T }])).toMatchObject({ ok: false, conflict: { kind: 'not_found' } });
      } finally {
        await store.close();
      }
    });

    it('monitor windows: samples kept per window (last N, or by time), statistics and streaks as evaluation saw them', async () => {
      const store = await open();
      try {
        const seen: unknown[] = [];
        for (let i = 1; i <= 5; i++) {
          const r = await store.commit([
            {
              op: 'monitors.observe',
              agent: 'alice',
              evaluate: (w) => {
                const st = w.state('alice', 'spend', T + i);
                const last = w.sample('alice', 'spend', i * 10, T + i * 1000, { last: 3 });
                const timed = w.sample('alice', 'rate', i, T + i * 1000, { windowMs: 2500 });
                w.setConsecutive('alice', 'spend', st.firstAt, st.consecutive + 1);
                return { st, last, timed };
              },
            },
          ]);
          expect(r.ok).toBe(true);
          if (r.ok) seen.push(r.results.get(0));
        }
        expect(seen[4]).toEqual({
          st: { firstAt: T + 1, consecutive: 4 },
          last: { count: 3, sum: 120, max: 50, firstAt: T + 3000 },
          timed: { count: 3, sum: 12, max: 5, firstAt: T + 3000 },
        });
        expect(await store.monitors.executed('alice')).toBe(5);
        await store.commit([{ op: 'monitors.reset', agent: 'alice' }]);
        const after = await store.commit([{ op: 'monitors.observe', agent: 'alice', evaluate: (w) => [w.state('alice', 'spend', T + 9), w.sample('alice', 'spend', 1, T + 9, { last: 3 })] }]);
        expect(after.ok && after.results.get(0)).toEqual([{ firstAt: T + 9, consecutive: 0 }, { count: 1, sum: 1, max: 1, firstAt: T + 9 }]);
      } finally {
        await store.close();
      }
    });

    it('console reads: a monitor window\'s samples in order, an agent\'s newest decisions, decisions per minute by status', async () => {
      const store = await open();
      try {
        for (const [i, v] of [5, 7, 9, 11].entries()) {
          await store.commit([{ op: 'monitors.observe', agent: 'alice', evaluate: (w) => w.sample('alice', 'spend', v, T + i * 1000, { last: 3 }) }]);
        }
        expect(await store.monitors.samples('alice', 'spend')).toEqual([
          { at: T + 1000, value: 7 },
          { at: T + 2000, value: 9 },
          { at: T + 3000, value: 11 },
        ]);
        expect(await store.monitors.samples('bob', 'spend')).toEqual([]);
        const open1 = (id: string, agent: string, at: number): Op => ({ op: 'decision.open', id, dfid: 'f'.repeat(32), agent, capability: 'c', request_hash: 'h', created_at: at });
        await store.commit([open1('a1', 'alice', T), open1('a2', 'alice', T + 61_000), open1('b1', 'bob', T + 62_000), open1('a3', 'alice', T + 125_000), finish('a3')]);
        expect((await store.decisions.recent('alice', 2)).map((d) => d.id)).toEqual(['a3', 'a2']);
        const minute = Math.floor(T / 60_000);
        // An opened decision is `rejected` until it finishes (src/store/decisions.ts).
        expect(await store.decisions.perMinute(T + 60_000)).toEqual([
          { minute: minute + 1, status: 'rejected', n: 2 },
          { minute: minute + 2, status: 'accepted', n: 1 },
        ]);
      } finally {
        await store.close();
      }
    });

    it('interventions, statuses, constraints, usage and expiry read back the same', async () => {
      const store = await open();
      try {
        const row = { id: 'i1', dfid: 'e'.repeat(32), target_kind: 'flow' as const, target: 'e'.repeat(32), target_agent: 'alice', act: 'terminate', args: '{}', issued_by: 'op', issuer_role: 'operator', state: 'applied' as const, reason_hash: null, created_at: T, updated_at: T, expires_at: T + 10 };
        await store.commit([
          { op: 'intervention.add', row },
          { op: 'agent.status', agent: 'alice', status: 'paused', by: 'op', reason_hash: null, at: T },
          { op: 'flow.status', dfid: 'e'.repeat(32), agent: '*', status: 'terminated', at: T },
          { op: 'constraint.add', row: { intervention_id: 'i1', agent: 'alice', capability: 'c', field: 'amount', max: 5, expires_at: T + 100 } },
          { op: 'usage.add', agent: 'alice', capability: 'c', field: 'amount', amount: 2.5, at: T },
          { op: 'usage.add', agent: 'alice', capability: 'c', field: 'amount', amount: 4, at: T + 1 },
        ]);
        expect(await store.agents.status('alice')).toBe('paused');
        expect(await store.agents.statusRow('alice')).toEqual({ status: 'paused', updated_at: T, updated_by: 'op' });
        expect(await store.agents.status('bob')).toBe('active');
        expect(await store.agents.flowStatus('e'.repeat(32), 'bob')).toBe('terminated');
        // The strictest status that applies wins, the agent's own or the whole flow's; none is active.
        await store.commit([
          { op: 'flow.status', dfid: 'e'.repeat(32), agent: 'alice', status: 'paused', at: T },
          { op: 'flow.status', dfid: 'd'.repeat(32), agent: 'alice', status: 'terminated', at: T },
          { op: 'flow.status', dfid: 'd'.repeat(32), agent: '*', status: 'paused', at: T },
          { op: 'flow.status', dfid: 'c'.repeat(32), agent: 'alice', status: 'active', at: T },
          { op: 'flow.status', dfid: 'c'.repeat(32), agent: '*', status: 'paused', at: T },
        ]);
        expect(await store.agents.flowStatus('e'.repeat(32), 'alice')).toBe('terminated');
        expect(await store.agents.flowStatus('d'.repeat(32), 'alice')).toBe('terminated');
        expect(await store.agents.flowStatus('d'.repeat(32), 'bob')).toBe('paused');
        expect(await store.agents.flowStatus('c'.repeat(32), 'alice')).toBe('paused');
        expect(await store.agents.flowStatus('b'.repeat(32), 'alice')).toBe('active');
        expect((await store.agents.terminationsSince(T, 'flow')).map((r) => r.id)).toEqual(['i1']);
        expect(await store.agents.intervention('i1')).toEqual(row);
        expect((await store.agents.constraints('alice', 'c', T)).map((c) => c.max)).toEqual([5]);
        expect(await store.usage.sum('alice', 'c', 'amount', 3_600_000, T + 2)).toBe(6.5);
        const expired = await store.commit([{ op: 'interventions.expire', now: T + 10 }]);
        expect(expired.ok && expired.results.get(0)).toBe(1);
        expect((await store.ledger.page(0, 5)).map((e) => [e.type, e.decision_id])).toEqual([['InterventionExpired', 'i1']]);
        expect((await store.agents.intervention('i1'))?.state).toBe('expired');
      } finally {
        await store.close();
      }
    });

    it('the read ahead answers each read as the port read of the same name does, in one snapshot (ADR-028, ADR-045)', async () => {
      const store = await open();
      try {
        expect(store.readAhead).toBeDefined();
        await store.commit([
          ...received('d1'),
          reserve('d1', 'k1'),
          { op: 'usage.add', agent: 'alice', capability: 'c', field: 'amount', amount: 2, at: T },
          { op: 'agent.status', agent: 'alice', status: 'paused', by: 'op', reason_hash: null, at: T },
          { op: 'flow.status', dfid: D, agent: 'alice', status: 'paused', at: T },
          { op: 'constraint.add', row: { intervention_id: 'i1', agent: 'alice', capability: 'c', field: 'amount', max: 5, expires_at: T + 60_000 } },
          { op: 'monitors.observe', agent: 'alice', evaluate: () => [] },
        ]);
        const ahead = await store.readAhead!({ agent: 'alice', dfid: D, now: T + 1, plans: true, key: 'k1', capability: 'c', usage: [{ field: 'amount', windowMs: 3_600_000 }], steward: 'alice' });
        expect(ahead.status).toBe(await store.agents.status('alice'));
        expect(ahead.status).toBe('paused');
        expect(ahead.flowStatus).toBe(await store.agents.flowStatus(D, 'alice'));
        expect(ahead.flowStatus).toBe('paused');
        expect(ahead.key).toEqual(await store.idempotency.peek('alice', 'k1', T + 1));
        expect(ahead.key).toMatchObject({ decision_id: 'd1', state: 'in_flight' });
        expect(ahead.constraints).toEqual(await store.agents.constraints('alice', 'c', T + 1));
        expect(ahead.constraints).toHaveLength(1);
        expect(ahead.plans).toEqual(await store.plans.running('alice', T + 1));
        expect([...ahead.usage.values()]).toEqual([await store.usage.sum('alice', 'c', 'amount', 3_600_000, T + 1)]);
        expect([...ahead.usage.values()]).toEqual([2]);
        expect(ahead.executed).toBe(await store.monitors.executed('alice'));
        expect(ahead.executed).toBe(1);
        // What was not asked for is not read.
        const less = await store.readAhead!({ agent: 'bob', dfid: D, now: T + 1, plans: false, key: null, capability: null, usage: [], steward: null });
        expect(less).toMatchObject({ status: 'active', flowStatus: 'active', plans: null, key: null, constraints: null, executed: null });
        expect(less.usage.size).toBe(0);
      } finally {
        await store.close();
      }
    });

    it.runIf(opts.pushes)('a commit on one port is pushed to another port on the same store', async () => {
      const a = await open();
      const b = await opts.twin(a);
      try {
        const got: string[] = [];
        const arrived = new Promise<void>((resolve) => {
          a.notifications?.on('decision', (id) => {
            got.push(id);
            if (id === 'd9') resolve();
          });
        });
        expect(await a.notifications?.ready()).toBe(true);
        await b.commit([...received('d9'), finish('d9')]);
        await Promise.race([arrived, new Promise((_, reject) => setTimeout(() => reject(new Error('no notification within 5 s')), 5000))]);
        expect(got).toContain('d9');
      } finally {
        await b.close();
        await a.close();
      }
    });
  });
}
