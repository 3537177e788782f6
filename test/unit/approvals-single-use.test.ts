// Approvals: an escalation is a single-use, expiring decision bound
// to the exact stored request. Approval re-checks facts, budgets, constraints
// and policies as they stand at approval time; expiry is a recorded denial;
// a restart keeps it pending.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hashOf } from '../../src/core/canonical.js';
import { call, readBook, replaceOnce, transfer, raw } from './helpers.js';
import { act, agent, eventsOf, expectRefused, oversightEdits, MIN, operator, setup, TESTER_CONTRACT, typesOf, type Env } from './oversight-fixtures.js';

const balance = (env: Env) => readBook(env.dir).accounts['operating']?.balance_minor;

async function escalate(env: Env, amount: number) {
  const o = await env.rt.kernel.govern(call('alice', transfer(amount)));
  expect(o).toMatchObject({ verdict: 'escalated', status: 'pending', reasons: ['ESCALATION_REQUIRED'] });
  return o;
}

describe('approvals', () => {
  it('an escalation nobody decides expires at its deadline on the injected clock: ESCALATION_EXPIRED, recorded, never approvable', async () => {
    const env = await setup();
    const esc = await escalate(env, 20_000);
    // alice's contract: expiry_minutes 15.
    env.world.advance(15 * MIN - 1);
    expect((await env.rt.kernel.expireOverdue())).toBe(0);
    expect((await env.rt.store.decisions.get(esc.decision_id))?.status).toBe('pending');
    env.world.advance(1);
    expect((await env.rt.kernel.expireOverdue())).toBe(1);
    const resolved = eventsOf(env.rt, esc.decision_id).at(-1);
    expect(resolved).toMatchObject({ type: 'EscalationResolved', reasons: ['ESCALATION_EXPIRED'], data: { resolution: 'expired', by: 'system:expiry' } });
    expect((await env.rt.kernel.getDecision('alice', esc.decision_id))).toMatchObject({ verdict: 'rejected', status: 'expired', reasons: ['ESCALATION_EXPIRED'] });
    // Neither channel can resurrect it.
    await expect(env.rt.kernel.approve(esc.decision_id, 'ops', null)).rejects.toMatchObject({ code: 'DECISION_NOT_FOUND' });
    await expectRefused(env, await act(env, agent('supervisor'), { act: 'approve', target: { decision_id: esc.decision_id }, reason: 'late' }), 'DECISION_NOT_FOUND');
    // The same request again is answered from the record: an expiry is a denial, not a retry.
    const again = await env.rt.kernel.govern(call('alice', transfer(20_000)));
    expect(again).toMatchObject({ verdict: 'rejected', replay_of: esc.decision_id });
    expect(again.reasons).toEqual(['ESCALATION_EXPIRED', 'IDEMPOTENT_REPLAY']);
    expect(readBook(env.dir).transfers).toHaveLength(0);
  });

  it('approval after a fact judged exact changed is STATE_DRIFT: nothing runs and the key is released for a fresh decision', async () => {
    const env = await setup();
    const esc = await escalate(env, 20_000);
    // Someone else moves the book between the escalation and the approval: the account's currency
    // (judged exact) changes; the balance and version (re-validated, ADR-019) move with it.
    const book = readBook(env.dir);
    const acct = book.accounts['operating'] as { balance_minor: number; currency?: string };
    acct.balance_minor -= 1;
    acct.currency = 'USD';
    book.version += 1;
    writeFileSync(join(env.dir, 'data', 'books.json'), JSON.stringify(book));

    const r = await env.rt.kernel.approve(esc.decision_id, 'ops', 'checked');
    expect(r).toMatchObject({ verdict: 'rejected', status: 'failed', decision_id: esc.decision_id });
    expect(r.reasons).toEqual(['STATE_DRIFT']);
    expect(r.details.map((d) => d.path)).toEqual(['facts.account_currency']);
    expect(typesOf(env.rt, esc.decision_id)).not.toContain('ActionStarted');
    expect(readBook(env.dir).transfers).toHaveLength(0);
    expect(balance(env)).toBe(499_999);
    // The approval is spent, but the key is free: the same request is decided afresh (on the account as it was).
    await expect(env.rt.kernel.approve(esc.decision_id, 'ops', null)).rejects.toMatchObject({ code: 'DECISION_NOT_FOUND' });
    acct.currency = 'EUR';
    writeFileSync(join(env.dir, 'data', 'books.json'), JSON.stringify(book));
    const retry = await env.rt.kernel.govern(call('alice', transfer(20_000)));
    expect(retry.verdict).toBe('escalated');
    expect(retry.replay_of).toBeUndefined();
  });

  it('a restart in the middle of an escalation keeps it pending, and a supervisor approves it after the restart', async () => {
    const env = await setup();
    const esc = await escalate(env, 20_000);
    await act(env, operator, { act: 'pause', target: { agent: 'scribe' }, reason: 'audit' });
    await env.restart();
    expect((await env.rt.store.decisions.pending()).map((d) => d.id)).toEqual([esc.decision_id]);
    expect((await env.rt.kernel.getDecision('alice', esc.decision_id))?.status).toBe('pending');
    // Interventions survive too.
    expect((await env.rt.store.agents.status('scribe'))).toBe('paused');

    env.world.advance(5 * MIN);
    const ok = await act(env, agent('supervisor'), { act: 'approve', target: { decision_id: esc.decision_id }, reason: 'invoice matches' });
    expect(ok).toMatchObject({ verdict: 'accepted', output: { act: 'approve', decision: { verdict: 'accepted', status: 'approved', decision_id: esc.decision_id, dfid: esc.dfid } } });
    expect(balance(env)).toBe(480_000);
    expect(typesOf(env.rt, esc.decision_id)).toEqual(['IntentReceived', 'IntentValidated', 'PolicyDecided', 'EscalationOpened', 'EscalationResolved', 'ActionStarted', 'ActionOutcome']);
    expect(eventsOf(env.rt, esc.decision_id).find((e) => e.type === 'EscalationResolved')?.data).toMatchObject({ resolution: 'approved', by: 'supervisor', note_hash: hashOf('invoice matches') });
  });

  it('an approval cannot be used twice: operator then supervisor, and supervisor then operator', async () => {
    const env = await setup();
    const first = await escalate(env, 20_000);
    expect((await env.rt.kernel.approve(first.decision_id, 'ops', null)).verdict).toBe('accepted');
    await expectRefused(env, await act(env, agent('supervisor'), { act: 'approve', target: { decision_id: first.decision_id }, reason: 'again' }), 'DECISION_NOT_FOUND');

    const second = await escalate(env, 20_001);
    expect((await act(env, agent('supervisor'), { act: 'approve', target: { decision_id: second.decision_id }, reason: 'ok' })).verdict).toBe('accepted');
    await expect(env.rt.kernel.approve(second.decision_id, 'ops', null)).rejects.toMatchObject({ code: 'DECISION_NOT_FOUND' });
    await expectRefused(env, await act(env, agent('supervisor'), { act: 'approve', target: { decision_id: second.decision_id }, reason: 'again' }), 'DECISION_NOT_FOUND');
    await expectRefused(env, await act(env, operator, { act: 'deny', target: { decision_id: second.decision_id }, reason: 'too late' }), 'DECISION_NOT_FOUND');

    expect(readBook(env.dir).transfers.map((t) => (t as { amount_minor: number }).amount_minor)).toEqual([20_000, 20_001]);
    for (const id of [first.decision_id, second.decision_id]) expect(typesOf(env.rt, id).filter((t) => t === 'ActionStarted')).toHaveLength(1);
  });

  it('approve re-checks budgets: three escalations approved against a 1-call budget, only the first runs', async () => {
    const env = await setup(oversightEdits({ 'contracts/alice.yaml': replaceOnce('max_calls: 30', 'max_calls: 1') }));
    const escs = [await escalate(env, 20_000), await escalate(env, 20_001), await escalate(env, 20_002)];
    const results = [];
    for (const e of escs) results.push(await env.rt.kernel.approve(e.decision_id, 'ops', null));
    expect(results.map((r) => r.verdict)).toEqual(['accepted', 'rejected', 'rejected']);
    expect(results[1]?.reasons).toEqual(['BUDGET_EXCEEDED']);
    expect(results[2]?.reasons).toEqual(['BUDGET_EXCEEDED']);
    expect(readBook(env.dir).transfers).toHaveLength(1);
    expect(balance(env)).toBe(480_000);
    for (const e of escs.slice(1)) expect(typesOf(env.rt, e.decision_id)).not.toContain('ActionStarted');
  });

  it('approve re-checks policies: a forbid added after the escalation wins', async () => {
    const env = await setup();
    const esc = await escalate(env, 20_000);
    await env.rt.close();
    writeFileSync(
      join(env.dir, 'policies', 'late.cedar'),
      '@id("late-forbid-large")\nforbid (principal, action == Mandate::Action::"invoke", resource == Mandate::Capability::"payments.transfer")\nwhen { context.values.amount_minor > 15000 };\n',
    );
    await env.restart();
    const r = await env.rt.kernel.approve(esc.decision_id, 'ops', null);
    expect(r).toMatchObject({ verdict: 'rejected', reasons: ['POLICY_FORBID'], policies: ['late-forbid-large'] });
    expect(typesOf(env.rt, esc.decision_id)).not.toContain('ActionStarted');
    expect(readBook(env.dir).transfers).toHaveLength(0);
  });

  it('approve re-checks policies with the rolling usage as it stands at approval time', async () => {
    const tester = TESTER_CONTRACT.replace(
      '  - capability: test.metric\n',
      '  - capability: test.metric\n    limits:\n      budgets:\n        - { window: 1h, max_calls: 100 }\n',
    ).concat('escalation:\n  rules:\n    - { capability: test.metric, when: \'context.values.v.greaterThan(decimal("100.0"))\', reason: large samples need a human }\n');
    const env = await setup(
      oversightEdits({
        'contracts/tester.yaml': () => tester,
        'policies/usage.cedar': () =>
          '@id("one-metric-an-hour")\nforbid (principal, action == Mandate::Action::"invoke", resource == Mandate::Capability::"test.metric")\nwhen { context.usage has calls_1h && context.usage.calls_1h >= 1 };\n',
      }),
    );
    const esc = await env.rt.kernel.govern(call('tester', { capability: 'test.metric', params: { n: 1, v: 200 } }));
    expect(esc.verdict).toBe('escalated');
    expect((await env.rt.kernel.govern(call('tester', { capability: 'test.metric', params: { n: 2, v: 1 } }))).verdict).toBe('accepted');
    expect((await env.rt.kernel.govern(call('tester', { capability: 'test.metric', params: { n: 3, v: 1 } }))).reasons).toEqual(['POLICY_FORBID']);
    // The escalated sample would be the second call within the hour: the policy forbids it at approval too.
    const r = await env.rt.kernel.approve(esc.decision_id, 'ops', null);
    expect(r).toMatchObject({ verdict: 'rejected', reasons: ['POLICY_FORBID'], policies: ['one-metric-an-hour'] });
    expect(env.runs()).toEqual(['metric 2 1']);
  });

  it('approve re-checks constraints: a constrain issued after the escalation refuses it', async () => {
    const env = await setup();
    const esc = await escalate(env, 20_000);
    const c = await act(env, agent('supervisor'), { act: 'constrain', target: { agent: 'alice' }, reason: 'risk review', constrain: { capability: 'payments.transfer', field: 'amount_minor', max: 15_000, minutes: 30 } });
    expect(c.verdict).toBe('accepted');
    const r = await env.rt.kernel.approve(esc.decision_id, 'ops', null);
    expect(r).toMatchObject({ verdict: 'rejected', reasons: ['CONTRACT_LIMIT_EXCEEDED'] });
    expect(readBook(env.dir).transfers).toHaveLength(0);
  });

  it('a denial records who denied it and a hash of why, never the text', async () => {
    const env = await setup();
    const esc = await escalate(env, 20_000);
    const d = await act(env, agent('supervisor'), { act: 'deny', target: { decision_id: esc.decision_id }, reason: 'DENY-REASON-SECRET-31' });
    expect(d).toMatchObject({ verdict: 'accepted', output: { decision: { status: 'denied', reasons: ['ESCALATION_DENIED'] } } });
    const resolved = eventsOf(env.rt, esc.decision_id).find((e) => e.type === 'EscalationResolved');
    expect(resolved).toMatchObject({ reasons: ['ESCALATION_DENIED'], data: { resolution: 'denied', by: 'supervisor', note_hash: hashOf('DENY-REASON-SECRET-31') } });
    expect((await env.rt.store.decisions.get(esc.decision_id))).toMatchObject({ status: 'denied', resolved_by: 'supervisor' });
    expect(JSON.stringify(raw(env.rt).db.prepare('SELECT * FROM events').all())).not.toContain('DENY-REASON-SECRET-31');
  });
});
