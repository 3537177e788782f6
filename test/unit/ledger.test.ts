import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { canonicalJson, hashOf, sha256Hex } from '../../src/core/canonical.js';
import { openDb, type Db } from '../../src/store/sqlite/db.js';
import { openEvent, rowParams, sealEvent, sealRecord, type OpenEvent } from '../../src/store/port/events.js';
import { eventHash, GENESIS_HASH, type LedgerEvent, type NewEvent } from '../../src/store/port/index.js';
import { Ledger } from '../../src/store/sqlite/ledger.js';
import { events as eventsSql } from '../../src/store/tables/events.js';
import { prepare } from '../../src/store/sqlite/stmt.js';
import { FakeWorld, ledgerFile } from './helpers.js';
import { BACK_TO_14 } from '../helpers/sqlite-schemas.js';

const ev = (i: number, over: Partial<NewEvent> = {}): NewEvent => ({
  dfid: 'f'.repeat(32),
  agent: 'alice',
  type: 'IntentReceived',
  decision_id: `d-${i}`,
  reasons: i % 2 ? ['POLICY_NO_PERMIT'] : [],
  data: { n: i, request_hash: hashOf({ i }), nested: { b: 2, a: [1, 'x'] } },
  ...over,
});

function dropTriggers(db: Db): void {
  db.exec('DROP TRIGGER events_no_update; DROP TRIGGER events_no_delete;');
}

