/**
 * An upstream's call slots: at most `max_concurrency` requests run at once,
 * and at most `max_queue` more wait for a slot, in order; beyond that a call
 * is refused at once rather than queued without bound. A waiter whose call
 * is cancelled leaves the queue.
 */
import { CapabilityError } from '../capabilities/manifest.js';

interface Limits {
  max_concurrency: number;
  max_queue: number;
}

export class CallSlots {
  private active = 0;
  private readonly waiters: { go: () => void; stop: (err: Error) => void }[] = [];

  constructor(
    private readonly upstream: string,
    /** Read at each call, so a reload's new limits apply to the next call. */
    private readonly limits: () => Limits,
  ) {}

  /** True when a new call would be refused: every slot taken and the queue full. */
  saturated(): boolean {
    const { max_concurrency, max_queue } = this.limits();
    return this.active >= max_concurrency && this.waiters.length >= max_queue;
  }

  /** A slot for one request: at once, after waiting in the queue, or refused UPSTREAM_UNAVAILABLE when the queue is full. */
  acquire(signal: AbortSignal): Promise<void> {
    const { max_concurrency, max_queue } = this.limits();
    if (this.active < max_concurrency) {
      this.active++;
      return Promise.resolve();
    }
    if (this.waiters.length >= max_queue) {
      return Promise.reject(new CapabilityError('UPSTREAM_UNAVAILABLE', `upstream \`${this.upstream}\` is busy: ${this.active} calls running and ${this.waiters.length} waiting`));
    }
    return new Promise((go, stop) => {
      const waiter = {
        go: () => {
          signal.removeEventListener('abort', onAbort);
          this.active++;
          go();
        },
        stop,
      };
      const onAbort = () => {
        const at = this.waiters.indexOf(waiter);
        if (at >= 0) this.waiters.splice(at, 1);
        stop(new Error('aborted while waiting for a slot'));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  /** Frees a slot; the first waiter takes it. */
  release(): void {
    this.active--;
    this.waiters.shift()?.go();
  }

  /** The upstream is shut down: every waiter is refused. */
  refuseWaiting(): void {
    for (const w of this.waiters.splice(0)) w.stop(new CapabilityError('UPSTREAM_UNAVAILABLE', `upstream \`${this.upstream}\` is shut down`));
  }
}
