import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Outcome } from '../../src/core/types.js';
import { judgeDrift } from '../../src/kernel/drift.js';
import { call, readBook, replaceOnce, setupRuntime, transfer, typesOf, type Env } from './helpers.js';

/**
 * An account whose facts resolver stands in for another writer: each read
 * returns the balance and then takes `shift` off the file, so the re-read
 * inside the effect section sees the balance moved by exactly `shift`.
 */
const SHIFTING = (drift: string) => `
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
export default function define({ z }) {
  return [{
    id: 'test.spend',
    version: '1.0.0',
    description: 'Spends from a test account whose balance another writer moves (tests only).',
    sideEffect: 'write',
    input: z.object({ amount: z.number().int().positive(), shift: z.number().int().min(0) }),
    output: z.object({ balance: z.number().int() }),
    factsSchema: z.object({ balance: z.number().int(), owner: z.string() }),
    derivedSchema: z.object({ band: z.string() }),
    async facts(params, ctx) {
      const path = join(ctx.workspaceDir, 'data', 'acct.json');
      const acct = JSON.parse(readFileSync(path, 'utf8'));
      writeFileSync(path, JSON.stringify({ ...acct, balance: acct.balance - params.shift }));
      return acct;
    },
    derive: (params, facts) => ({ band: facts.balance >= 1000000 ? 'large' : 'normal' }),
    drift: ${drift},
    invariants: [{ id: 'sufficient_funds', message: 'amount is larger than the balance', check: ({ values, facts }) => values.amount <= facts.balance }],
    serializeBy: () => 'test:acct',
    handler: (params, ctx) => ({ balance: ctx.facts.balance - params.amount }),
  }];
}
`;

async function account(drift: string, balance: number, extra: Record<string, (t: string) => string> = {}): Promise<Env> {
  return setupRuntime({
    'capabilities/spend.mjs': () => SHIFTING(drift),
    'data/acct.json': () => JSON.stringify({ balance, owner: 'ops' }),
    'contracts/alice.yaml': replaceOnce('  - capability: payments.get_balance\n', '  - capability: payments.get_balance\n  - capability: test.spend\n'),
    ...extra,
  });
}

const spend = (env: Env, amount: number, shift: number): Promise<Outcome> => env.rt.kernel.govern(call('alice', { capability: 'test.spend', params: { amount, shift } }));

describe('drift judgements (ADR-019)', () => {
  it('exact refuses on any change of the fact, and lets an unchanged one through', async () => {
    const env = await account("{ balance: 'exact' }", 5000);
    expect(await spend(env, 100, 0)).toMatchObject({ verdict: 'accepted' });
    const moved = await spend(env, 100, 1);
    expect(moved).toMatchObject({ verdict: 'rejected', reasons: ['STATE_DRIFT'], details: [{ path: 'facts.balance' }] });
    expect(typesOf(env.rt, moved.decision_id)).not.toContain('ActionStarted');
  });

  it('a numeric tolerance lets the fact move up to it and refuses beyond, as driftTolerance always did', async () => {
    const env = await account('{ balance: { tolerance: 100 } }', 5000);
    expect(await spend(env, 100, 100)).toMatchObject({ verdict: 'accepted' });
    expect(await spend(env, 100, 101)).toMatchObject({ verdict: 'rejected', reasons: ['STATE_DRIFT'], details: [{ path: 'facts.balance' }] });
    // The pure judgement: tolerances, exact by default, and a type change is always a move.
    expect(judgeDrift({ a: 10, b: 'x', c: 1 }, { a: 12, b: 'y', c: '1' }, { a: 2, c: 5 })).toEqual({ moved: ['b', 'c'], revalidate: [] });
  });

  it('revalidate accepts while the invariant holds on the fresh facts, and refuses naming the fact and the invariant once it does not', async () => {
    const env = await account("{ balance: 'revalidate' }", 5000);
    const held = await spend(env, 4000, 500); // 4,500 left when it acts: still enough
    expect(held).toMatchObject({ verdict: 'accepted', output: { balance: 500 } });
    const started = (await env.rt.store.ledger.byDfid(held.dfid)).find((e) => e.type === 'ActionStarted');
    expect(started?.data['revalidated']).toEqual(['balance']);

    const env2 = await account("{ balance: 'revalidate' }", 5000);
    const broken = await spend(env2, 4000, 2000); // 3,000 left when it acts
    expect(broken).toMatchObject({ verdict: 'rejected', reasons: ['STATE_DRIFT'], details: [{ code: 'STATE_DRIFT', path: 'facts.balance', invariant: 'sufficient_funds' }] });
    expect(broken.details[0]?.message).toContain('`balance` changed');
    expect(typesOf(env2.rt, broken.decision_id)).not.toContain('ActionStarted');
  });

  it('revalidate refuses when the fresh facts change the derived values or the policy verdict, naming the check', async () => {
    const env = await account("{ balance: 'revalidate' }", 1_000_100);
    const values = await spend(env, 10, 200); // the band derived from the balance moves from large to normal
    expect(values).toMatchObject({ verdict: 'rejected', reasons: ['STATE_DRIFT'] });
    expect(values.details[0]?.message).toContain('derived values changed');

    const forbidLow = '@id("forbid-low-balance")\nforbid (principal, action, resource == Mandate::Capability::"test.spend") when { context.facts.balance < 1000 };\n';
    const env2 = await account("{ balance: 'revalidate' }", 1100, { 'policies/low.cedar': () => forbidLow });
    const policy = await spend(env2, 10, 200); // 900 when it acts: the forbid now matches
    expect(policy).toMatchObject({ verdict: 'rejected', reasons: ['STATE_DRIFT'] });
    expect(policy.details[0]?.message).toContain('policy verdict is now `forbid` (forbid-low-balance)');
  });

  it('a fact that is not judged revalidate still refuses on its own change, whatever the others say', async () => {
    const env = await account("{ balance: 'revalidate' }", 5000);
    // The owner moves too (exact by default): refused although the balance alone would re-validate.
    const acctPath = `${env.dir}/data/acct.json`;
    const { writeFileSync } = await import('node:fs');
    const staged = spend(env, 100, 0);
    writeFileSync(acctPath, JSON.stringify({ balance: 5000, owner: 'someone-else' }));
    const o = await staged;
    // The write may land before the first read (then nothing moved) or between the reads (then `owner` is named).
    if (o.verdict === 'rejected') expect(o.details).toEqual([expect.objectContaining({ code: 'STATE_DRIFT', path: 'facts.owner' })]);
    expect(judgeDrift({ balance: 1, owner: 'a' }, { balance: 2, owner: 'b' }, { balance: 'revalidate' })).toEqual({ moved: ['owner'], revalidate: ['balance'] });
  });
});

