import { canonicalJson, sha256Hex } from '../core/canonical.js';
import type { ReasonCode } from '../core/reasons.js';
import type { Receipt } from '../core/types.js';
import type { World } from '../core/world.js';
import type { Db } from './db.js';

export const GENESIS_HASH = '0'.repeat(64);

export type EventType =
  | 'IntentReceived'
  | 'IntentNormalized'
  | 'IntentReplayed'
  | 'IntentValidated'
  | 'IntentRejected'
  | 'PolicyDecided'
  | 'EscalationOpened'
  | 'EscalationChallenged'
  | 'EscalationResolved'
  | 'ActionStarted'
  | 'ActionOutcome'
  | 'ActionOutcomeUnknown'
  | 'InterventionIssued'
  | 'InterventionAcknowledged'
  | 'InterventionApplied'
  | 'InterventionRejected'
  | 'InterventionExpired'
  | 'AgentSuspended'
  | 'AgentResumed'
  | 'CircuitStateChanged'
  | 'MemoryRead'
  | 'CredentialCreated'
  | 'CredentialRevoked'
  | 'UpstreamPinned'
  | 'ResourceAccessed'
  | 'PromptAccessed'
  | 'ClientRequestRelayed'
  /** An operator asked whether a call would be allowed (`mandate check`): a check, never a decision. */
  | 'PolicyChecked'
  /** A live reload of contracts, policies and capability modules was applied or refused, with who asked. */
  | 'WorkspaceReloaded'
  /** `mandate reload` asked this host's serving processes to reload. */
  | 'ReloadRequested';

export interface NewEvent {
  dfid: string;
  agent: string;
  type: EventType;
  decision_id?: string | null;
  reasons?: ReasonCode[];
  /** Content-safe fields only: ids, hashes, codes, numbers the kernel derived. */
  data?: Record<string, unknown>;
}

export interface LedgerEvent {
  seq: number;
  id: string;
  dfid: string;
  agent: string;
  type: EventType;
  time: string;
  decision_id: string | null;
  reasons: ReasonCode[];
  data: Record<string, unknown>;
  prev_hash: string;
  hash: string;
}

/** An event as stored: `reasons` and `data` as their canonical JSON text. */
export interface EventRow {
  seq: number;
  id: string;
  dfid: string;
  agent: string;
  type: string;
  time: string;
  decision_id: string | null;
  reasons: string;
  data: string;
  prev_hash: string;
  hash: string;
}

/** The stored columns of an event, in the order `verify` reads them. */
const EVENT_COLUMNS = ['seq', 'id', 'dfid', 'agent', 'type', 'time', 'decision_id', 'reasons', 'data', 'prev_hash', 'hash'] as const;

/**
 * The RFC 8785 (JCS) text of an event's logical fields (storage columns are
 * not hashed), built directly: keys in JCS order, strings as JSON.stringify
 * writes them (which is what JCS prescribes), and `data` and `reasons` as
 * their canonical JSON text. Equal to canonicalJson of the same object; built
 * by hand, from positional fields, so verification needs no JSON parsing and
 * no object per row (ADR-002).
 */
function logicalText(agent: string, dataText: string, decisionId: string | null, dfid: string, id: string, prevHash: string, reasonsText: string, seq: number, time: string, type: string): string {
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

export type VerifyResult =
  | { ok: true; events: number; head: string }
  | { ok: false; events: number; firstBadSeq: number; problem: string };

/**
 * The append-only, hash-chained event log. Each append is its own IMMEDIATE
 * transaction that reads the chain head under the write lock, so several
 * processes (the server and the CLI) extend one chain correctly.
 */
export class Ledger {
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
    this.head = db.prepare<[], { seq: number; hash: string }>('SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1');
    this.insert = db.prepare(
      `INSERT INTO events (seq, id, dfid, agent, type, time, decision_id, reasons, data, prev_hash, hash)
       VALUES (@seq, @id, @dfid, @agent, @type, @time, @decision_id, @reasons, @data, @prev_hash, @hash)`,
    );
    this.pageStmt = db.prepare<[number, number], EventRow>('SELECT * FROM events WHERE seq > ? ORDER BY seq LIMIT ?');
    this.dfidStmt = db.prepare<[string], EventRow>('SELECT * FROM events WHERE dfid = ? ORDER BY seq');
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
    this.insert.run(row);
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
