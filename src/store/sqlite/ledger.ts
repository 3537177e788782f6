import type { Receipt } from '../../core/types.js';
import type { World } from '../../core/world.js';
import { eventsOfRows, GENESIS_HASH, openEvent, rowParams, sealRecord } from '../port/events.js';
import type { LedgerReads, Sync } from '../port/port.js';
import type { EventRow, LedgerEvent, NewEvent, VerifyResult } from '../port/rows.js';
import { events as sql } from '../tables/events.js';
import type { Db } from './db.js';
import { checkChunk, linkChunks, TO_THE_END } from './ledger-chunks.js';
import { prepare } from './stmt.js';

/**
 * The append-only, hash-chained event log. Each append is its own IMMEDIATE
 * transaction that reads the chain head under the write lock, so several
 * processes (the server and the CLI) extend one chain correctly.
 */
export class Ledger implements Sync<LedgerReads> {
  private readonly head;
  private readonly insert;
  private readonly pageStmt;
  private readonly dfidStmt;
  /** The chain head inside `inTransaction` (null: not read yet); undefined outside one. */
  private batchHead: Receipt | null | undefined = undefined;

  constructor(
    private readonly db: Db,
    private readonly world: World,
  ) {
    this.head = prepare<{ seq: number; hash: string }>(db, sql.head);
    this.insert = prepare(db, sql.insert);
    this.pageStmt = prepare<EventRow>(db, sql.page);
    this.dfidStmt = prepare<EventRow>(db, sql.byDfid);
  }

  /** Appends one event, as a record of its own, in a transaction of its own (tools and tests; serving processes commit units through the port). */
  append(event: NewEvent): Receipt {
    return this.db.transaction(() => this.appendInTransaction([event])[0] as Receipt).immediate();
  }

  /**
   * Appends one commit point's events as one record (ADR-021) inside the
   * caller's open write transaction (a group commit's); the chain head is read
   * under that transaction's lock. Returns each event's receipt.
   */
  appendInTransaction(events: NewEvent[]): Receipt[] {
    const { row, receipts } = sealRecord(
      events.map((e) => openEvent(e, this.world)),
      this.batchHead ?? this.readHead(),
    );
    this.insert.run(...rowParams(row));
    if (this.batchHead !== undefined) this.batchHead = { seq: row.seq, hash: row.hash };
    return receipts;
  }

  /**
   * Runs `fn` (one write transaction) with the chain head kept in memory after
   * its first read: under the write lock only this transaction extends the
   * chain, so each further event need not read it back.
   */
  inTransaction<T>(fn: () => T): T {
    this.batchHead = null;
    try {
      return fn();
    } finally {
      this.batchHead = undefined;
    }
  }

  /** A unit rolled back to its savepoint took its events with it: the next append reads the head again. */
  forgetHead(): void {
    if (this.batchHead !== undefined) this.batchHead = null;
  }

  private readHead(): Receipt {
    const last = this.head.get();
    return { seq: last?.seq ?? 0, hash: last?.hash ?? GENESIS_HASH };
  }

  page(afterSeq: number, limit: number): LedgerEvent[] {
    return eventsOfRows(this.pageStmt.all(afterSeq, limit))
      .filter((e) => e.seq > afterSeq)
      .slice(0, limit);
  }

  byDfid(dfid: string): LedgerEvent[] {
    return eventsOfRows(this.dfidStmt.all(dfid)).filter((e) => e.dfid === dfid);
  }

  headSeq(): number {
    return this.head.get()?.seq ?? 0;
  }

  /** Recomputes every hash and link in this thread; names the first sequence that does not hold (large files: `verifyLedgerFile`). */
  verify(): VerifyResult {
    return linkChunks([checkChunk(this.db, 0, TO_THE_END)]);
  }
}

