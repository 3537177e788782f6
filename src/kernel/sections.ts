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

  /** How many calls of this process wait for the section now. */
  waiting(key: string): number {
    return this.held.get(key)?.length ?? 0;
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

/** A store section held across local handovers: its release, and how many calls of this process have had it in a row. */
interface HeldInStore {
  release: () => Promise<void>;
  turns: number;
}

/**
 * A section held in this process first (a FIFO queue, no I/O), then in the
 * store across processes, both within one wait budget. So a process sends at
 * most one waiter per key to the store, and in-process waiters keep the fast
 * path. The store's section is released before the local one, so a waiter of
 * another process, already queued in the store, is not overtaken by ours.
 *
 * When a call of this process already waits for the section, the store's
 * section is handed to it with the local one instead of being released and
 * taken again (two PostgreSQL round trips, or the SQLite ticket's reads), at
 * most `maxTurns` calls in a row: then it is released, and a waiter of another
 * process, queued in the store meanwhile, gets its turn (ADR-041).
 */
export class SharedSections implements SectionLocks {
  /** Releases still on their way to the store; `settle` waits for them before the store closes. */
  private readonly releasing = new Set<Promise<void>>();
  /** Store sections being handed to the local waiter that was just granted the key; it takes them over at once. */
  private readonly handed = new Map<string, HeldInStore>();

  constructor(
    private readonly local: InProcessSections,
    private readonly shared: StoreSections,
    private readonly now: () => number,
    private readonly onReleaseError: (err: unknown) => void,
    private readonly maxTurns = 8,
  ) {}

  async acquire(key: string, waitMs: number, signal?: AbortSignal): Promise<Release | null> {
    const from = this.now();
    const local = await this.local.acquire(key, waitMs, signal);
    if (!local) return null;
    // Granted by a holder that handed its store section over: this call holds it now.
    const taken = this.handed.get(key);
    if (taken) {
      this.handed.delete(key);
      return this.releaser(key, local, taken);
    }
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
    return this.releaser(key, local, { release, turns: 1 });
  }

  private releaser(key: string, local: Release, held: HeldInStore): Release {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      if (held.turns < this.maxTurns && this.local.waiting(key) > 0) {
        // The local release grants the next waiter synchronously; its acquire finds the store section here.
        this.handed.set(key, { release: held.release, turns: held.turns + 1 });
        local();
        return;
      }
      const p = held
        .release()
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
