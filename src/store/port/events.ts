// Event sealing (ADR-002): how every store turns a new event into its chained, hashed row, and checks one.
import { canonicalJson, sha256Hex } from '../../core/canonical.js';
import type { ReasonCode } from '../../core/reasons.js';
import type { Receipt } from '../../core/types.js';
import type { World } from '../../core/world.js';
import type { EventRow, EventType, LedgerEvent, NewEvent } from './rows.js';

export const GENESIS_HASH = '0'.repeat(64);

/** The stored columns of an event, in the order `verify` reads them. */
export const EVENT_COLUMNS = ['seq', 'id', 'dfid', 'agent', 'type', 'time', 'decision_id', 'reasons', 'data', 'prev_hash', 'hash'] as const;

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
  const row = { ...full, reasons, data, hash: '' };
  row.hash = storedHash(row);
  return row;
}

/** What is wrong with a stored event at its place in the chain, or null (every store verifies with this). */
export function checkRow(row: EventRow, expectedSeq: number, prev: string): string | null {
  if (row.seq !== expectedSeq) return `sequence gap: expected ${expectedSeq}`;
  if (row.prev_hash !== prev) return 'prev_hash does not match the previous event';
  if (storedHash(row) === row.hash) return null;
  // Only a mismatch pays for parsing, to say what is wrong.
  try {
    eventFromRow(row);
  } catch {
    return 'stored fields are not valid JSON';
  }
  return 'hash does not match the event fields';
}

export function eventFromRow(row: EventRow): LedgerEvent {
  return {
    ...row,
    type: row.type as EventType,
    reasons: JSON.parse(row.reasons) as ReasonCode[],
    data: JSON.parse(row.data) as Record<string, unknown>,
  };
}
