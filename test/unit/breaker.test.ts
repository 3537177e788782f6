import { describe, expect, it } from 'vitest';
import { Breakers } from '../../src/kernel/breaker.js';

const CAP = 'payments.transfer';

function opened(threshold = 3, cooldownMs = 1_000): Breakers {
  const b = new Breakers({ failureThreshold: threshold, cooldownMs });
  for (let i = 0; i < threshold; i++) {
    expect(b.admit(CAP, 0).allowed).toBe(true);
    b.report(CAP, false, 100);
  }
  expect(b.state(CAP)).toBe('open');
  return b;
}

describe('circuit breakers', () => {
  it('stays closed below the threshold and opens after N consecutive failures, returning the transition', () => {
    const b = new Breakers({ failureThreshold: 3, cooldownMs: 1_000 });
    expect(b.state(CAP)).toBe('closed');
    expect(b.report(CAP, false, 10)).toBeUndefined();
    expect(b.report(CAP, false, 20)).toBeUndefined();
    expect(b.state(CAP)).toBe('closed');
    expect(b.report(CAP, false, 30)).toEqual({ capability: CAP, from: 'closed', to: 'open' });
    expect(b.state(CAP)).toBe('open');
  });

  it('a success in between resets the consecutive-failure count', () => {
    const b = new Breakers({ failureThreshold: 2, cooldownMs: 1_000 });
    b.report(CAP, false, 0);
    expect(b.report(CAP, true, 1)).toBeUndefined();
    expect(b.report(CAP, false, 2)).toBeUndefined();
    expect(b.state(CAP)).toBe('closed');
  });

  it('refuses while open, until the cooldown has passed', () => {
    const b = opened(3, 1_000); // opened at t=100
    expect(b.admit(CAP, 100)).toEqual({ allowed: false });
    expect(b.admit(CAP, 1_099)).toEqual({ allowed: false });
    expect(b.state(CAP)).toBe('open');
  });

  it('half-open after the cooldown admits exactly one probe', () => {
    const b = opened(3, 1_000);
    expect(b.admit(CAP, 1_100)).toEqual({ allowed: true, transition: { capability: CAP, from: 'open', to: 'half_open' } });
    expect(b.state(CAP)).toBe('half_open');
    expect(b.admit(CAP, 1_101)).toEqual({ allowed: false });
    expect(b.admit(CAP, 50_000)).toEqual({ allowed: false });
  });

  it('a successful probe closes the circuit', () => {
    const b = opened();
    b.admit(CAP, 5_000);
    expect(b.report(CAP, true, 5_001)).toEqual({ capability: CAP, from: 'half_open', to: 'closed' });
    expect(b.state(CAP)).toBe('closed');
    expect(b.admit(CAP, 5_002)).toEqual({ allowed: true });
  });

  it('a failed probe re-opens the circuit and restarts the cooldown', () => {
    const b = opened(3, 1_000);
    b.admit(CAP, 5_000);
    expect(b.report(CAP, false, 5_010)).toEqual({ capability: CAP, from: 'half_open', to: 'open' });
    expect(b.state(CAP)).toBe('open');
    expect(b.admit(CAP, 6_009).allowed).toBe(false); // cooldown counts from the re-open
    expect(b.admit(CAP, 6_010)).toEqual({ allowed: true, transition: { capability: CAP, from: 'open', to: 'half_open' } });
  });

  it('a released probe (handler never ran) lets the next call probe instead, without a transition', () => {
    const b = opened(3, 1_000);
    expect(b.admit(CAP, 2_000).allowed).toBe(true); // the probe
    b.release(CAP); // e.g. facts drifted: no success, no failure
    expect(b.state(CAP)).toBe('half_open');
    expect(b.admit(CAP, 2_001)).toEqual({ allowed: true });
    expect(b.admit(CAP, 2_002)).toEqual({ allowed: false });
  });

  it('keeps one breaker per capability', () => {
    const b = opened();
    expect(b.state('files.write')).toBe('closed');
    expect(b.admit('files.write', 0)).toEqual({ allowed: true });
  });
});
