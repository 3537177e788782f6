// `check` answers "would this call be allowed?" by running the pipeline up to
// the effect with nothing written: the same verdict, reasons and policies as
// the real call that follows, for accept, reject and escalate, while the check
// itself leaves no decision, no key, no usage and no effect, only its own
// PolicyChecked event.
import { describe, expect, it } from 'vitest';
import type { Intent } from '../../src/core/types.js';
import { call, events, raw, readBook, setupRuntime, transfer, type Env } from './helpers.js';

/** What a check may change: nothing but the ledger's PolicyChecked events. */
function footprint(env: Env) {
  const db = raw(env.rt).db;
  const count = (table: string) => (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
  return {
    decisions: count('decisions'),
    keys: count('idempotency'),
    usage: count('usage'),
    book: JSON.stringify(readBook(env.dir)),
    events: events(env.rt).filter((e) => e.type !== 'PolicyChecked').length,
  };
}

async function checkThenCall(env: Env, intent: Intent) {
  const before = footprint(env);
  const check = await env.rt.kernel.check({ agent: 'alice', capability: intent.capability, params: intent.params, by: 'operator:tester' });
  expect(footprint(env)).toEqual(before);
  const checked = events(env.rt).filter((e) => e.type === 'PolicyChecked').at(-1);
  expect(checked?.data['check_id']).toBe(check.check_id);
  expect(checked?.decision_id).toBeNull();
  const real = await env.rt.kernel.govern(call('alice', intent));
  return { check, real };
}

describe('check gives the real call\'s verdict and writes nothing but its own record', () => {
  it('accept: a small transfer; values and facts are shown, the real call then runs', async () => {
    const env = await setupRuntime();
    const { check, real } = await checkThenCall(env, transfer(1550));
    expect(check.verdict).toBe('accepted');
    expect(real.verdict).toBe('accepted');
    expect(check.policies).toEqual(real.policies);
    expect(check.values?.['amount_minor']).toBe(1550);
    expect(check.facts).toBeDefined();
    expect(readBook(env.dir).transfers).toHaveLength(1);
  });

  it('reject: over the contract limit (DIM) and to a blocked payee (a forbid policy)', async () => {
    const env = await setupRuntime();
    const over = await checkThenCall(env, transfer(60_000));
    expect(over.check.verdict).toBe('rejected');
    expect(over.check.reasons).toEqual(over.real.reasons);
    expect(over.check.details.map((d) => d.code)).toEqual(over.real.details.map((d) => d.code));
    const blocked = await checkThenCall(env, transfer(1550, {}, { payee: 'shady-llc' }));
    expect(blocked.check.verdict).toBe('rejected');
    expect(blocked.check.reasons).toEqual(['POLICY_FORBID']);
    expect(blocked.check.reasons).toEqual(blocked.real.reasons);
    expect(blocked.check.policies).toEqual(blocked.real.policies);
    expect(readBook(env.dir).transfers).toHaveLength(0);
  });

  it('escalate: a transfer above 100.00 names the rule and who would decide', async () => {
    const env = await setupRuntime();
    const { check, real } = await checkThenCall(env, transfer(20_000));
    expect(check.verdict).toBe('escalated');
    expect(real.verdict).toBe('escalated');
    expect(check.reasons).toEqual(real.reasons);
    expect(check.policies).toEqual(real.policies);
    expect(check.escalation?.reasons).toEqual(['transfers above 100.00 need a human approval']);
    expect(check.escalation?.approvers).toEqual({ operators: true, supervisors: ['supervisor'], client: false });
    expect(check.escalation?.expires_in_minutes).toBe(15);
  });

  it('as of a given time: before the contract is in effect the check refuses, as the real call then would', async () => {
    const env = await setupRuntime();
    const at = Date.UTC(2025, 5, 1);
    const check = await env.rt.kernel.check({ agent: 'alice', capability: 'payments.transfer', params: transfer(1550).params, at, by: 'operator:tester' });
    expect(check.as_of).toBe('2025-06-01T00:00:00.000Z');
    expect(check.reasons).toEqual(['CONTRACT_NOT_EFFECTIVE']);
    env.world.set(at);
    const real = await env.rt.kernel.govern(call('alice', transfer(1550)));
    expect(real.reasons).toEqual(check.reasons);
  });
});
