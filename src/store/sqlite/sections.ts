import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Db } from './db.js';
import type { StoreSections } from '../port/port.js';

interface Ticket {
  ticket: number;
  host: string;
  pid: number;
}

/** Tickets held or awaited by any port of this process, by file and ticket (two ports on one file share it). */
const LIVE = new Set<string>();

export interface SqliteSectionsOptions {
  /** This process (default: the host name and pid). */
  host?: string;
  pid?: number;
  /** Whether a process of this host exists (default: signal 0, as crash recovery asks). */
  pidAlive: (pid: number) => boolean;
  /** Longest pause between two looks at the queue. */
  maxPollMs?: number;
  /** How long a released ticket nobody queued behind is kept for this process's next call on the key (0: dropped at once). */
  keepMs?: number;
}

/** The store's sections, and the end of its kept tickets when the store closes. */
export interface SqliteSections extends StoreSections {
  close(): void;
}

/**
 * Effect sections across the processes sharing one SQLite file (ADR-019). A
 * waiter takes a ticket (a row of `section_tickets`); per key, the lowest
 * ticket holds the section, so it is granted first come, first served across
 * processes. A ticket whose process is gone (this host: its pid is not
 * alive) is dropped by whoever finds it at the head, so a holder killed with
 * kill -9 frees its section at once. Tickets of another host are never
 * judged: one SQLite file in WAL mode is one host's. The writes are tiny
 * autocommits on the store's connection, between its group commits.
 *
 * Each autocommit is a WAL commit of its own, two per call. So a released
 * ticket that nobody queued behind is kept for up to `keepMs` (ADR-032): the
 * next call of this process on the key finds it at the head with nobody
 * behind, and holds the section again with one read and no write. A waiter of
 * another process that queues meanwhile is seen by that next call (which
 * drops its ticket and queues behind the waiter, so the order stays first
 * come, first served) or by the sweep that drops tickets kept longer than
 * `keepMs`, whichever comes first.
 */
export function sqliteSections(db: Db, opts: SqliteSectionsOptions): SqliteSections {
  const host = opts.host ?? hostname();
  const pid = opts.pid ?? process.pid;
  const maxPollMs = opts.maxPollMs ?? 8;
  const keepMs = opts.keepMs ?? 5;
  const take = db.prepare<[string, string, number, number]>('INSERT INTO section_tickets (key, host, pid, created_at) VALUES (?, ?, ?, ?)');
  const head = db.prepare<[string], Ticket>('SELECT ticket, host, pid FROM section_tickets WHERE key = ? ORDER BY ticket LIMIT 1');
  // The head and the ticket after it: a kept ticket is reused only at the head with nobody behind.
  const firstTwo = db.prepare<[string], { ticket: number }>('SELECT ticket FROM section_tickets WHERE key = ? ORDER BY ticket LIMIT 2');
  const behind = db.prepare<[string, number], { one: number }>('SELECT 1 AS one FROM section_tickets WHERE key = ? AND ticket > ? LIMIT 1');
  const drop = db.prepare<[number]>('DELETE FROM section_tickets WHERE ticket = ?');
  const own = (ticket: number) => `${db.name}\n${ticket}`;
  // A ticket of this process at the head that no port here holds, waits with or keeps was left behind (a failed release) and is dropped.
  const gone = (t: Ticket) => (t.host === host && t.pid === pid ? !LIVE.has(own(t.ticket)) : t.host === host && !opts.pidAlive(t.pid));
  const give = (ticket: number) => {
    LIVE.delete(own(ticket));
    drop.run(ticket);
  };

  /** Released tickets kept for the next call on their key, with when they were released. */
  const kept = new Map<string, { ticket: number; at: number }>();
  let sweeper: NodeJS.Timeout | null = null;
  const sweep = () => {
    const old = Date.now() - keepMs;
    for (const [key, k] of kept) {
      if (k.at > old) continue;
      kept.delete(key);
      try {
        give(k.ticket);
      } catch {
        // A store closed under it: the ticket has left LIVE, so a port of this process drops it, and others judge it by pid.
      }
    }
    if (!kept.size && sweeper) {
      clearInterval(sweeper);
      sweeper = null;
    }
  };
  let closed = false;
  const release = (key: string, ticket: number) => {
    if (closed || keepMs <= 0 || behind.get(key, ticket)) return give(ticket);
    kept.set(key, { ticket, at: Date.now() });
    // The sweeper must not keep the process alive; a process that exits without closing leaves its tickets to be dropped by pid.
    sweeper ??= setInterval(sweep, keepMs).unref();
  };
  /** This process's kept ticket for `key`, if it still heads the queue with nobody behind; otherwise it is dropped. */
  const reuse = (key: string): number | null => {
    const k = kept.get(key);
    if (!k) return null;
    kept.delete(key);
    const [first, second] = firstTwo.all(key);
    if (first?.ticket === k.ticket && !second) return k.ticket;
    give(k.ticket);
    return null;
  };

  return {
    async acquire(key, waitMs, signal) {
      if (signal?.aborted || waitMs < 1) return null;
      const again = reuse(key);
      if (again !== null) return async () => release(key, again);
      const until = Date.now() + waitMs;
      const ticket = Number(take.run(key, host, pid, Date.now()).lastInsertRowid);
      LIVE.add(own(ticket));
      let pause = 1;
      let ahead = 0;
      try {
        for (;;) {
          const first = head.get(key);
          if (!first) throw new Error('an effect section ticket disappeared');
          if (first.ticket === ticket) {
            return async () => release(key, ticket);
          }
          // The queue moved: look again soon, the section is likely handed over.
          if (first.ticket !== ahead) {
            ahead = first.ticket;
            pause = 1;
          }
          if (gone(first)) {
            drop.run(first.ticket);
            continue;
          }
          const left = until - Date.now();
          if (left <= 0 || signal?.aborted) {
            give(ticket);
            return null;
          }
          await sleep(Math.min(pause, left), undefined, signal ? { signal } : undefined).catch(() => undefined);
          pause = Math.min(pause * 2, maxPollMs);
        }
      } catch (err) {
        give(ticket);
        throw err;
      }
    },
    close() {
      closed = true;
      if (sweeper) clearInterval(sweeper);
      sweeper = null;
      for (const k of kept.values()) give(k.ticket);
      kept.clear();
    },
  };
}
