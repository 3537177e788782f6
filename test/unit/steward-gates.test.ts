// Steward gates: per-contract conditions that turn a permitted call
// into a human decision: every Nth executed call, a cumulative budget, or a
// side-effect class.
import { describe, expect, it } from 'vitest';
import { call, readBook, replaceOnce, transfer } from './helpers.js';
import { eventsOf, oversightEdits, setup, typesOf } from './oversight-fixtures.js';

const write = (i: number) => call('scribe', { capability: 'files.write', params: { path: `notes/${i}.md`, content: `note ${i}` } });

describe('steward gates', () => {
  it('every_n_calls: every Nth executed call escalates even though policies permit it, and runs once approved', async () => {
    const env = await setup(oversightEdits({ 'contracts/scribe.yaml': replaceOnce('every_n_calls: 50', 'every_n_calls: 3') }));
    const k = env.rt.kernel;
    expect((await k.govern(write(1))).verdict).toBe('accepted');
    expect((await k.govern(write(2))).verdict).toBe('accepted');
    const third = await k.govern(write(3));
    expect(third).toMatchObject({ verdict: 'escalated', status: 'pending', reasons: ['ESCALATION_REQUIRED'] });
    expect(third.policies).toContain('steward.every_n_calls');
    expect(third.details[0]?.message).toMatch(/every 3th call needs a human/);
    const decided = eventsOf(env.rt, third.decision_id).find((e) => e.type === 'PolicyDecided');
    expect(decided).toMatchObject({ reasons: ['ESCALATION_REQUIRED'], data: { decision: 'escalate', steward_gates: ['steward.every_n_calls'] } });

    expect((await k.approve(third.decision_id, 'ops', null)).verdict).toBe('accepted');
    expect((await k.govern(write(4))).verdict).toBe('accepted');
    expect((await k.govern(write(5))).verdict).toBe('accepted');
    expect((await k.govern(write(6))).verdict).toBe('escalated');
  });

  it('cumulative: the template gate escalates a transfer once the day\'s total would pass 150000, not at it, and lets go after the day', async () => {
    const env = await setup();
    const k = env.rt.kernel;
    // 15 transfers of 100.00 (no escalation rule applies to them) reach exactly 150000.
    for (let i = 0; i < 15; i++) expect((await k.govern(call('alice', transfer(10_000, {}, { memo: `invoice ${i}` })))).verdict).toBe('accepted');
    const gated = await k.govern(call('alice', transfer(1)));
    expect(gated).toMatchObject({ verdict: 'escalated', reasons: ['ESCALATION_REQUIRED'] });
    expect(gated.policies).toContain('steward.cumulative.amount_minor.1d');
    expect(typesOf(env.rt, gated.decision_id)).not.toContain('ActionStarted');
    expect(readBook(env.dir).transfers).toHaveLength(15);
    // A day (plus the one-minute usage bucket) later the window is empty again.
    k.deny(gated.decision_id, 'ops', null);
    env.world.advance(24 * 3_600_000 + 60_000);
    expect((await k.govern(call('alice', transfer(2)))).verdict).toBe('accepted');
  });

  it('side_effects: every call of a listed side-effect class escalates; other classes run', async () => {
    const env = await setup(oversightEdits({ 'contracts/alice.yaml': replaceOnce('stewards:\n', 'stewards:\n  side_effects: [write]\n') }));
    const k = env.rt.kernel;
    const read = await k.govern(call('alice', { capability: 'payments.get_balance', params: { account: 'operating' } }));
    expect(read.verdict).toBe('accepted');
    const small = await k.govern(call('alice', transfer(100)));
    expect(small).toMatchObject({ verdict: 'escalated', reasons: ['ESCALATION_REQUIRED'] });
    expect(small.policies).toContain('steward.side_effect');
    expect(readBook(env.dir).transfers).toHaveLength(0);
  });
});