describe('an approved escalation re-validates', () => {
  const setBalance = (dir: string, balance: number) => {
    const book = readBook(dir);
    (book.accounts['operating'] as { balance_minor: number }).balance_minor = balance;
    book.version += 1;
    writeFileSync(join(dir, 'data', 'books.json'), JSON.stringify(book));
  };

  it('an approval proceeds on a moved balance that still covers the transfer, although the policy would escalate again, and is refused naming the invariant once it does not', async () => {
    const env = await setupRuntime();
    setBalance(env.dir, 30_000);
    const [first, second] = [await env.rt.kernel.govern(call('alice', transfer(20_000))), await env.rt.kernel.govern(call('alice', transfer(20_000, { idempotency_key: 'second' })))];
    expect([first?.verdict, second?.verdict]).toEqual(['escalated', 'escalated']);
    // Cedar would escalate it again (above 100.00): a human has decided, so it runs on the moved book.
    setBalance(env.dir, 25_000);
    expect(await env.rt.kernel.approve(first.decision_id, 'ops', null)).toMatchObject({ verdict: 'accepted', status: 'approved' });
    expect(readBook(env.dir).accounts['operating']?.balance_minor).toBe(5_000);
    // The first one left 50.00: the second no longer holds.
    const refused = await env.rt.kernel.approve(second.decision_id, 'ops', null);
    expect(refused).toMatchObject({ verdict: 'rejected', reasons: ['STATE_DRIFT'], details: [{ invariant: 'sufficient_funds', path: 'facts.balance_minor' }] });
    expect(readBook(env.dir).transfers).toHaveLength(1);
  });
});

describe('the template under concurrency', () => {
  it('four transfers at once from a funded account, twelve rounds: at least 95 % accepted, and the book holds exactly the accepted ones', async () => {
    // alice's 30 transfers an hour would refuse the last 18 (atomically, so never more); the load is about drift, not budgets.
    const env = await setupRuntime({ 'contracts/alice.yaml': replaceOnce('max_calls: 30', 'max_calls: 1000') });
    const outcomes: Outcome[] = [];
    for (let round = 0; round < 12; round++) {
      outcomes.push(...(await Promise.all([1, 2, 3, 4].map((i) => env.rt.kernel.govern(call('alice', transfer(10 * i + round, { idempotency_key: `c${round}-${i}` })))))));
    }
    const accepted = outcomes.filter((o) => o.verdict === 'accepted');
    expect(accepted.length / outcomes.length).toBeGreaterThanOrEqual(0.95);
    const book = readBook(env.dir) as { accounts: Record<string, { balance_minor: number }>; transfers: { decision_id: string; amount_minor: number }[] };
    expect(book.transfers.map((t) => t.decision_id).sort()).toEqual(accepted.map((o) => o.decision_id).sort());
    expect(book.accounts['operating']?.balance_minor).toBe(500_000 - book.transfers.reduce((s, t) => s + t.amount_minor, 0));
  });
});
