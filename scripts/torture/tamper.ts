/**
 * Tampering with a ledger the way someone who can rewrite the SQLite file
 * would (ADR-016): the append-only triggers are dropped first. Each tamper
 * keeps the chain itself consistent where the attack allows it, so only the
 * signed checkpoints can tell.
 */
import Database from 'better-sqlite3';
import { generateKeyPairSync, randomInt } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import { signCheckpoint } from '../../src/anchor/checkpoint.js';
import { canonicalJson } from '../../src/core/canonical.js';
import { eventHash, GENESIS_HASH, type EventRow, type LedgerEvent } from '../../src/store/port/index.js';

export const TAMPERS = ['truncate', 'forged_append', 'truncate_and_forge', 'rehash_from', 'edit_one', 'forged_checkpoint'] as const;
export type TamperKind = (typeof TAMPERS)[number];

type Row = EventRow;

function open(dbPath: string): Database.Database {
  const db = new Database(dbPath);
  db.exec('DROP TRIGGER IF EXISTS events_no_update; DROP TRIGGER IF EXISTS events_no_delete;');
  return db;
}

function rowHash(r: Omit<Row, 'hash'>): string {
  return eventHash({ ...r, type: r.type as LedgerEvent['type'], reasons: JSON.parse(r.reasons) as LedgerEvent['reasons'], data: JSON.parse(r.data) as Record<string, unknown> });
}

/** Re-links and re-hashes every event from `fromSeq` on, as a careful forger would. */
function rehash(db: Database.Database, fromSeq: number): void {
  const rows = db.prepare<[number], Row>('SELECT * FROM events WHERE seq >= ? ORDER BY seq').all(fromSeq);
  let prev = fromSeq > 1 ? (db.prepare<[number], { hash: string }>('SELECT hash FROM events WHERE seq = ?').get(fromSeq - 1)?.hash ?? GENESIS_HASH) : GENESIS_HASH;
  const upd = db.prepare('UPDATE events SET prev_hash = ?, hash = ? WHERE seq = ?');
  for (const r of rows) {
    const hash = rowHash({ ...r, prev_hash: prev });
    upd.run(prev, hash, r.seq);
    prev = hash;
  }
}

/** A made-up event at the end of the chain, correctly linked and hashed. */
function forgeAfter(db: Database.Database, n: number): void {
  const head = db.prepare<[], Row>('SELECT * FROM events ORDER BY seq DESC LIMIT 1').get();
  let seq = head?.seq ?? 0;
  let prev = head?.hash ?? GENESIS_HASH;
  const ins = db.prepare('INSERT INTO events (seq, id, dfid, agent, type, time, decision_id, reasons, data, prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?,?,?)');
  for (let i = 0; i < n; i++) {
    seq++;
    const r = {
      seq,
      id: `forged-${seq}`,
      dfid: 'f'.repeat(32),
      agent: 'alice',
      type: 'ActionOutcome',
      time: head?.time ?? new Date(0).toISOString(),
      decision_id: `forged-${seq}`,
      reasons: '[]',
      data: canonicalJson({ capability: 'payments.transfer', ok: true }),
      prev_hash: prev,
    };
    const hash = rowHash(r);
    ins.run(r.seq, r.id, r.dfid, r.agent, r.type, r.time, r.decision_id, r.reasons, r.data, r.prev_hash, hash);
    prev = hash;
  }
}

/**
 * Applies one tamper to a ledger file (and, for forged_checkpoint, to its
 * checkpoint file). Returns a one-line description of what was done.
 */
export function tamper(kind: TamperKind, dbPath: string, checkpointFile: string): string {
  const db = open(dbPath);
  try {
    const n = db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM events').get()?.n ?? 0;
    if (n < 3) throw new Error('ledger too short to tamper with');
    switch (kind) {
      case 'truncate': {
        const k = randomInt(1, n);
        db.prepare('DELETE FROM events WHERE seq > ?').run(n - k);
        return `deleted the last ${k} of ${n} events`;
      }
      case 'forged_append': {
        const k = randomInt(1, 4);
        forgeAfter(db, k);
        return `appended ${k} forged, correctly chained events after seq ${n}`;
      }
      case 'truncate_and_forge': {
        const k = randomInt(1, n);
        db.prepare('DELETE FROM events WHERE seq > ?').run(n - k);
        forgeAfter(db, k);
        return `replaced the last ${k} of ${n} events with forged ones (same length, valid chain)`;
      }
      case 'rehash_from': {
        const at = randomInt(1, n + 1);
        const r = db.prepare<[number], Row>('SELECT * FROM events WHERE seq = ?').get(at) as Row;
        const data = JSON.parse(r.data) as Record<string, unknown>;
        db.prepare('UPDATE events SET data = ? WHERE seq = ?').run(canonicalJson({ ...data, tampered: true }), at);
        rehash(db, at);
        return `changed event ${at} and re-hashed the chain from it to the end`;
      }
      case 'edit_one': {
        const at = randomInt(1, n + 1);
        db.prepare("UPDATE events SET agent = agent || 'x' WHERE seq = ?").run(at);
        return `changed one field of event ${at} without re-hashing`;
      }
      case 'forged_checkpoint': {
        // The attacker cannot sign with the workspace key: a checkpoint for a shorter chain, signed with their own.
        db.prepare('DELETE FROM events WHERE seq > ?').run(n - 1);
        const last = db.prepare<[], Row>('SELECT * FROM events ORDER BY seq DESC LIMIT 1').get() as Row;
        const { privateKey } = generateKeyPairSync('ed25519');
        const forged = signCheckpoint({ v: 1, seq: last.seq, hash: last.hash, time: new Date().toISOString() }, privateKey);
        appendFileSync(checkpointFile, `${JSON.stringify(forged)}\n`);
        return `deleted the last event and added a checkpoint for the shorter chain signed with another key`;
      }
    }
  } finally {
    db.close();
  }
}
