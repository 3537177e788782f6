/**
 * Scenarios 3 and 4: verification speed of a large ledger, and a governed
 * call's latency with an empty ledger against one with that many events.
 * The large ledger is written in bulk (one transaction per 10k events) with
 * the real hash chain, so verification checks a genuine chain.
 */
import { join } from 'node:path';
import { hashOf } from '../../src/core/canonical.js';
import { openDb } from '../../src/store/sqlite/db.js';
import { eventHash, GENESIS_HASH, type LedgerEvent } from '../../src/store/port/index.js';
import { Ledger } from '../../src/store/sqlite/ledger.js';
import { systemWorld } from '../../src/core/world.js';
import { benchWorkspace, governedStdio, measure, noopCall, type Latency, type Sizes } from '../lib.js';

const BATCH = 10_000;

/** Fills `dbPath` with `n` chained events shaped like a governed call's lineage. */
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
  intact: boolean;
}

export function verifySpeed(dbPath: string): VerifyResult {
  const db = openDb(dbPath);
  try {
    const t0 = performance.now();
    const r = new Ledger(db, systemWorld).verify();
    const seconds = (performance.now() - t0) / 1000;
    return { events: r.events, seconds, eventsPerSec: r.events / seconds, intact: r.ok };
  } finally {
    db.close();
  }
}

export interface LedgerSizeResult {
  events: number;
  empty: Latency;
  large: Latency;
  verify: VerifyResult;
}

export async function ledgerScenarios(sizes: Sizes): Promise<LedgerSizeResult> {
  const emptyWs = benchWorkspace();
  const largeWs = benchWorkspace();
  fillLedger(join(largeWs, 'mandate.db'), sizes.ledgerEvents);
  const verify = verifySpeed(join(largeWs, 'mandate.db'));
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
  return { events: sizes.ledgerEvents, empty, large, verify };
}
