import type { Capability, Values } from '../capabilities/manifest.js';
import type { StoreSections } from '../store/port/index.js';

/** Ends a held section. */
export type Release = () => void;

/**
 * Effect sections (ADR-017, ADR-019): calls on one resource run the span from
 * the facts re-read to the end of the effect one at a time, so the drift
 * check still holds when the effect starts. `InProcessSections` holds within
 * a process; `SharedSections` adds the store's, across processes.
 */
export interface SectionLocks {
  /** Waits (first come, first served) until the section is free or `waitMs` passes or `signal` aborts; null if it was not acquired. */
  acquire(key: string, waitMs: number, signal?: AbortSignal): Promise<Release | null>;
}

interface Waiter {
  grant(release: Release): void;
}

export class InProcessSections implements SectionLocks {
  private readonly held = new Map<string, Waiter[]>();

  acquire(key: string, waitMs: number, signal?: AbortSignal): Promise<Release | null> {
    const queue = this.held.get(key);
    if (!queue) {
      this.held.set(key, []);
      return Promise.resolve(this.releaser(key));
    }
    return new Promise((resolve) => {
      const waiter: Waiter = {
        grant: (release) => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', giveUp);
          resolve(release);
        },
      };
      const giveUp = () => {
        const i = queue.indexOf(waiter);
        if (i >= 0) queue.splice(i, 1);
        clearTimeout(timer);
        signal?.removeEventListener('abort', giveUp);
        resolve(null);
      };
      queue.push(waiter);
      const timer = setTimeout(giveUp, Math.max(waitMs, 0));
      signal?.addEventListener('abort', giveUp, { once: true });
    });
  }

  /** How many sections are held now (tests). */
  get size(): number {
    return this.held.size;
  }

  private releaser(key: string): Release {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const queue = this.held.get(key);
      const next = queue?.shift();
      if (next) next.grant(this.releaser(key));
      else this.held.delete(key);
    };
  }
}

/**
 * A section held in this process first (a FIFO queue, no I/O), then in the
 * store across processes, both within one wait budget. So a process sends at
 * most one waiter per key to the store, and in-process waiters keep the fast
 * path. The store's section is released before the local one, so a waiter of
 * another process, already queued in the store, is not overtaken by ours.
 */
export class SharedSections implements SectionLocks {
  /** Releases still on their way to the store; `settle` waits for them before the store closes. */
  private readonly releasing = new Set<Promise<void>>();

  constructor(
    private readonly local: SectionLocks,
    private readonly shared: StoreSections,
    private readonly now: () => number,
    private readonly onReleaseError: (err: unknown) => void,
  ) {}

  async acquire(key: string, waitMs: number, signal?: AbortSignal): Promise<Release | null> {
    const from = this.now();
    const local = await this.local.acquire(key, waitMs, signal);
    if (!local) return null;
    let release: (() => Promise<void>) | null;
    try {
      release = await this.shared.acquire(key, Math.max(waitMs - (this.now() - from), 0), signal);
    } catch (err) {
      local();
      throw err;
    }
    if (!release) {
      local();
      return null;
    }
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const p = release()
        .catch(this.onReleaseError)
        .finally(() => {
          local();
          this.releasing.delete(p);
        });
      this.releasing.add(p);
    };
  }

  /** Resolves once every release has reached the store. */
  async settle(): Promise<void> {
    await Promise.all([...this.releasing]);
  }
}

/**
 * The section a call's effect needs: the capability's own resource key, else
 * the capability itself for `write` and `destructive` ones (safe by default);
 * none for reads and for capabilities that manage their own concurrency.
 */
export function sectionKey(cap: Capability, params: Values): string | null {
  if (cap.def.concurrency === 'self') return null;
  if (cap.def.serializeBy) return `resource:${cap.def.serializeBy(params)}`;
  return cap.def.sideEffect === 'read' ? null : `capability:${cap.def.id}`;
}
