import pg from 'pg';
import type { StoreNotifications, StoreTopic } from '../port/port.js';

const TOPICS: readonly StoreTopic[] = ['decision', 'intervention', 'breaker', 'credential'];
const RETRY_MS = 1_000;

/** The channel a topic is announced on (NOTIFY is per database). */
export const channelOf = (topic: StoreTopic): string => `mandate_${topic}`;

/**
 * One dedicated connection that LISTENs on every topic's channel and hands
 * each notification to the subscribers of its topic. It reconnects after a
 * drop; notifications sent while it was down are lost, so every reader also
 * re-reads on a slow timer (ADR-015).
 */
export class PgListener implements StoreNotifications {
  private readonly subs = new Map<StoreTopic, Set<(payload: string) => void>>();
  private client: pg.Client | null = null;
  private closed = false;
  private retry: NodeJS.Timeout | null = null;
  private listening = false;
  /** Counts the connections that reached LISTEN: a new one may have missed what was sent while none was up. */
  private connections = 0;
  private readonly waiters = new Set<() => void>();

  constructor(private readonly config: pg.ClientConfig) {}

  on(topic: StoreTopic, fn: (payload: string) => void): () => void {
    let set = this.subs.get(topic);
    if (!set) this.subs.set(topic, (set = new Set()));
    set.add(fn);
    if (!this.client && !this.retry && !this.closed) void this.connect();
    return () => void set.delete(fn);
  }

  private async connect(): Promise<void> {
    const client = new pg.Client(this.config);
    this.client = client;
    const lost = () => {
      if (this.client !== client) return;
      this.client = null;
      this.listening = false;
      void client.end().catch(() => undefined);
      if (!this.closed) this.retry = setTimeout(() => ((this.retry = null), void this.connect()), RETRY_MS).unref();
    };
    client.on('error', lost);
    client.on('end', lost);
    client.on('notification', (n) => {
      const topic = TOPICS.find((t) => channelOf(t) === n.channel);
      if (!topic) return;
      for (const fn of this.subs.get(topic) ?? []) {
        try {
          fn(n.payload ?? '');
        } catch {
          // a subscriber's failure is its own
        }
      }
    });
    try {
      await client.connect();
      for (const t of TOPICS) await client.query(`LISTEN ${channelOf(t)}`);
      this.connections++;
      this.listening = true;
      for (const w of this.waiters) w();
      this.waiters.clear();
    } catch {
      lost();
    }
  }

  /**
   * The current listening connection's number, or null while none listens.
   * A reader that keeps what it read valid until told otherwise keeps it only
   * while this number is unchanged: notifications sent between two
   * connections are lost.
   */
  generation(): number | null {
    return this.listening ? this.connections : null;
  }

  async ready(timeoutMs = 5_000): Promise<boolean> {
    if (this.listening) return true;
    if (!this.client && !this.retry && !this.closed) void this.connect();
    return new Promise<boolean>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.waiters.delete(done);
        resolve(false);
      }, timeoutMs);
      this.waiters.add(done);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    const c = this.client;
    this.client = null;
    await c?.end().catch(() => undefined);
  }
}
