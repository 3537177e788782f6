/**
 * Scenarios 3 and 4: verification speed of a large ledger, and a governed
 * call's latency with an empty ledger against one with that many events.
 * The large ledger is written in bulk (one transaction per 10k events) with
 * the real hash chain, so verification checks a genuine chain: as records of
 * a governed call's two commit points (ADR-021: received, validated, decided
 * and started; then the outcome), and, for comparison, as format-1 rows of
 * one event each, as ledgers were written before.
 */
import { join } from 'node:path';
import { hashOf } from '../../src/core/canonical.js';
import { openDb } from '../../src/store/sqlite/db.js';
import { openEvent, rowParams, sealRecord } from '../../src/store/port/events.js';
import { eventHash, GENESIS_HASH, type LedgerEvent, type NewEvent } from '../../src/store/port/index.js';
import { events as eventsSql } from '../../src/store/tables/events.js';
import { prepare } from '../../src/store/sqlite/stmt.js';
import { sqlitePort } from '../../src/store/sqlite/port.js';
import { openStore } from '../../src/store/sqlite/store.js';
import { systemWorld } from '../../src/core/world.js';
import { benchWorkspace, governedStdio, measure, noopCall, type Latency, type Sizes } from '../lib.js';

const BATCH = 10_000;

/** Fills `dbPath` with about `n` chained events shaped like governed calls' lineage, as one record per commit point. */
export function fillRecords(dbPath: string, n: number): void {
  const db = openDb(dbPath);
  const insert = prepare(db, eventsSql.insert);
  let head = { seq: 0, hash: GENESIS_HASH };
  let flow = 0;
  while (head.seq < n) {
    db.transaction(() => {
      for (let k = 0; k < BATCH / 5 && head.seq < n; k++) {
        flow++;
        const e = (type: NewEvent['type']): NewEvent => ({ dfid: flow.toString(16).padStart(32, '0'), agent: 'bench', type, decision_id: `d${flow}`, data: { capability: 'bench.noop', request_hash: hashOf({ n: flow }) } });
        for (const point of [[e('IntentReceived'), e('IntentValidated'), e('PolicyDecided'), e('ActionStarted')], [e('ActionOutcome')]]) {
          const { row } = sealRecord(point.map((x) => openEvent(x, systemWorld)), head);
          insert.run(...rowParams(row));
          head = { seq: row.seq, hash: row.hash };
        }
      }
    })();
  }
  db.close();
}

/** Fills `dbPath` with `n` chained format-1 events (one row and one hash each, as before ADR-021) shaped like a governed call's lineage. */
export function fillLedger(dbPath: string, n: number): void {
  const db = openDb(dbPath);
  const insert = db.prepare(
    'INSERT INTO events (seq, id, dfid, agent, type, time, decision_id, reasons, data, prev_hash, hash) VALUES (@seq, @id, @dfid, @agent, @type, @time, @decision_id, @reasons, @data, @prev_hash, @hash)',
  );
  const types = ['IntentReceived', 'IntentValidated', 'PolicyDecided', 'ActionStarted', 'ActionOutcome'] as const;
  let prev = GENESIS_HASH;
  let seq = 0;
  const t0 = Date.now();
  while (seq < n) {
    db.transaction(() => {
      for (let k = 0; k < BATCH && seq < n; k++) {
        seq++;
        const flow = Math.floor(seq / 5);
        const e: Omit<LedgerEvent, 'hash'> = {
          seq,
          id: `e${seq}`,
          dfid: flow.toString(16).padStart(32, '0'),
          agent: 'bench',
          type: types[seq % 5] as LedgerEvent['type'],
          time: new Date(t0 + seq).toISOString(),
          decision_id: `d${flow}`,
          reasons: [],
          data: { capability: 'bench.noop', request_hash: hashOf({ n: flow }) },
          prev_hash: prev,
        };
        const hash = eventHash(e);
        insert.run({ ...e, reasons: '[]', data: JSON.stringify(e.data), hash });
        prev = hash;
      }
    })();
  }
  db.close();
}

export interface VerifyResult {
  events: number;
  seconds: number;
  eventsPerSec: number;
  /** Events per second of this process's CPU time: what the check costs, whatever else the machine runs. */
  eventsPerCpuSec: number;
  intact: boolean;
}

/**
 * Times the chain check of the file at `dbPath`: as `mandate ledger verify`
 * runs it (through the store port, in worker threads when the ledger is large,
 * ADR-048) or, with `oneThread`, the sequential check in this thread. CPU time
 * is the whole process's, workers included.
 */
export async function verifySpeed(dbPath: string, oneThread = false): Promise<VerifyResult> {
  const store = openStore(dbPath, systemWorld);
  const port = sqlitePort(store, dbPath);
  try {
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const r = oneThread ? store.ledger.verify() : await port.ledger.verify();
    const cpu = process.cpuUsage(cpu0);
    const seconds = (performance.now() - t0) / 1000;
    return { events: r.events, seconds, eventsPerSec: r.events / seconds, eventsPerCpuSec: r.events / ((cpu.user + cpu.system) / 1e6), intact: r.ok };
  } finally {
    await port.close();
  }
}

export interface LedgerSizeResult {
  events: number;
  empty: Latency;
  large: Latency;
  /** A ledger of records (ADR-021), as this build writes, checked as `mandate ledger verify` does (worker threads, ADR-048). */
  verify: VerifyResult;
  /** The same ledger, checked sequentially in one thread. */
  verifyOneThread: VerifyResult;
  /** A ledger of format-1 rows, as builds before ADR-021 wrote. */
  verifyFormat1: VerifyResult;
}

export async function ledgerScenarios(sizes: Sizes): Promise<LedgerSizeResult> {
  const emptyWs = benchWorkspace();
  const largeWs = benchWorkspace();
  fillRecords(join(largeWs, 'mandate.db'), sizes.ledgerEvents);
  const verify = await verifySpeed(join(largeWs, 'mandate.db'));
  const verifyOneThread = await verifySpeed(join(largeWs, 'mandate.db'), true);
  const oldWs = benchWorkspace();
  fillLedger(join(oldWs, 'mandate.db'), sizes.ledgerEvents);
  const verifyFormat1 = await verifySpeed(join(oldWs, 'mandate.db'));
  const run = async (ws: string, tag: string) => {
    const g = await governedStdio(ws);
    try {
      return await measure(noopCall(g.client, tag), 1, sizes.calls, sizes.warmup);
    } finally {
      await g.client.close();
    }
  };
  const empty = await run(emptyWs, 'empty');
  const large = await run(largeWs, 'large');
  return { events: sizes.ledgerEvents, empty, large, verify, verifyOneThread, verifyFormat1 };
}
