// Property: a child is never allowed a call that any ancestor would be refused at that moment.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { intervene } from '../../src/kernel/interventions.js';
import { call, setupRuntime, type Env } from './helpers.js';

const MIN = 60_000;
const PAYEES = ['a', 'b', 'c'] as const;

const PAY = `
export default function define({ z }) {
  return [{
    id: 'test.pay',
    version: '1.0.0',
    description: 'Pays a payee (tests only).',
    sideEffect: 'write',
    concurrency: 'self',
    input: z.object({ amount_minor: z.number().int().positive(), payee: z.enum(['a', 'b', 'c']) }),
    output: z.object({ ok: z.boolean() }),
    handler: () => ({ ok: true }),
  }];
}
`;

interface Limits {
  max: number;
  allowed: string[];
  budget: number;
}

const limits = fc.record({ max: fc.integer({ min: 50, max: 600 }), allowed: fc.subarray([...PAYEES], { minLength: 2 }), budget: fc.integer({ min: 200, max: 2_000 }) });

/** Limits within `l` (a sub-mandate that fits), or any limits (one that may not), so both kinds of creation are tried. */
const within = (l: Limits): fc.Arbitrary<Limits> =>
  fc.oneof(
    { weight: 4, arbitrary: fc.record({ max: fc.integer({ min: Math.ceil(l.max / 2), max: l.max }), allowed: fc.subarray(l.allowed, { minLength: 1 }), budget: fc.integer({ min: Math.ceil(l.budget / 2), max: l.budget }) }) },
    { weight: 1, arbitrary: limits },
  );
const chainLimits = limits.chain((root) => within(root).chain((mid) => within(mid).map((leaf) => [root, mid, leaf] as const)));

/** What the runs exercised, so the property cannot pass by never reaching a call. */
const seen = { accepted: 0, refused: 0, refusedCreations: 0 };

type Step =
  | { kind: 'call'; amount: number; payee: string }
  | { kind: 'pause'; who: 'root' | 'mid' }
  | { kind: 'resume'; who: 'root' | 'mid' }
  | { kind: 'constrain'; max: number }
  | { kind: 'advance'; minutes: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 10, arbitrary: fc.record({ kind: fc.constant('call' as const), amount: fc.oneof({ weight: 3, arbitrary: fc.integer({ min: 1, max: 30 }) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 700 }) }), payee: fc.constantFrom(...PAYEES) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('pause' as const), who: fc.constantFrom('root' as const, 'mid' as const) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('resume' as const), who: fc.constantFrom('root' as const, 'mid' as const) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('constrain' as const), max: fc.integer({ min: 10, max: 600 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('advance' as const), minutes: fc.integer({ min: 1, max: 25 }) }) },
);

function grant(l: Limits) {
  return { capability: 'test.pay', limits: { max: { amount_minor: l.max }, allowed: { payee: l.allowed }, budgets: [{ window: '1d', sum: 'amount_minor', max: l.budget }] } };
}

/** The oracle: whether one link, on its own, would take this call now. */
function linkAllows(l: Limits, spent: number, amount: number, payee: string, cap = Number.POSITIVE_INFINITY): boolean {
  return amount <= l.max && amount <= cap && l.allowed.includes(payee) && spent + amount <= l.budget;
}

async function runScenario(env: Env, root: Limits, mid: Limits, leaf: Limits, steps: Step[]): Promise<void> {
  const k = env.rt.kernel;
  const made = (o: { verdict: string }) => o.verdict === 'accepted';
  const midMade = made(await k.govern(call('root', { capability: 'delegation.create', params: { child: 'mid', purpose: 'mid', grants: [grant(mid)], may_delegate: true, max_depth: 1, expires_in_minutes: 60 } })));
  const midFits = mid.max <= root.max && mid.allowed.every((p) => root.allowed.includes(p)) && mid.budget <= root.budget;
  expect(midMade).toBe(midFits);
  if (!midMade) return void seen.refusedCreations++;
  const leafMade = made(await k.govern(call('mid', { capability: 'delegation.create', params: { child: 'leaf', purpose: 'leaf', grants: [grant(leaf)], expires_in_minutes: 30 } })));
  expect(leafMade).toBe(leaf.max <= mid.max && leaf.allowed.every((p) => mid.allowed.includes(p)) && leaf.budget <= mid.budget);
  if (!leafMade) return void seen.refusedCreations++;

  const start = env.world.now();
  let spent = 0; // every link's usage: only the leaf spends, and it counts against all three
  const paused = { root: false, mid: false };
  let rootCap = Number.POSITIVE_INFINITY;
  for (const s of steps) {
    if (s.kind === 'call') {
      const o = await k.govern(call('leaf', { capability: 'test.pay', params: { amount_minor: s.amount, payee: s.payee } }));
      const live = env.world.now() < start + 30 * MIN;
      const oracle = live && !paused.root && !paused.mid && linkAllows(leaf, spent, s.amount, s.payee) && linkAllows(mid, spent, s.amount, s.payee) && linkAllows(root, spent, s.amount, s.payee, rootCap);
      // Never allowed what an ancestor would refuse; and, exactly, allowed whatever all of them would take.
      expect(o.verdict === 'accepted', `${JSON.stringify(s)} → ${o.reasons.join(',')}`).toBe(oracle);
      if (o.verdict === 'accepted') spent += s.amount;
      seen[o.verdict === 'accepted' ? 'accepted' : 'refused']++;
    } else if (s.kind === 'advance') env.world.advance(s.minutes * MIN);
    else if (s.kind === 'constrain') {
      const r = await intervene(k, { kind: 'operator', id: 'ops' }, { act: 'constrain', target: { agent: 'root' }, reason: 'property', constrain: { capability: 'test.pay', field: 'amount_minor', max: s.max, minutes: 1_000 } });
      if (r.verdict === 'accepted') rootCap = Math.min(rootCap, s.max);
    } else {
      await intervene(k, { kind: 'operator', id: 'ops' }, { act: s.kind, target: { agent: s.who }, reason: 'property' });
      paused[s.who] = s.kind === 'pause';
    }
  }
}

describe('delegation: monotonic at call time (property)', () => {
  it('a child is never allowed a call any ancestor would refuse at that moment: limits, allowed values, budgets, expiry, interventions mid-sequence', async () => {
    await fc.assert(
      fc.asyncProperty(chainLimits, fc.array(step, { minLength: 4, maxLength: 16 }), async ([root, mid, leaf], steps) => {
        const env = await setupRuntime({
          'capabilities/pay.mjs': () => PAY,
          'contracts/root.yaml': () =>
            `agent: root\nversion: 1\nowner: ops@example.com\nmission: property\nrole: agent\ngrants:\n  - ${JSON.stringify(grant(root))}\ndelegation:\n  capabilities: [test.pay]\n  max_depth: 2\n`,
        });
        await runScenario(env, root, mid, leaf, steps);
      }),
      { numRuns: 25, seed: 20261206, endOnFailure: true },
    );
    expect(seen.accepted).toBeGreaterThan(5);
    expect(seen.refused).toBeGreaterThan(5);
    expect(seen.refusedCreations).toBeGreaterThan(0);
  }, 240_000);
});
