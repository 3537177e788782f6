// Event sealing (ADR-002): how every store turns a new event into its chained, hashed row, and checks one.
import { canonicalJson, sha256Hex } from '../../core/canonical.js';
import type { ReasonCode } from '../../core/reasons.js';
import type { Receipt } from '../../core/types.js';
import type { World } from '../../core/world.js';
import type { EventRow, EventType, LedgerEvent, NewEvent } from './rows.js';

export const GENESIS_HASH = '0'.repeat(64);

/** The stored columns of an event, in the order `verify` reads them. */
export const EVENT_COLUMNS = ['seq', 'id', 'dfid', 'agent', 'type', 'time', 'decision_id', 'reasons', 'data', 'prev_hash', 'hash', 'format', 'first_seq'] as const;

/**
 * The RFC 8785 (JCS) text of an event's logical fields (storage columns are
 * not hashed), built directly: keys in JCS order, strings as JSON.stringify
 * writes them (which is what JCS prescribes), and `data` and `reasons` as
 * their canonical JSON text. Equal to canonicalJson of the same object; built
 * by hand, from positional fields, so verification needs no JSON parsing and
 * no object per row (ADR-002).
 */
export function logicalText(agent: string, dataText: string, decisionId: string | null, dfid: string, id: string, prevHash: string, reasonsText: string, seq: number, time: string, type: string): string {
  const str = JSON.stringify;
  return `{"agent":${str(agent)},"data":${dataText},"decision_id":${str(decisionId)},"dfid":${str(dfid)},"id":${str(id)},"prev_hash":${str(prevHash)},"reasons":${reasonsText},"seq":${seq},"time":${str(time)},"type":${str(type)}}`;
}

/** The hash of a stored row: its canonical text is rebuilt from the stored columns as they are. */
function storedHash(row: EventRow): string {
  return sha256Hex(logicalText(row.agent, row.data, row.decision_id, row.dfid, row.id, row.prev_hash, row.reasons, row.seq, row.time, row.type));
}

/** SHA-256 of the canonical JSON of an event's logical fields. */
export function eventHash(e: Omit<LedgerEvent, 'hash'>): string {
  return sha256Hex(logicalText(e.agent, canonicalJson(e.data), e.decision_id, e.dfid, e.id, e.prev_hash, canonicalJson(e.reasons), e.seq, e.time, e.type));
}

/**
 * The stored row of the event that follows `head`: id and time from the
 * world, `reasons` and `data` as canonical text (so verification hashes the
 * stored bytes as they are), and its hash. Every store appends through this.
 */
export function sealEvent(event: NewEvent, head: Receipt, world: World): EventRow {
  const full: Omit<LedgerEvent, 'hash'> = {
    seq: head.seq + 1,
    id: world.newId(),
    dfid: event.dfid,
    agent: event.agent,
    type: event.type,
    time: new Date(world.now()).toISOString(),
    decision_id: event.decision_id ?? null,
    reasons: event.reasons ?? [],
    data: event.data ?? {},
    prev_hash: head.hash,
  };
  const reasons = canonicalJson(full.reasons);
  const data = canonicalJson(full.data);
  const row: EventRow = { ...full, reasons, data, hash: '', format: 1, first_seq: null };
  row.hash = storedHash(row);
  return row;
}

/**
 * A ledger row of format 2 (ADR-021): the events of one commit point, stored
 * and hashed as one record. `data` holds the canonical JSON array of the
 * events' logical fields without their sequence and chain fields; the row's
 * `seq` is the last event's, `first_seq` the first's, `dfid` the events' flow
 * ('*' if several). Its hash is SHA-256 of the canonical JSON of
 * `{ dfid, events, first_seq, prev_hash, seq, v: 2 }`, so the events are
 * canonicalised once and hashed once per commit point. The row's other
 * columns (id, agent, type, time, decision_id, reasons) are empty: what the
 * ledger shows of a record comes from `data` alone.
 */
export const RECORD_FORMAT = 2;

/** An event of a record before it is sealed: its logical fields but its place in the chain. */
export interface OpenEvent {
  agent: string;
  data: Record<string, unknown>;
  decision_id: string | null;
  dfid: string;
  id: string;
  reasons: ReasonCode[];
  time: string;
  type: EventType;
}

/** Gives a new event its id and time from the world. */
export function openEvent(event: NewEvent, world: World): OpenEvent {
  return {
    agent: event.agent,
    data: event.data ?? {},
    decision_id: event.decision_id ?? null,
    dfid: event.dfid,
    id: world.newId(),
    reasons: event.reasons ?? [],
    time: new Date(world.now()).toISOString(),
    type: event.type,
  };
}

/**
 * The RFC 8785 text of a record's events, equal to canonicalJson(events).
 * Built as `logicalText` is: an event's fixed fields in JCS key order, strings
 * as JSON.stringify writes them, and only `data` and `reasons` canonicalised,
 * which spares sorting and walking the same eight keys of every event of
 * every commit point. An event whose fixed fields are not the strings its type
 * says is left to the library whole, so the text is the library's for any input.
 */
function eventsText(events: readonly OpenEvent[]): string {
  const str = JSON.stringify;
  let text = '[';
  for (const e of events) {
    if (text.length > 1) text += ',';
    const plain = typeof e.agent === 'string' && typeof e.dfid === 'string' && typeof e.id === 'string' && typeof e.time === 'string' && typeof e.type === 'string' && (e.decision_id === null || typeof e.decision_id === 'string');
    text += plain
      ? `{"agent":${str(e.agent)},"data":${canonicalJson(e.data)},"decision_id":${str(e.decision_id)},"dfid":${str(e.dfid)},"id":${str(e.id)},"reasons":${canonicalJson(e.reasons)},"time":${str(e.time)},"type":${str(e.type)}}`
      : canonicalJson(e);
  }
  return `${text}]`;
}