describe('ledger', () => {
  let file: ReturnType<typeof ledgerFile>;
  let path: string;
  let db: Db;
  let world: FakeWorld;
  let ledger: Ledger;

  beforeEach(() => {
    file = ledgerFile();
    ({ path, db, world, ledger } = file);
  });
  afterEach(() => file.close());

  /** Appends one event as a format-1 row, as every ledger was written before ADR-021 (each event hashed alone, ADR-002). */
  function appendV1(event: NewEvent): { seq: number; hash: string } {
    const head = db.prepare<[], { seq: number; hash: string }>('SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1').get() ?? { seq: 0, hash: GENESIS_HASH };
    const row = sealEvent(event, head, world);
    prepare(db, eventsSql.insert).run(...rowParams(row));
    return { seq: row.seq, hash: row.hash };
  }

  function appendN(n: number): void {
    for (let i = 1; i <= n; i++) {
      appendV1(ev(i));
      world.advance(1_000);
    }
  }

  it('canonical JSON is RFC 8785 (sorted keys, no whitespace, ES number form)', () => {
    expect(canonicalJson({ b: 1, a: [1, 'x', { d: true, c: null }] })).toBe('{"a":[1,"x",{"c":null,"d":true}],"b":1}');
    expect(canonicalJson({ n: 1e21, m: 1.5, z: -0 })).toBe('{"m":1.5,"n":1e+21,"z":0}');
    expect(canonicalJson({ '\u00e9': 1, e: 2 })).toBe('{"e":2,"\u00e9":1}');
    expect(hashOf({ b: 1, a: 2 })).toBe(sha256Hex('{"a":2,"b":1}'));
  });

  it('format-1 rows (written before ADR-021) chain with prev_hash (the first is 64 zeros) and each hash is eventHash of the logical fields', () => {
    const receipts = [1, 2, 3, 4].map((i) => {
      const r = appendV1(ev(i));
      world.advance(1_000);
      return r;
    });
    const events = ledger.page(0, 100);
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3, 4]);
    expect(events[0]?.prev_hash).toBe(GENESIS_HASH);
    expect(GENESIS_HASH).toBe('0'.repeat(64));
    events.forEach((e, i) => {
      if (i > 0) expect(e.prev_hash).toBe(events[i - 1]?.hash);
      const { hash, ...logical } = e;
      expect(hash).toBe(eventHash(logical));
      // Independently: SHA-256 over the canonical JSON of exactly the logical fields.
      expect(hash).toBe(
        sha256Hex(
          canonicalJson({ seq: e.seq, id: e.id, dfid: e.dfid, agent: e.agent, type: e.type, time: e.time, decision_id: e.decision_id, reasons: e.reasons, data: e.data, prev_hash: e.prev_hash }),
        ),
      );
      expect(receipts[i]).toEqual({ seq: e.seq, hash: e.hash });
    });
    // Times and ids come from the injected World.
    expect(events.map((e) => e.time)).toEqual([0, 1, 2, 3].map((s) => new Date(Date.UTC(2030, 0, 1, 0, 0, s)).toISOString()));
    expect(events[0]?.id).toBe('id-000001');
    expect(events[2]?.data).toEqual(ev(3).data);
    expect(events[0]?.reasons).toEqual(['POLICY_NO_PERMIT']);
    expect(events[1]?.reasons).toEqual([]);
  });

  it('a change to any logical field changes the hash', () => {
    appendN(1);
    const e = ledger.page(0, 1)[0] as LedgerEvent;
    const { hash: _h, ...logical } = e;
    const base = eventHash(logical);
    expect(eventHash({ ...logical, agent: 'bob' })).not.toBe(base);
    expect(eventHash({ ...logical, data: { ...logical.data, n: 2 } })).not.toBe(base);
    expect(eventHash({ ...logical, reasons: [] })).not.toBe(base);
    expect(eventHash({ ...logical, prev_hash: '1'.repeat(64) })).not.toBe(base);
    // Key order of data does not: hashing is over canonical JSON.
    expect(eventHash({ ...logical, data: Object.fromEntries(Object.entries(logical.data).reverse()) })).toBe(base);
  });

  it('verify is ok on an intact chain and names its head', () => {
    expect(ledger.verify()).toEqual({ ok: true, events: 0, head: GENESIS_HASH });
    appendN(5);
    const last = ledger.page(4, 1)[0];
    expect(ledger.verify()).toEqual({ ok: true, events: 5, head: last?.hash });
    expect(ledger.headSeq()).toBe(5);
  });

  it('UPDATE and DELETE on events are refused by triggers', () => {
    appendN(3);
    expect(() => db.prepare("UPDATE events SET agent = 'mallory' WHERE seq = 2").run()).toThrow(/append-only: UPDATE refused/);
    expect(() => db.prepare('DELETE FROM events WHERE seq = 3').run()).toThrow(/append-only: DELETE refused/);
    expect(() => db.prepare('DELETE FROM events').run()).toThrow(/append-only/);
    expect(ledger.verify()).toMatchObject({ ok: true, events: 3 });
  });

  it('after dropping triggers and editing one row, verify names exactly that seq', () => {
    appendN(6);
    dropTriggers(db);
    db.prepare('UPDATE events SET data = ? WHERE seq = 4').run(JSON.stringify({ ...ev(4).data, n: 999 }));
    expect(ledger.verify()).toEqual({ ok: false, events: 3, firstBadSeq: 4, problem: 'hash does not match the event fields' });
  });

  it('a forger who also recomputes the edited row hash is caught at the next seq', () => {
    appendN(6);
    dropTriggers(db);
    const row = ledger.page(2, 1)[0] as LedgerEvent;
    const { hash: _old, ...logical } = row;
    const forged = { ...logical, reasons: [] };
    db.prepare('UPDATE events SET reasons = ?, hash = ? WHERE seq = 3').run(JSON.stringify(forged.reasons), eventHash(forged));
    expect(ledger.verify()).toEqual({ ok: false, events: 3, firstBadSeq: 4, problem: 'prev_hash does not match the previous event' });
  });

  it('after deleting a middle row (triggers dropped) verify reports the gap', () => {
    appendN(5);
    dropTriggers(db);
    db.prepare('DELETE FROM events WHERE seq = 3').run();
    expect(ledger.verify()).toEqual({ ok: false, events: 2, firstBadSeq: 4, problem: 'sequence gap: expected 3' });
  });

  it('non-JSON stored fields are reported, not thrown', () => {
    appendN(2);
    dropTriggers(db);
    db.prepare("UPDATE events SET data = '{not json' WHERE seq = 2").run();
    expect(ledger.verify()).toEqual({ ok: false, events: 1, firstBadSeq: 2, problem: 'stored fields are not valid JSON' });
  });

  it('two Ledger instances on two connections to the same file, interleaving appends, keep one valid chain', () => {
    // Like the server and the CLI in two processes: separate connections, separate id sources.
    const db2 = openDb(path);
    try {
      const other = new Ledger(db2, new FakeWorld(world.now(), 'cli'));
      for (let i = 1; i <= 40; i++) {
        const which = i % 3 === 0 ? other : ledger;
        which.append(ev(i, { agent: which === other ? 'operator:cli' : 'alice' }));
      }
      // Both views agree on one chain.
      expect(ledger.verify()).toMatchObject({ ok: true, events: 40 });
      expect(other.verify()).toEqual(ledger.verify());
      const events = other.page(0, 100);
      expect(events.map((e) => e.seq)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
      expect(events.filter((e) => e.agent === 'operator:cli')).toHaveLength(13);
      expect(new Set(events.map((e) => e.id)).size).toBe(40);
    } finally {
      db2.close();
    }
  });

  it('byDfid returns a flow in sequence order', () => {
    ledger.append(ev(1, { dfid: 'a'.repeat(32) }));
    ledger.append(ev(2, { dfid: 'b'.repeat(32) }));
    ledger.append(ev(3, { dfid: 'a'.repeat(32), type: 'IntentRejected' }));
    expect(ledger.byDfid('a'.repeat(32)).map((e) => [e.seq, e.type])).toEqual([
      [1, 'IntentReceived'],
      [3, 'IntentRejected'],
    ]);
  });

  it('a commit point is one format-2 row: its events share one hash, SHA-256 of the canonical record, and show one by one', () => {
    appendN(2); // an older ledger's format-1 rows, continued by records
    const receipts = db.transaction(() => ledger.inTransaction(() => ledger.appendInTransaction([ev(3), ev(4, { type: 'IntentValidated' }), ev(5, { type: 'PolicyDecided' })])))();
    expect((db.prepare('SELECT COUNT(*) AS n FROM events').get() as { n: number }).n).toBe(3);
    const all = ledger.page(0, 100);
    expect(all.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
    const record = all.slice(2);
    const hash = record[0]?.hash as string;
    expect(receipts).toEqual([3, 4, 5].map((seq) => ({ seq, hash })));
    expect(record.map((e) => [e.type, e.prev_hash, e.hash, e.record])).toEqual(
      ['IntentReceived', 'IntentValidated', 'PolicyDecided'].map((t) => [t, all[1]?.hash, hash, { first_seq: 3, last_seq: 5 }]),
    );
    // Independently, as a verifier reading the export would: the events without their chain fields, canonicalised and hashed once.
    const events = record.map(({ seq: _s, prev_hash: _p, hash: _h, record: _r, ...e }) => e);
    expect(hash).toBe(sha256Hex(canonicalJson({ dfid: 'f'.repeat(32), events, first_seq: 3, prev_hash: all[1]?.hash, seq: 5, v: 2 })));
    expect(ledger.verify()).toEqual({ ok: true, events: 5, head: hash });
    // A page may start inside a record, and a checkpoint's seq finds its record's hash.
    expect(ledger.page(3, 1).map((e) => [e.seq, e.hash])).toEqual([[4, hash]]);
  });

  it("a record's stored events are the canonical JSON of its events, whatever their fields hold", () => {
    const odd = [
      ev(1, { agent: 'é"\\\u0007\u2028😀', decision_id: null, reasons: ['POLICY_FORBID', 'BUDGET_EXCEEDED'], data: { z: -0, a: 1e21, m: [1.5, null, { y: true, x: 'ü' }], '\u00e9': 'é', e: '' } }),
      ev(2, { dfid: 'a'.repeat(32), data: {} }),
      ev(3, { type: 'ActionOutcome', data: { nested: { deep: { b: [{ d: 1, c: 2 }], a: 'x' } } } }),
    ].map((e) => openEvent(e, world));
    // Fields that are not what their type says are canonicalised as the library would, not written as they are.
    const broken = { ...openEvent(ev(4), world), agent: undefined, decision_id: 7 } as unknown as OpenEvent;
    for (const events of [odd, [broken], [...odd, broken]]) {
      expect(sealRecord(events, { seq: 0, hash: GENESIS_HASH }).row.data).toBe(canonicalJson(events));
    }
  });

  it('a changed record is named by its first event, and a record of several flows is found by each', () => {
    appendN(1);
    ledger.append(ev(2));
    db.transaction(() => ledger.inTransaction(() => ledger.appendInTransaction([ev(3, { dfid: 'a'.repeat(32) }), ev(4, { dfid: 'b'.repeat(32) })])))();
    expect(ledger.byDfid('a'.repeat(32)).map((e) => e.seq)).toEqual([3]);
    expect(ledger.byDfid('b'.repeat(32)).map((e) => e.seq)).toEqual([4]);
    dropTriggers(db);
    db.prepare('UPDATE events SET data = replace(data, \'"n":4\', \'"n":5\') WHERE seq = 4').run();
    expect(ledger.verify()).toEqual({ ok: false, events: 2, firstBadSeq: 3, problem: "hash does not match the record's events" });
    // Its lookup key is hashed too: moving it to another flow is seen.
    db.prepare('UPDATE events SET data = replace(data, \'"n":5\', \'"n":4\'), dfid = ? WHERE seq = 4').run('c'.repeat(32));
    expect(ledger.verify()).toMatchObject({ ok: false, firstBadSeq: 3 });
  });

  it('a ledger written before ADR-021 (schema 10, format-1 rows) migrates: its old chain and the records after it verify as one', () => {
    // The file as mandate left it before ADR-021: schema version 10, events without the format columns (and no later tables).
    db.exec(BACK_TO_14);
    db.exec('ALTER TABLE events DROP COLUMN first_seq; ALTER TABLE events DROP COLUMN format; DROP TABLE policy_inputs; DROP INDEX decisions_created; DROP INDEX decisions_agent_created; DROP INDEX decisions_pending; CREATE INDEX decisions_status ON decisions(status, expires_at);');
    db.pragma('user_version = 10');
    let head = { seq: 0, hash: GENESIS_HASH };
    for (let i = 1; i <= 3; i++) {
      const r = sealEvent(ev(i), head, world);
      db.prepare('INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').run(r.seq, r.id, r.dfid, r.agent, r.type, r.time, r.decision_id, r.reasons, r.data, r.prev_hash, r.hash);
      head = { seq: r.seq, hash: r.hash };
    }
    db.close();
    db = openDb(path); // migrations 11 (records), 12, 13, 14 and 15
    expect(db.pragma('user_version', { simple: true })).toBe(15);
    // Migration 14: the status index holds pending decisions only.
    expect(db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'decisions' AND name IN ('decisions_status', 'decisions_pending')").pluck().all()).toEqual(['decisions_pending']);
    ledger = new Ledger(db, world);
    expect(ledger.verify()).toEqual({ ok: true, events: 3, head: head.hash });
    const receipts = db.transaction(() => ledger.inTransaction(() => ledger.appendInTransaction([ev(4), ev(5)])))();
    expect(receipts.map((r) => r.seq)).toEqual([4, 5]);
    expect(ledger.page(0, 10).map((e) => [e.seq, e.record?.first_seq ?? null])).toEqual([[1, null], [2, null], [3, null], [4, 4], [5, 4]]);
    expect(ledger.page(3, 1)[0]?.prev_hash).toBe(head.hash);
    expect(ledger.verify()).toEqual({ ok: true, events: 5, head: receipts[1]?.hash });
  });
});
