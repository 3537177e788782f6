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
 */
export function sqliteSections(db: Db, opts: SqliteSectionsOptions): StoreSections {
  const host = opts.host ?? hostname();
  const pid = opts.pid ?? process.pid;
  const maxPollMs = opts.maxPollMs ?? 8;
  const take = db.prepare<[string, string, number, number]>('INSERT INTO section_tickets (key, host, pid, created_at) VALUES (?, ?, ?, ?)');
  const head = db.prepare<[string], Ticket>('SELECT ticket, host, pid FROM section_tickets WHERE key = ? ORDER BY ticket LIMIT 1');
  const drop = db.prepare<[number]>('DELETE FROM section_tickets WHERE ticket = ?');
  const own = (ticket: number) => `${db.name}\n${ticket}`;
  // A ticket of this process at the head that no port here holds or waits with was left behind (a failed release) and is dropped.
  const gone = (t: Ticket) => (t.host === host && t.pid === pid ? !LIVE.has(own(t.ticket)) : t.host === host && !opts.pidAlive(t.pid));
  const give = (ticket: number) => {
    LIVE.delete(own(ticket));
    drop.run(ticket);
  };

  return {
    async acquire(key, waitMs, signal) {
      if (signal?.aborted || waitMs < 1) return null;
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
            return async () => give(ticket);
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
  };
}
