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
export class Breakers {
  private readonly states = new Map<string, { state: CircuitState; failures: number; openedAt: number; probing: boolean }>();

  constructor(private readonly opts: BreakerOptions) {}

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

  /** Asks to run; returns whether it may, and any transition this caused. */
  admit(capability: string, now: number): { allowed: boolean; transition?: Transition } {
    const e = this.entry(capability);
    if (e.state === 'closed') return { allowed: true };
    if (e.state === 'open' && now - e.openedAt >= this.opts.cooldownMs) {
      e.state = 'half_open';
      e.probing = true;
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
