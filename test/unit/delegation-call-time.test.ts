import { describe, expect, it } from 'vitest';
import { CALLS_FIELD } from '../../src/store/port/index.js';
import { delegate, DELEGATING_ALICE, workerRequest } from './delegation-fixtures.js';
import { call, events, setupRuntime, transfer } from './helpers.js';

const DAY = 86_400_000;

describe('delegation: a sub-mandate at call time', () => {
  it('a parent delegates within its mandate; the child is held to its own limits and its spend counts against the parent too', async () => {
    const env = await setupRuntime(DELEGATING_ALICE);
    const made = await delegate(env, 'alice', workerRequest('worker-1'));
    expect(made.verdict, JSON.stringify(made.details)).toBe('accepted');
    expect(made.output).toMatchObject({ child: 'worker-1', parent: 'alice', root: 'alice', depth: 1 });

    const paid = await env.rt.kernel.govern(call('worker-1', transfer(3_000)));
    expect(paid.verdict, JSON.stringify(paid.details)).toBe('accepted');
    const now = env.world.now();
    expect(await env.rt.store.usage.sum('worker-1', 'payments.transfer', 'amount_minor', DAY, now)).toBe(3_000);
    expect(await env.rt.store.usage.sum('alice', 'payments.transfer', 'amount_minor', DAY, now)).toBe(3_000);
    expect(await env.rt.store.usage.sum('alice', 'payments.transfer', CALLS_FIELD, DAY, now)).toBe(1);

    const over = await env.rt.kernel.govern(call('worker-1', transfer(6_000)));
    expect(over.reasons).toEqual(['CONTRACT_LIMIT_EXCEEDED']);
    const elsewhere = await env.rt.kernel.govern(call('worker-1', transfer(100, {}, { payee: 'globex' })));
    expect(elsewhere.verdict).toBe('rejected');
    const balance = await env.rt.kernel.govern(call('worker-1', { capability: 'payments.get_balance', params: { account: 'operating' } }));
    expect(balance.reasons).toEqual(['CAPABILITY_NOT_GRANTED']);

    const delegated = events(env.rt).find((e) => e.type === 'Delegated');
    expect(delegated?.data).toMatchObject({ child: 'worker-1', parent: 'alice', root: 'alice' });
    const decided = events(env.rt).filter((e) => e.type === 'PolicyDecided' && e.agent === 'worker-1');
    expect(decided[0]?.data['delegation']).toMatchObject({ chain: ['alice', 'worker-1'], root_owner: 'finance-team@example.com' });
  });
});
