import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Capability, Facts } from '../../src/capabilities/manifest.js';
import type { Contract } from '../../src/config/contract-schema.js';
import type { Intent } from '../../src/core/types.js';
import { usageKey, validateIntent, type DimInput, type UsageSnapshot } from '../../src/kernel/dim.js';
import { aliceContract, contract, T0, transferCapability } from './helpers.js';

const FACTS: Facts = { version: '7', balance_minor: 100_000, account_currency: 'EUR' };

function input(over: {
  intent?: Partial<Intent>;
  params?: Record<string, unknown>;
  contract?: Contract;
  capability?: Capability | undefined;
  facts?: DimInput['facts'];
  usage?: UsageSnapshot;
  receivedAt?: number;
  now?: number;
}): DimInput {
  const capability = 'capability' in over ? over.capability : transferCapability();
  const params = over.params ?? { from_account: 'operating', payee: 'acme-supplies', amount_minor: 1000, currency: 'EUR' };
  const intent: Intent = { capability: 'payments.transfer', params, ...over.intent };
  return {
    intent,
    contract: over.contract ?? aliceContract(),
    capability,
    params: capability ? capability.def.input.safeParse(intent.params) : undefined,
    facts: 'facts' in over ? over.facts : { ok: true, facts: FACTS },
    usage: over.usage ?? {},
    receivedAt: over.receivedAt ?? T0,
    now: over.now ?? T0,
  };
}

const codes = (r: ReturnType<typeof validateIntent>) => (r.ok ? [] : r.details.map((d) => d.code));

