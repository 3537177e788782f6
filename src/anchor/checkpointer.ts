import type { KeyObject } from 'node:crypto';
import type { Logger } from '../core/log.js';
import type { Receipt } from '../core/types.js';
import { appendCheckpoint, signCheckpoint } from './checkpoint.js';

export interface CheckpointerOptions {
  /** The chain head, read through the ledger's read API (null: the ledger is empty). */
  readHead: () => Receipt | null | Promise<Receipt | null>;
  key: KeyObject;
  /** File (.jsonl) or folder the checkpoints are appended to. */
  path: string;
  everyEvents: number;
  everySeconds: number;
  now: () => number;
  log: Logger;
  /** How often the head is looked at; a checkpoint is due after everyEvents or everySeconds. */
  pollMs?: number;
}

/**
 * Signs a checkpoint of the chain head every N events or T seconds while a
 * server runs, once at start (covering what one-shot commands appended since)
 * and once at stop (ADR-016). It only reads the head: the ledger never waits
 * for it, and a failed write is logged and retried at the next tick.
 */
export class Checkpointer {
  private last: Receipt | null = null;
  private lastAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();

  constructor(private readonly opts: CheckpointerOptions) {}

  /** Writes the first checkpoint and starts the timer; returns the stop function, which writes the last one. */
  start(): () => Promise<void> {
    this.tick(true);
    this.timer = setInterval(() => this.tick(false), this.opts.pollMs ?? 250);
    this.timer.unref();
    return async () => {
      clearInterval(this.timer);
      this.tick(true);
      await this.running;
    };
  }

  /** Chains ticks so two never overlap. */
  private tick(force: boolean): void {
    this.running = this.running.then(() => this.maybeCheckpoint(force));
  }

  private async maybeCheckpoint(force: boolean): Promise<void> {
    const { opts } = this;
    try {
      const head = await opts.readHead();
      if (!head || (this.last && head.seq === this.last.seq && head.hash === this.last.hash)) return;
      const now = opts.now();
      const due = force || !this.last || head.seq - this.last.seq >= opts.everyEvents || now - this.lastAt >= opts.everySeconds * 1000;
      if (!due) return;
      const checkpoint = signCheckpoint({ v: 1, seq: head.seq, hash: head.hash, time: new Date(now).toISOString() }, opts.key);
      appendCheckpoint(opts.path, checkpoint);
      this.last = head;
      this.lastAt = now;
      opts.log.debug({ seq: head.seq, key_id: checkpoint.key_id }, 'ledger checkpoint signed');
    } catch (err) {
      opts.log.error({ err: { name: (err as Error)?.name, code: (err as NodeJS.ErrnoException)?.code } }, 'ledger checkpoint failed; retrying at the next tick');
    }
  }
}
