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
import { storedRowHash } from '../../src/store/port/events.js';
import { GENESIS_HASH, type EventRow } from '../../src/store/port/index.js';

export const TAMPERS = ['truncate', 'forged_append', 'truncate_and_forge', 'rehash_from', 'edit_one', 'forged_checkpoint'] as const;
export type TamperKind = (typeof TAMPERS)[number];

type Row = EventRow;

function open(dbPath: string): Database.Database {
  const db = new Database(dbPath);
  db.exec('DROP TRIGGER IF EXISTS events_no_update; DROP TRIGGER IF EXISTS events_no_delete;');
  return db;
}

// Rows are single events (format 1) or one commit point's record of events (format 2, ADR-021); `seq` is a row's last event.
const rowHash = storedRowHash;

/** Re-links and re-hashes every row from `fromSeq` on, as a careful forger would. */
function rehash(db: Database.Database, fromSeq: number): void {
  const rows = db.prepare<[number], Row>('SELECT * FROM events WHERE seq >= ? ORDER BY seq').all(fromSeq);
  let prev = db.prepare<[number], { hash: string }>('SELECT hash FROM events WHERE seq < ? ORDER BY seq DESC LIMIT 1').get(fromSeq)?.hash ?? GENESIS_HASH;
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
      format: 1,
      first_seq: null,
    };
    const hash = rowHash(r);
    ins.run(r.seq, r.id, r.dfid, r.agent, r.type, r.time, r.decision_id, r.reasons, r.data, r.prev_hash, hash);
    prev = hash;
  }
}

/** A row's stored content with one event marked `tampered` (a record's first event). */
function tampered(r: Row): string {
  const data = JSON.parse(r.data) as Record<string, unknown> | { data: Record<string, unknown> }[];
  if (!Array.isArray(data)) return canonicalJson({ ...data, tampered: true });
  const [first, ...rest] = data;
  return canonicalJson([{ ...first, data: { ...first?.data, tampered: true } }, ...rest]);
}

/**
 * Applies one tamper to a ledger file (and, for forged_checkpoint, to its
 * checkpoint file). Returns a one-line description of what was done.
 */
export function tamper(kind: TamperKind, dbPath: string, checkpointFile: string): string {
  const db = open(dbPath);
  try {
    // Tampers pick rows; `n` is the number of rows, `seqAt(i)` the last event of the i-th (1-based).
    const seqs = db.prepare<[], { seq: number }>('SELECT seq FROM events ORDER BY seq').all().map((r) => r.seq);
    const n = seqs.length;
    if (n < 3) throw new Error('ledger too short to tamper with');
    const seqAt = (i: number): number => seqs[i - 1] ?? 0;
    switch (kind) {
      case 'truncate': {
        const k = randomInt(1, n);
        db.prepare('DELETE FROM events WHERE seq > ?').run(seqAt(n - k));
        return `deleted the last ${k} of ${n} ledger rows`;
      }
      case 'forged_append': {
        const k = randomInt(1, 4);
        forgeAfter(db, k);
        return `appended ${k} forged, correctly chained events after seq ${seqAt(n)}`;
      }
      case 'truncate_and_forge': {
        const k = randomInt(1, n);
        const cut = seqAt(n - k);
        db.prepare('DELETE FROM events WHERE seq > ?').run(cut);
        forgeAfter(db, seqAt(n) - cut);
        return `replaced the last ${k} of ${n} ledger rows with forged events (same length, valid chain)`;
      }
      case 'rehash_from': {
        const at = seqAt(randomInt(1, n + 1));
        const r = db.prepare<[number], Row>('SELECT * FROM events WHERE seq = ?').get(at) as Row;
        db.prepare('UPDATE events SET data = ? WHERE seq = ?').run(tampered(r), at);
        rehash(db, at);
        return `changed the ledger row ending at seq ${at} and re-hashed the chain from it to the end`;
      }
      case 'edit_one': {
        const at = seqAt(randomInt(1, n + 1));
        const r = db.prepare<[number], Row>('SELECT * FROM events WHERE seq = ?').get(at) as Row;
        if (r.format === 1) db.prepare("UPDATE events SET agent = agent || 'x' WHERE seq = ?").run(at);
        else db.prepare('UPDATE events SET data = ? WHERE seq = ?').run(r.data.replace('"agent":"', '"agent":"x'), at);
        return `changed one field of the ledger row ending at seq ${at} without re-hashing`;
      }
      case 'forged_checkpoint': {
        // The attacker cannot sign with the workspace key: a checkpoint for a shorter chain, signed with their own.
        db.prepare('DELETE FROM events WHERE seq > ?').run(seqAt(n - 1));
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
