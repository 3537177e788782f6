import { sha256Hex } from '../../core/canonical.js';
import type { Receipt } from '../../core/types.js';
import type { World } from '../../core/world.js';
import { checkRow, EVENT_COLUMNS, eventFromRow, GENESIS_HASH, logicalText, sealEvent } from '../port/events.js';
import type { LedgerReads, Sync } from '../port/port.js';
import type { EventRow, LedgerEvent, NewEvent, VerifyResult } from '../port/rows.js';
import { events as sql } from '../tables/events.js';
import type { Db } from './db.js';
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

  /** Appends one event in a transaction of its own (tools and tests; serving processes commit units through the port). */
  append(event: NewEvent): Receipt {
    return this.db.transaction(() => this.appendInTransaction(event)).immediate();
  }

  /**
   * Appends one event inside the caller's open write transaction (a group
   * commit's); the chain head is read under that transaction's lock.
   */
  appendInTransaction(event: NewEvent): Receipt {
    const row = sealEvent(event, this.batchHead ?? this.readHead(), this.world);
    this.insert.run(row.seq, row.id, row.dfid, row.agent, row.type, row.time, row.decision_id, row.reasons, row.data, row.prev_hash, row.hash);
    const receipt = { seq: row.seq, hash: row.hash };
    if (this.batchHead !== undefined) this.batchHead = receipt;
    return receipt;
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
    return this.pageStmt.all(afterSeq, limit).map(eventFromRow);
  }

  byDfid(dfid: string): LedgerEvent[] {
    return this.dfidStmt.all(dfid).map(eventFromRow);
  }

  headSeq(): number {
    return this.head.get()?.seq ?? 0;
  }

  /** Recomputes every hash and link; names the first sequence that does not hold. */
  verify(): VerifyResult {
    let expectedSeq = 1;
    let prev = GENESIS_HASH;
    let count = 0;
    // Rows as arrays, in column order: no object per row, which is most of the cost of a million (docs/performance.md).
    const iter = this.db.prepare<[], unknown[]>(`SELECT ${EVENT_COLUMNS.join(', ')} FROM events ORDER BY seq`).raw().iterate();
    for (const r of iter) {
      const [seq, id, dfid, agent, type, time, decisionId, reasons, data, prevHash, hash] = r as [number, string, string, string, string, string, string | null, string, string, string, string];
      const intact = seq === expectedSeq && prevHash === prev && sha256Hex(logicalText(agent, data, decisionId, dfid, id, prevHash, reasons, seq, time, type)) === hash;
      if (!intact) {
        const row: EventRow = { seq, id, dfid, agent, type, time, decision_id: decisionId, reasons, data, prev_hash: prevHash, hash };
        return { ok: false, events: count, firstBadSeq: seq, problem: checkRow(row, expectedSeq, prev) ?? 'hash does not match the event fields' };
      }
      prev = hash;
      expectedSeq++;
      count++;
    }
    return { ok: true, events: count, head: prev };
  }
}

