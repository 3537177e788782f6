import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hashOf } from '../../src/core/canonical.js';
import { openEvent, rowParams, sealEvent, sealRecord, storedRowHash } from '../../src/store/port/events.js';
import { GENESIS_HASH, type EventRow, type NewEvent, type VerifyResult } from '../../src/store/port/index.js';
import type { Db } from '../../src/store/sqlite/db.js';
import { checkChunk, chunkBounds, linkChunks, TO_THE_END } from '../../src/store/sqlite/ledger-chunks.js';
import { prepare } from '../../src/store/sqlite/stmt.js';
import { events as eventsSql } from '../../src/store/tables/events.js';
import { REPO_ROOT } from '../helpers/e2e.js';
import { ledgerFile } from './helpers.js';

const ev = (i: number): NewEvent => ({ dfid: i.toString(16).padStart(32, '0'), agent: 'alice', type: 'IntentReceived', decision_id: `d-${i}`, data: { n: i, request_hash: hashOf({ i }) } });

/** The verdict of the rows checked in `parts` runs of about equal sequence ranges, linked in order. */
const inRuns = (db: Db, head: number, parts: number): VerifyResult => linkChunks(chunkBounds(head, parts).map((b) => checkChunk(db, b.after, b.upTo)));

describe('the ledger verified in runs of rows, linked in chain order (ADR-048)', () => {
  let f: ReturnType<typeof ledgerFile>;
  beforeEach(() => {
    f = ledgerFile();
  });
  afterEach(() => f.close());

  /** Ten format-1 rows (ledgers written before ADR-021), then records of one to four events each: 40 rows, 83 events. */
  function fill(): number {
    const insert = prepare(f.db, eventsSql.insert);
    let head = { seq: 0, hash: GENESIS_HASH };
    let n = 0;
    for (let i = 0; i < 10; i++) {
      const row = sealEvent(ev(++n), head, f.world);
      insert.run(...rowParams(row));
      head = { seq: row.seq, hash: row.hash };
    }
    for (let i = 0; i < 30; i++) {
      const events = Array.from({ length: (i % 4) + 1 }, () => openEvent(ev(++n), f.world));
      const { row } = sealRecord(events, head);
      insert.run(...rowParams(row));
      head = { seq: row.seq, hash: row.hash };
    }
    return head.seq;
  }

  const rows = (): EventRow[] => f.db.prepare<[], EventRow>('SELECT * FROM events ORDER BY seq').all();

  /** Runs `tamper` inside a transaction that is rolled back after `check` has read the tampered rows. */
  function tampered<T>(tamper: () => void, check: () => T): T {
    f.db.exec('SAVEPOINT tamper');
    try {
      tamper();
      return check();
    } finally {
      f.db.exec('ROLLBACK TO tamper; RELEASE tamper');
    }
  }

  it('an intact ledger gives the sequential verdict in any number of runs, head and count included', () => {
    const head = fill();
    const whole = f.ledger.verify();
    expect(whole).toEqual({ ok: true, events: 83, head: rows().at(-1)?.hash });
    for (let parts = 1; parts <= 12; parts++) expect(inRuns(f.db, head, parts), `${parts} runs`).toEqual(whole);
    // Empty: no row, the genesis is the head.
    f.db.exec('DROP TRIGGER events_no_delete; DELETE FROM events');
    expect(inRuns(f.db, 0, 3)).toEqual({ ok: true, events: 0, head: GENESIS_HASH });
  });

  it('whatever row is edited, forged, unlinked or deleted, and wherever the runs split, the verdict is the sequential one, row for row', () => {
    const head = fill();
    f.db.exec('DROP TRIGGER events_no_update; DROP TRIGGER events_no_delete;');
    const tampers: Record<string, (r: EventRow) => void> = {
      edited: (r) => f.db.prepare('UPDATE events SET data = ? WHERE seq = ?').run(r.data.replace('"n":', '"n":1'), r.seq),
      // A forger who re-hashes the edited row: it holds alone, the next row's link does not.
      forged: (r) => {
        const data = r.data.replace('"n":', '"n":1');
        f.db.prepare('UPDATE events SET data = ?, hash = ? WHERE seq = ?').run(data, storedRowHash({ ...r, data }), r.seq);
      },
      unlinked: (r) => f.db.prepare('UPDATE events SET prev_hash = ? WHERE seq = ?').run('f'.repeat(64), r.seq),
      deleted: (r) => f.db.prepare('DELETE FROM events WHERE seq = ?').run(r.seq),
      'an unknown format': (r) => f.db.prepare('UPDATE events SET format = 3 WHERE seq = ?').run(r.seq),
    };
    let broken = 0;
    for (const row of rows()) {
      for (const [kind, tamper] of Object.entries(tampers)) {
        tampered(
          () => tamper(row),
          () => {
            const whole = f.ledger.verify();
            // The last row forged, or dropped, leaves a chain that holds (the signed checkpoints catch a cut tail): every other tamper breaks it.
            if (!((kind === 'forged' || kind === 'deleted') && row.seq === head)) {
              expect(whole.ok, `${kind} row ${row.seq}`).toBe(false);
              broken++;
            }
            for (let parts = 2; parts <= 9; parts++) expect(inRuns(f.db, head, parts), `${kind} row ${row.seq}, ${parts} runs`).toEqual(whole);
          },
        );
      }
    }
    expect(broken).toBe(40 * 5 - 2);
  });

  it('runs split the sequences up to the head into about equal ranges; the last goes on to the end, for rows appended meanwhile', () => {
    expect(chunkBounds(100, 3)).toEqual([
      { after: 0, upTo: 33 },
      { after: 33, upTo: 66 },
      { after: 66, upTo: TO_THE_END },
    ]);
    expect(chunkBounds(2, 4)).toEqual([
      { after: 0, upTo: 1 },
      { after: 1, upTo: TO_THE_END },
    ]);
    expect(chunkBounds(0, 4)).toEqual([{ after: 0, upTo: TO_THE_END }]);
    const head = fill();
    const late = sealRecord([openEvent(ev(999), f.world)], { seq: head, hash: rows().at(-1)?.hash ?? '' });
    prepare(f.db, eventsSql.insert).run(...rowParams(late.row));
    expect(inRuns(f.db, head, 4)).toEqual({ ok: true, events: 84, head: late.row.hash });
  });

  it('the built worker threads give the same verdicts as this thread, intact and broken, on a file of its own', async () => {
    // The worker is JavaScript: it runs from the build (npm test builds first), on a connection of its own.
    const threads = (await import(join(REPO_ROOT, 'dist/src/store/sqlite/verify-threads.js'))) as typeof import('../../src/store/sqlite/verify-threads.js');
    const head = fill();
    const whole = f.ledger.verify();
    for (const n of [2, 3, 5]) expect(await threads.verifyInWorkers(f.path, head, n)).toEqual(whole);
    f.db.exec('DROP TRIGGER events_no_update');
    const middle = rows()[27] as EventRow;
    f.db.prepare('UPDATE events SET data = ? WHERE seq = ?').run(middle.data.replace('"n":', '"n":1'), middle.seq);
    const broken = f.ledger.verify();
    expect(broken).toMatchObject({ ok: false, firstBadSeq: middle.first_seq });
    for (const n of [2, 3, 5]) expect(await threads.verifyInWorkers(f.path, head, n)).toEqual(broken);
    // What the store port runs: workers when asked from this size on, the same verdict.
    expect(await threads.verifyLedgerFile(f.ledger, f.path, { threads: 3, minEvents: 0 })).toEqual(broken);
    // A file the workers cannot open: they fail, the caller is told so, and the port's check falls back to this thread.
    await expect(threads.verifyInWorkers(join(f.dir, 'absent.db'), head, 2)).rejects.toThrow();
    expect(await threads.verifyLedgerFile(f.ledger, join(f.dir, 'absent.db'), { threads: 2, minEvents: 0 })).toEqual(broken);
  });
});
