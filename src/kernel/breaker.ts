export type CircuitState = 'closed' | 'open' | 'half_open';

export interface BreakerOptions {
  failureThreshold: number;
  cooldownMs: number;
}

export interface Transition {
  capability: string;
  from: CircuitState;
  to: CircuitState;
}

/**
 * Per-capability circuit breakers. Closed → open after `failureThreshold`
 * consecutive failures; open → half-open once `cooldownMs` has passed, letting
 * one probe through; the probe's result closes or re-opens it. Pure state over
 * an injected `now`; the kernel records every transition in the ledger.
 */
/** A breaker as other processes sharing the store see it (ADR-015). */
export interface BreakerSnapshot {
  state: CircuitState;
  failures: number;
  openedAt: number;
}

export class Breakers {
  private readonly states = new Map<string, { state: CircuitState; failures: number; openedAt: number; probing: boolean }>();
  private changed: ((capability: string, snapshot: BreakerSnapshot) => void) | null = null;

  constructor(private readonly opts: BreakerOptions) {}

  /** Calls `fn` after every local change of a breaker's state or failure count (the composition root shares them). */
  watch(fn: (capability: string, snapshot: BreakerSnapshot) => void): void {
    this.changed = fn;
  }

  /**
   * Takes over a breaker's state from another process. A half-open breaker
   * elsewhere has its probe running there: here it counts as open from now,
   * so this process probes only if that probe's result never arrives.
   */
  adopt(capability: string, s: BreakerSnapshot, now: number): void {
    const e = this.entry(capability);
    e.failures = s.failures;
    if (s.state === 'half_open') {
      if (e.state !== 'half_open') Object.assign(e, { state: 'open', openedAt: now });
      return;
    }
    e.state = s.state;
    e.openedAt = s.openedAt;
    if (s.state === 'closed') e.probing = false;
  }

  private publish(capability: string): void {
    this.changed?.(capability, this.snapshot(capability));
  }

  private entry(capability: string) {
    let e = this.states.get(capability);
    if (!e) {
      e = { state: 'closed', failures: 0, openedAt: 0, probing: false };
      this.states.set(capability, e);
    }
    return e;
  }

  state(capability: string): CircuitState {
    return this.entry(capability).state;
  }

  snapshot(capability: string): BreakerSnapshot {
    const e = this.entry(capability);
    return { state: e.state, failures: e.failures, openedAt: e.openedAt };
  }

  /** Asks to run; returns whether it may, and any transition this caused. */
  admit(capability: string, now: number): { allowed: boolean; transition?: Transition } {
    const e = this.entry(capability);
    if (e.state === 'closed') return { allowed: true };
    if (e.state === 'open' && now - e.openedAt >= this.opts.cooldownMs) {
      e.state = 'half_open';
      e.probing = true;
      this.publish(capability);
      return { allowed: true, transition: { capability, from: 'open', to: 'half_open' } };
    }
    if (e.state === 'half_open' && !e.probing) {
      e.probing = true;
      return { allowed: true };
    }
    return { allowed: false };
  }

  /** Gives back an admission that did not run the handler (no success, no failure). */
  release(capability: string): void {
    this.entry(capability).probing = false;
  }

  /** Reports the result of an admitted run. */
  report(capability: string, success: boolean, now: number): Transition | undefined {
    const e = this.entry(capability);
    const before = `${e.state}/${e.failures}`;
    const t = this.apply(e, capability, success, now);
    if (`${e.state}/${e.failures}` !== before) this.publish(capability);
    return t;
  }

  private apply(e: { state: CircuitState; failures: number; openedAt: number; probing: boolean }, capability: string, success: boolean, now: number): Transition | undefined {
    const from = e.state;
    e.probing = false;
    if (success) {
      e.failures = 0;
      if (from !== 'closed') {
        e.state = 'closed';
        return { capability, from, to: 'closed' };
      }
      return undefined;
    }
    e.failures++;
    if (from === 'half_open' || (from === 'closed' && e.failures >= this.opts.failureThreshold)) {
      e.state = 'open';
      e.openedAt = now;
      return { capability, from, to: 'open' };
    }
    return undefined;
  }
}