describe('DIM (validateIntent)', () => {
  afterEach(() => vi.restoreAllMocks());

  it('accepts a valid intent and returns params, facts and derived values', () => {
    const r = validateIntent(input({}));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.grant.capability).toBe('payments.transfer');
    expect(r.values).toEqual({ from_account: 'operating', payee: 'acme-supplies', amount_minor: 1000, currency: 'EUR' });
    expect(r.facts).toEqual(FACTS);
  });

  it('is pure and deterministic: same input twice gives deep-equal results and the input is not mutated', () => {
    // Read no clock ad hoc: Date.now would blow up if DIM touched it.
    vi.spyOn(Date, 'now').mockImplementation(() => {
      throw new Error('DIM read the wall clock');
    });
    const failing = input({ params: { from_account: 'operating', payee: 'acme-supplies', amount_minor: 60_000, currency: 'USD' }, usage: { [usageKey('1h', '_calls')]: 30 } });
    const snapshot = structuredClone({ intent: failing.intent, facts: failing.facts, usage: failing.usage });
    const a = validateIntent(failing);
    const b = validateIntent(failing);
    expect(a).toEqual(b);
    expect(a.ok).toBe(false);
    expect({ intent: failing.intent, facts: failing.facts, usage: failing.usage }).toEqual(snapshot);
    // The same input twice (an accepted result carries the input's own capability object, handler and all).
    const accepted = input({});
    const okA = validateIntent(accepted);
    const okB = validateIntent(accepted);
    expect(okA.ok).toBe(true);
    expect(okA).toEqual(okB);
  });

  it('reports every failing limit, budget and invariant together, not only the first', () => {
    const r = validateIntent(
      input({
        params: { from_account: 'operating', payee: 'acme-supplies', amount_minor: 60_000, currency: 'USD' },
        facts: { ok: true, facts: { version: '7', balance_minor: 1_000, account_currency: 'EUR' } },
        usage: { [usageKey('1d', 'amount_minor')]: 150_000, [usageKey('1h', '_calls')]: 30 },
      }),
    );
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.details.map((d) => [d.code, d.path ?? d.invariant])).toEqual([
      ['CONTRACT_LIMIT_EXCEEDED', 'amount_minor'], // above max 50000
      ['CONTRACT_LIMIT_EXCEEDED', 'currency'], // USD not allowed
      ['BUDGET_EXCEEDED', 'budgets.1d.amount_minor'], // 150000 + 60000 > 200000
      ['BUDGET_EXCEEDED', 'budgets.1h.calls'], // 30 + 1 > 30
      ['INVARIANT_VIOLATED', 'currency_matches_account'],
      ['INVARIANT_VIOLATED', 'sufficient_funds'], // 60000 > 1000
    ]);
    expect(r.grant?.capability).toBe('payments.transfer');
  });

  it('runs the checks in the documented order (TTL, observed_version, limits, budgets, invariants)', () => {
    const r = validateIntent(
      input({
        intent: { created_at: new Date(T0).toISOString(), ttl_seconds: 10, observed_version: '6' },
        params: { from_account: 'operating', payee: 'acme-supplies', amount_minor: 60_000, currency: 'EUR' },
        facts: { ok: true, facts: { version: '7', balance_minor: 1, account_currency: 'EUR' } },
        usage: { [usageKey('1h', '_calls')]: 30 },
        receivedAt: T0 + 11_000,
        now: T0 + 11_000,
      }),
    );
    expect(codes(r)).toEqual(['TTL_EXPIRED', 'STATE_DRIFT', 'CONTRACT_LIMIT_EXCEEDED', 'BUDGET_EXCEEDED', 'INVARIANT_VIOLATED']);
  });

  it('stops at CAPABILITY_UNKNOWN before anything else', () => {
    const r = validateIntent(
      input({ capability: undefined, intent: { capability: 'nope.nothing', ttl_seconds: 1 }, params: { junk: true }, facts: undefined, now: T0 + 3_600_000 }),
    );
    expect(r).toEqual({ ok: false, details: [{ code: 'CAPABILITY_UNKNOWN', message: 'no capability `nope.nothing`', path: 'capability' }] });
  });

  it('stops at CAPABILITY_NOT_GRANTED before schema, TTL and facts', () => {
    const bob = contract({ agent: 'bob', grants: [{ capability: 'payments.get_balance' }] });
    const r = validateIntent(input({ contract: bob, params: { amount_minor: 'lots' }, intent: { ttl_seconds: 1 }, facts: undefined, now: T0 + 3_600_000 }));
    expect(codes(r)).toEqual(['CAPABILITY_NOT_GRANTED']);
    expect(r.ok === false && r.grant).toBeFalsy();
  });

  it('lists each SCHEMA_INVALID issue with its path and stops there', () => {
    const r = validateIntent(
      input({ params: { from_account: 'operating', amount_minor: -5, currency: 'GBP' }, intent: { ttl_seconds: 1 }, now: T0 + 3_600_000 }),
    );
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.details.every((d) => d.code === 'SCHEMA_INVALID')).toBe(true);
    expect(r.details.map((d) => d.path).sort()).toEqual(['params.amount_minor', 'params.currency', 'params.payee']);
    // TTL is long gone, but a schema failure stops the run before TTL is checked.
    expect(codes(r)).not.toContain('TTL_EXPIRED');
  });

  it('TTL boundary: now == created_at + ttl passes, one millisecond later is TTL_EXPIRED', () => {
    const created = new Date(T0).toISOString();
    const at = (now: number) => validateIntent(input({ intent: { created_at: created, ttl_seconds: 60 }, receivedAt: now, now }));
    expect(at(T0 + 60_000).ok).toBe(true);
    const late = at(T0 + 60_001);
    expect(codes(late)).toEqual(['TTL_EXPIRED']);
  });

  it('TTL falls back to the contract default_ttl_seconds and counts from receipt without created_at', () => {
    const c = contract({ ...aliceContract(), default_ttl_seconds: 5 });
    expect(validateIntent(input({ contract: c, receivedAt: T0, now: T0 + 5_000 })).ok).toBe(true);
    expect(codes(validateIntent(input({ contract: c, receivedAt: T0, now: T0 + 5_001 })))).toEqual(['TTL_EXPIRED']);
  });

  it('created_at more than 5 minutes in the future is SCHEMA_INVALID; exactly 5 minutes is tolerated', () => {
    const edge = validateIntent(input({ intent: { created_at: new Date(T0 + 300_000).toISOString() }, receivedAt: T0, now: T0 }));
    expect(edge.ok).toBe(true);
    const future = validateIntent(input({ intent: { created_at: new Date(T0 + 300_001).toISOString() }, receivedAt: T0, now: T0 }));
    expect(future.ok).toBe(false);
    if (future.ok) return;
    expect(future.details).toEqual([{ code: 'SCHEMA_INVALID', message: 'created_at is in the future', path: 'created_at' }]);
    const garbage = validateIntent(input({ intent: { created_at: 'yesterday-ish' } }));
    expect(garbage.ok === false && garbage.details[0]).toMatchObject({ code: 'SCHEMA_INVALID', path: 'created_at' });
  });

  it('observed_version that differs from the facts version is STATE_DRIFT; the current one passes', () => {
    expect(codes(validateIntent(input({ intent: { observed_version: '6' } })))).toEqual(['STATE_DRIFT']);
    expect(validateIntent(input({ intent: { observed_version: '7' } })).ok).toBe(true);
  });

  it('budget boundary: usage + amount == max passes, one more is BUDGET_EXCEEDED', () => {
    const at = (amount: number) =>
      validateIntent(input({ params: { from_account: 'operating', payee: 'acme-supplies', amount_minor: amount, currency: 'EUR' }, usage: { [usageKey('1d', 'amount_minor')]: 190_000 } }));
    expect(at(10_000).ok).toBe(true);
    const over = at(10_001);
    expect(over.ok === false && over.details).toEqual([{ code: 'BUDGET_EXCEEDED', message: '`amount_minor` of 10001 would bring the 1d total to 200001, over 200000 (190000 already)', path: 'budgets.1d.amount_minor' }]);
    // Calls: 29 used + this one == 30 passes; 30 used is refused.
    expect(validateIntent(input({ usage: { [usageKey('1h', '_calls')]: 29 } })).ok).toBe(true);
    expect(codes(validateIntent(input({ usage: { [usageKey('1h', '_calls')]: 30 } })))).toEqual(['BUDGET_EXCEEDED']);
  });

  it('a throwing invariant counts as violated', () => {
    const cap = transferCapability({
      invariants: [
        {
          id: 'explodes',
          message: 'cannot be evaluated',
          check: () => {
            throw new Error('boom');
          },
        },
        { id: 'truthy_not_true', message: 'returns 1, not true', check: () => 1 as unknown as boolean },
        { id: 'holds', message: 'holds', check: () => true },
      ],
    });
    const r = validateIntent(input({ capability: cap }));
    expect(r.ok === false && r.details).toEqual([
      { code: 'INVARIANT_VIOLATED', message: 'cannot be evaluated', invariant: 'explodes' },
      { code: 'INVARIANT_VIOLATED', message: 'returns 1, not true', invariant: 'truthy_not_true' },
    ]);
  });

  it('unavailable facts report FACTS_UNAVAILABLE (after TTL) and stop before limits and invariants', () => {
    const r = validateIntent(
      input({
        facts: { ok: false, message: 'facts resolver failed (timeout)' },
        params: { from_account: 'operating', payee: 'acme-supplies', amount_minor: 60_000, currency: 'USD' },
        intent: { ttl_seconds: 1 },
        now: T0 + 2_000,
      }),
    );
    expect(codes(r)).toEqual(['TTL_EXPIRED', 'FACTS_UNAVAILABLE']);
  });

  it('limits apply to kernel-derived values, not to what the agent claims', () => {
    const cap = transferCapability({
      derive: (params) => ({ amount_minor: (params['amount_minor'] as number) * 1000 }),
    });
    const r = validateIntent(input({ capability: cap, params: { from_account: 'operating', payee: 'acme-supplies', amount_minor: 60, currency: 'EUR' } }));
    expect(codes(r)).toEqual(['CONTRACT_LIMIT_EXCEEDED']);
    const throwing = transferCapability({
      derive: () => {
        throw new Error('no price');
      },
    });
    const d = validateIntent(input({ capability: throwing }));
    expect(d.ok === false && d.details).toEqual([{ code: 'INVARIANT_VIOLATED', message: 'derive failed: no price', invariant: 'derive' }]);
  });
});
