// The ledger's chain check in runs of rows (ADR-048): each run is checked on its own, in this thread or a worker's,
// and the runs are then linked in chain order. One run from the start is the plain, sequential check.
import type { Receipt } from '../../core/types.js';
import { checkRow, eventCount, GENESIS_HASH, RECORD_FORMAT, rowIntact } from '../port/events.js';
import { VERIFY_PAGE } from '../port/constants.js';
import type { EventRow, VerifyResult } from '../port/rows.js';
import { events as sql } from '../tables/events.js';
import type { Db } from './db.js';
import { prepare } from './stmt.js';

/** A run's upper bound that no sequence reaches: the run goes on to the chain's end. */
export const TO_THE_END = Number.MAX_SAFE_INTEGER;

/**
 * What one run of rows holds, checked on its own: every row's hash, and every
 * link after its first row. The first row's own link (its sequence and
 * prev_hash) is the caller's to check against the run before it.
 */
export interface ChunkCheck {
  /** The run's first row; null for a run without rows. */
  first: EventRow | null;
  /** Events in the rows that hold, up to the first that does not. */
  events: number;
  /** The last row's sequence and hash, when every row holds. */
  last: Receipt | null;
  /** The first row that does not hold, if one does not. */
  broken: { firstBadSeq: number; problem: string } | null;
}

/** Where a broken row is named: a record by its first event (ADR-021), an event by its own sequence. */
const badSeq = (row: Pick<EventRow, 'seq' | 'format' | 'first_seq'>): number => (row.format === RECORD_FORMAT ? row.first_seq : null) ?? row.seq;

type RawRow = [number, string, string, string, string, string, string | null, string, string, string, string, number, number | null];

const rowOf = (r: RawRow): EventRow => {
  const [seq, id, dfid, agent, type, time, decision_id, reasons, data, prev_hash, hash, format, first_seq] = r;
  return { seq, id, dfid, agent, type, time, decision_id, reasons, data, prev_hash, hash, format, first_seq };
};

/** Checks the rows with `after < seq <= upTo`, reading them in pages (memory stays bounded). */
export function checkChunk(db: Db, after: number, upTo: number): ChunkCheck {
  // Rows as arrays, in column order: no object per row, which is most of the cost of a million (docs/performance.md).
  const stmt = prepare<unknown[]>(db, sql.verifyPage, true);
  let first: EventRow | null = null;
  let expectedSeq = 0;
  let prev = '';
  let events = 0;
  let last: Receipt | null = null;
  for (let from = after; ; ) {
    const rows = stmt.all(from, upTo, VERIFY_PAGE) as RawRow[];
    for (const r of rows) {
      const [seq, id, dfid, agent, type, time, decisionId, reasons, data, prevHash, hash, format, firstSeq] = r;
      if (!first) {
        // The run's first link is checked by whoever links the runs: here it is taken as it stands.
        first = rowOf(r);
        expectedSeq = badSeq(first);
        prev = prevHash;
      }
      if (!rowIntact(seq, id, dfid, agent, type, time, decisionId, reasons, data, prevHash, hash, format, firstSeq, expectedSeq, prev)) {
        const row = rowOf(r);
        return { first, events, last: null, broken: { firstBadSeq: badSeq(row), problem: checkRow(row, expectedSeq, prev) ?? 'hash does not match the event fields' } };
      }
      const n = eventCount({ seq, format, first_seq: firstSeq });
      prev = hash;
      expectedSeq += n;
      events += n;
      last = { seq, hash };
      from = seq;
    }
    if (rows.length < VERIFY_PAGE) break;
  }
  return { first, events, last, broken: null };
}

/** Links runs checked on their own, in chain order, into the ledger's verdict: the first row that does not hold names it. */
export function linkChunks(chunks: readonly ChunkCheck[]): VerifyResult {
  let expectedSeq = 1;
  let prev = GENESIS_HASH;
  let events = 0;
  for (const chunk of chunks) {
    if (!chunk.first) continue;
    const problem = checkRow(chunk.first, expectedSeq, prev);
    if (problem) return { ok: false, events, firstBadSeq: badSeq(chunk.first), problem };
    if (chunk.broken) return { ok: false, events: events + chunk.events, ...chunk.broken };
    if (!chunk.last) continue;
    events += chunk.events;
    prev = chunk.last.hash;
    expectedSeq = chunk.last.seq + 1;
  }
  return { ok: true, events, head: prev };
}

/**
 * Splits the rows up to `headSeq` into `parts` runs of about equal sequence
 * ranges, as (after, upTo] bounds; the last run goes on to the chain's end,
 * so rows appended meanwhile are checked too, as the sequential check does.
 */
export function chunkBounds(headSeq: number, parts: number): { after: number; upTo: number }[] {
  const n = Math.max(1, Math.min(parts, headSeq));
  return Array.from({ length: n }, (_, i) => ({
    after: Math.floor((headSeq * i) / n),
    upTo: i === n - 1 ? TO_THE_END : Math.floor((headSeq * (i + 1)) / n),
  }));
}