/** The canonical text a record's hash is taken over (JCS key order: dfid, events, first_seq, prev_hash, seq, v). */
function recordText(dfid: string, eventsText: string, firstSeq: number, prevHash: string, seq: number): string {
  return `{"dfid":${JSON.stringify(dfid)},"events":${eventsText},"first_seq":${firstSeq},"prev_hash":${JSON.stringify(prevHash)},"seq":${seq},"v":${RECORD_FORMAT}}`;
}

/** The hash a stored row must carry, from its columns as they are (tamper tools and tests re-hash with it). */
export function storedRowHash(row: Omit<EventRow, 'hash'>): string {
  if (row.format === RECORD_FORMAT) return sha256Hex(recordText(row.dfid, row.data, row.first_seq ?? row.seq, row.prev_hash, row.seq));
  return storedHash({ ...row, hash: '' });
}

/** The stored row of the record that follows `head`, holding `events` (at least one), and each event's receipt. */
export function sealRecord(events: OpenEvent[], head: Receipt): { row: EventRow; receipts: Receipt[] } {
  const last = events[events.length - 1];
  if (!last) throw new Error('a ledger record holds at least one event');
  const firstSeq = head.seq + 1;
  const seq = head.seq + events.length;
  const data = eventsText(events);
  // A record of several flows (expired interventions) is found by any of them: its dfid is '*'.
  const dfid = events.every((e) => e.dfid === last.dfid) ? last.dfid : '*';
  const hash = sha256Hex(recordText(dfid, data, firstSeq, head.hash, seq));
  const row: EventRow = { seq, id: '', dfid, agent: '', type: '', time: '', decision_id: null, reasons: '[]', data, prev_hash: head.hash, hash, format: RECORD_FORMAT, first_seq: firstSeq };
  return { row, receipts: events.map((_, i) => ({ seq: firstSeq + i, hash })) };
}

/** The row's parameters for `events.insert`, in column order. */
export const rowParams = (r: EventRow): unknown[] => [r.seq, r.id, r.dfid, r.agent, r.type, r.time, r.decision_id, r.reasons, r.data, r.prev_hash, r.hash, r.format, r.first_seq];

/**
 * Whether a stored row holds at its place in the chain, from its columns as
 * they are (no JSON parsing): a format-1 row is one event hashed alone
 * (ADR-002), a format-2 row a record (above). Every store verifies with this.
 */
export function rowIntact(seq: number, id: string, dfid: string, agent: string, type: string, time: string, decisionId: string | null, reasons: string, data: string, prevHash: string, hash: string, format: number, firstSeq: number | null, expectedSeq: number, prev: string): boolean {
  if (prevHash !== prev) return false;
  if (format === RECORD_FORMAT) return firstSeq === expectedSeq && seq >= firstSeq && sha256Hex(recordText(dfid, data, firstSeq, prevHash, seq)) === hash;
  return format === 1 && seq === expectedSeq && sha256Hex(logicalText(agent, data, decisionId, dfid, id, prevHash, reasons, seq, time, type)) === hash;
}

/** What is wrong with a stored row at its place in the chain, or null (every store verifies with this). */
export function checkRow(row: EventRow, expectedSeq: number, prev: string): string | null {
  const first = row.format === RECORD_FORMAT ? row.first_seq : row.seq;
  if (row.format !== 1 && row.format !== RECORD_FORMAT) return `unknown ledger row format ${row.format}`;
  if (first !== expectedSeq) return `sequence gap: expected ${expectedSeq}`;
  if (row.prev_hash !== prev) return 'prev_hash does not match the previous event';
  if (rowIntact(row.seq, row.id, row.dfid, row.agent, row.type, row.time, row.decision_id, row.reasons, row.data, row.prev_hash, row.hash, row.format, row.first_seq, expectedSeq, prev)) return null;
  // Only a mismatch pays for parsing, to say what is wrong.
  try {
    eventsOfRow(row);
  } catch {
    return 'stored fields are not valid JSON';
  }
  return row.format === RECORD_FORMAT ? 'hash does not match the record\'s events' : 'hash does not match the event fields';
}

/** How many events a stored row holds. */
export const eventCount = (row: Pick<EventRow, 'seq' | 'format' | 'first_seq'>): number => (row.format === RECORD_FORMAT ? row.seq - (row.first_seq ?? row.seq) + 1 : 1);

/** The events a stored row holds, as the ledger shows them: a record's events share its chain fields and name it. */
export function eventsOfRow(row: EventRow): LedgerEvent[] {
  if (row.format !== RECORD_FORMAT) {
    const { format: _f, first_seq: _s, ...event } = row;
    return [{ ...event, type: row.type as EventType, reasons: JSON.parse(row.reasons) as ReasonCode[], data: JSON.parse(row.data) as Record<string, unknown> }];
  }
  const first = row.first_seq ?? row.seq;
  const events = JSON.parse(row.data) as OpenEvent[];
  if (!Array.isArray(events) || events.length !== row.seq - first + 1) throw new Error(`ledger record ${first}..${row.seq} holds ${Array.isArray(events) ? events.length : 'no'} events`);
  const record = { first_seq: first, last_seq: row.seq };
  return events.map((e, i) => ({ seq: first + i, id: e.id, dfid: e.dfid, agent: e.agent, type: e.type, time: e.time, decision_id: e.decision_id, reasons: e.reasons, data: e.data, prev_hash: row.prev_hash, hash: row.hash, record }));
}

/** The events of stored rows, in chain order. */
export const eventsOfRows = (rows: EventRow[]): LedgerEvent[] => rows.flatMap(eventsOfRow);
