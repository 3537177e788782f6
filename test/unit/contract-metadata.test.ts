// Contract metadata on the record: semver versions, an effective period with
// its own refusal, the contract's id, version and hash on every decision, and
// failed checks as codes and paths only. Plus answers that teach the agent.
import { describe, expect, it } from 'vitest';
import { ContractSchema } from '../../src/config/contract-schema.js';
import { hashOf } from '../../src/core/canonical.js';
import { sampleOf } from '../../src/kernel/monitors.js';
import { call, contract, eventsOf, FakeWorld, replaceOnce, setupRuntime, T0, transfer } from './helpers.js';

const iso = (ms: number) => new Date(ms).toISOString();

describe('contract metadata', () => {
  it('effective period: refused before effective_from and from effective_until on, with CONTRACT_NOT_EFFECTIVE', async () => {
    const world = new FakeWorld(T0 - 1);
    const env = await setupRuntime(
      { 'contracts/alice.yaml': replaceOnce('effective_from: 2026-01-01T00:00:00Z', `effective_from: ${iso(T0)}\neffective_until: ${iso(T0 + 3_600_000)}`) },
      world,
    );
    const before = await env.rt.kernel.govern(call('alice', transfer(500)));
    expect(before).toMatchObject({ verdict: 'rejected', reasons: ['CONTRACT_NOT_EFFECTIVE'] });
    expect(before.details[0]).toMatchObject({ path: 'effective_from', message: `the contract of \`alice\` takes effect at ${iso(T0)}; it is now ${iso(T0 - 1)}` });
    world.set(T0);
    expect((await env.rt.kernel.govern(call('alice', transfer(501)))).verdict).toBe('accepted');
    world.set(T0 + 3_600_000 - 1);
    expect((await env.rt.kernel.govern(call('alice', transfer(502)))).verdict).toBe('accepted');
    world.set(T0 + 3_600_000);
    const after = await env.rt.kernel.govern(call('alice', transfer(503)));
    expect(after).toMatchObject({ verdict: 'rejected', reasons: ['CONTRACT_NOT_EFFECTIVE'] });
    expect(after.details[0]?.path).toBe('effective_until');
    // An escalation approved after the contract ended does not run either.
    world.set(T0 + 3_600_000 - 60_000);
    const esc = await env.rt.kernel.govern(call('alice', transfer(20_000)));
    expect(esc.verdict).toBe('escalated');
    world.set(T0 + 3_600_000);
    const approved = await env.rt.kernel.approve(esc.decision_id, 'ops', null);
    expect(approved).toMatchObject({ verdict: 'rejected', reasons: ['CONTRACT_NOT_EFFECTIVE'] });
  });

  it('every decision records the contract id, version and hash; a rejection records its failed checks as codes and paths only', async () => {
    const env = await setupRuntime();
    const alice = env.rt.workspace.contracts.get('alice');
    const ref = { id: 'alice', version: '1.0.0', hash: hashOf(alice) };
    const ok = await env.rt.kernel.govern(call('alice', transfer(500)));
    expect(eventsOf(env.rt, ok.decision_id).find((e) => e.type === 'PolicyDecided')?.data['contract']).toEqual(ref);
    const replay = await env.rt.kernel.govern(call('alice', transfer(500)));
    expect(replay.replay_of).toBe(ok.decision_id);
    expect(eventsOf(env.rt, replay.decision_id).find((e) => e.type === 'IntentReplayed')?.data['contract']).toEqual(ref);

    const bad = await env.rt.kernel.govern(call('alice', transfer(60_000, {}, { currency: 'USD' })));
    expect(bad.reasons).toEqual(['CONTRACT_LIMIT_EXCEEDED', 'INVARIANT_VIOLATED']);
    // The agent is told what it sent and what is allowed ...
    expect(bad.details.map((d) => d.message).slice(0, 2)).toEqual(['`amount_minor` is 60000, above its cap of 50000', '`currency` is "USD", not an allowed value; allowed: "EUR"']);
    // ... the ledger keeps codes and paths only.
    const rejected = eventsOf(env.rt, bad.decision_id).find((e) => e.type === 'IntentRejected');
    expect(rejected?.data).toEqual({
      capability: 'payments.transfer',
      checks: [
        { code: 'CONTRACT_LIMIT_EXCEEDED', path: 'amount_minor' },
        { code: 'CONTRACT_LIMIT_EXCEEDED', path: 'currency' },
        { code: 'INVARIANT_VIOLATED', invariant: 'currency_matches_account' },
      ],
      contract: ref,
    });
    expect(JSON.stringify(eventsOf(env.rt, bad.decision_id))).not.toMatch(/60000|USD/);
  });

  it('version: a semantic version, or a plain integer as before; anything else is refused', () => {
    expect(contract({ agent: 'a', version: '1.2.0' }).version).toBe('1.2.0');
    expect(contract({ agent: 'a', version: '2.0.0-rc.1+build.5' }).version).toBe('2.0.0-rc.1+build.5');
    expect(contract({ agent: 'a', version: 3 }).version).toBe('3');
    for (const version of ['1.2', 'v1.0.0', '01.0.0', 0]) {
      expect(ContractSchema.safeParse({ agent: 'a', version, owner: 'o', mission: 'm', role: 'agent' }).success, String(version)).toBe(false);
    }
    const backwards = ContractSchema.safeParse({ agent: 'a', version: 1, owner: 'o', mission: 'm', role: 'agent', effective_from: '2030-02-01T00:00:00Z', effective_until: '2030-01-01T00:00:00Z' });
    expect(backwards.success).toBe(false);
    expect(backwards.error?.issues[0]?.path).toEqual(['effective_until']);
  });

  it('monitor rate predicates take gte and lte, inclusive', () => {
    const m = contract({ agent: 'a', monitors: [{ id: 'band', over: { last: 5 }, metric: { rate: { field: 'amount', gte: 100, lte: 200 } }, threshold: 0.5 }] }).monitors[0];
    if (!m) throw new Error('no monitor');
    expect([99, 100, 150, 200, 201].map((amount) => sampleOf(m, 'x.y', true, { amount }))).toEqual([0, 1, 1, 1, 0]);
  });
});

describe('answers that teach', () => {
  it('a params schema error names the value the agent sent; its ledger event keeps the path only', async () => {
    const env = await setupRuntime();
    const o = await env.rt.kernel.govern(call('alice', transfer(500, {}, { currency: 'GBP' })));
    expect(o.reasons).toEqual(['SCHEMA_INVALID']);
    expect(o.details[0]?.path).toBe('params.currency');
    expect(o.details[0]?.message).toMatch(/expected one of "EUR"\|"USD"; sent "GBP"$/);
    const rejected = eventsOf(env.rt, o.decision_id).find((e) => e.type === 'IntentRejected');
    expect(rejected?.data['checks']).toEqual([{ code: 'SCHEMA_INVALID', path: 'params.currency' }]);
    expect(JSON.stringify(rejected)).not.toContain('GBP');
  });
});
