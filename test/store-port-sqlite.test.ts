import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { openDb, WAL_CHECKPOINT_PAGES } from '../src/store/sqlite/db.js';
import { sqlitePort } from '../src/store/sqlite/port.js';
import { openStore } from '../src/store/sqlite/store.js';
import { FakeWorld } from './unit/helpers.js';
import { describePortSuite } from './store/port-suite.js';
import { describeSectionsSuite } from './store/sections-suite.js';
import { BACK_TO_14 } from './helpers/sqlite-schemas.js';
import { policyImpact } from '../src/kernel/impact.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

// A real SQLite file per test, as the server opens it.
describePortSuite('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mandate-port-'));
  dirs.push(dir);
  const path = join(dir, 'mandate.db');
  return sqlitePort(openStore(path, new FakeWorld()), path);
}, { twin: async (of) => sqlitePort(openStore(of.location, new FakeWorld(undefined, 'twin')), of.location), pushes: false });

describeSectionsSuite('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mandate-sections-'));
  dirs.push(dir);
  const path = join(dir, 'mandate.db');
  return sqlitePort(openStore(path, new FakeWorld()), path);
}, {
  twin: async (of) => sqlitePort(openStore(of.location, new FakeWorld(undefined, 'twin')), of.location),
  childOpening: (of) => `import { sqlitePort } from './dist/src/store/sqlite/port.js';\nimport { openStore } from './dist/src/store/sqlite/store.js';\nimport { systemWorld } from './dist/src/core/world.js';\nconst port = sqlitePort(openStore(${JSON.stringify(of.location)}, systemWorld), ${JSON.stringify(of.location)});`,
});

describe('effect sections on one SQLite file: a released ticket nobody waits behind is kept for the next call (ADR-032)', () => {
  const open = () => {
    const dir = mkdtempSync(join(tmpdir(), 'mandate-kept-'));
    dirs.push(dir);
    const path = join(dir, 'mandate.db');
    const a = sqlitePort(openStore(path, new FakeWorld()), path);
    const b = sqlitePort(openStore(path, new FakeWorld(undefined, 'twin')), path);
    const peek = new Database(path, { readonly: true });
    const tickets = () => peek.prepare('SELECT ticket FROM section_tickets ORDER BY ticket').all().map((r) => (r as { ticket: number }).ticket);
    return { a, b, tickets, close: async () => (peek.close(), await b.close(), await a.close()) };
  };

  it('holds the section again with the kept ticket, writing no new one, and drops it once idle or closed', async () => {
    const { a, tickets, close } = open();
    try {
      await (await a.sections?.acquire('k', 1000))?.();
      const [kept] = tickets();
      expect(kept).toBeTypeOf('number');
      for (let i = 0; i < 5; i++) await (await a.sections?.acquire('k', 1000))?.();
      expect(tickets()).toEqual([kept]);
      await new Promise((r) => setTimeout(r, 60));
      expect(tickets()).toEqual([]);
      await (await a.sections?.acquire('k', 1000))?.();
      expect(tickets()).toHaveLength(1);
    } finally {
      await close();
    }
  });

  it('a port closing drops its kept tickets', async () => {
    const { a, b, tickets, close } = open();
    try {
      await (await a.sections?.acquire('k', 1000))?.();
      expect(tickets()).toHaveLength(1);
      await a.close();
      expect(tickets()).toEqual([]);
      expect(await b.sections?.acquire('k', 10)).toBeTypeOf('function');
    } finally {
      await close();
    }
  });

  it('another process waiting behind a kept or held ticket is served first: on release, on the keeper`s next call, or by the sweep', async () => {
    const { a, b, close } = open();
    try {
      // Held with a waiter behind: the release hands over at once, nothing is kept.
      const held = await a.sections?.acquire('k', 1000);
      const bWaits = b.sections?.acquire('k', 5000);
      await new Promise((r) => setTimeout(r, 20));
      await held?.();
      const bHeld = await bWaits;
      expect(bHeld).toBeTypeOf('function');
      await bHeld?.();
      // b keeps its ticket now; a waiter of a is granted by b's sweep, well before its deadline.
      const from = Date.now();
      const aHeld = await a.sections?.acquire('k', 5000);
      expect(aHeld).toBeTypeOf('function');
      expect(Date.now() - from).toBeLessThan(1000);
      await aHeld?.();
      // a keeps its ticket; b queues; a's next call sees b behind and queues after it.
      const order: string[] = [];
      const bNext = b.sections?.acquire('k', 5000).then((r) => (order.push('b'), r));
      const aNext = a.sections?.acquire('k', 5000).then((r) => (order.push('a'), r));
      await (await bNext)?.();
      await (await aNext)?.();
      expect(order).toEqual(['b', 'a']);
    } finally {
      await close();
    }
  });
});

describe('SQLite migration 14 (ADR-032)', () => {
  it('a store at schema 13 keeps its keys, flows and pending decisions, now in WITHOUT ROWID tables and a pending-only index', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mandate-m14-'));
    dirs.push(dir);
    const path = join(dir, 'mandate.db');
    // The file as schema 13 left it: rowid tables for keys and flows, the full status index.
    const old = openDb(path);
    old.exec(BACK_TO_14);
    old.exec(`
      DROP INDEX decisions_pending;
      CREATE INDEX decisions_status ON decisions(status, expires_at);
      DROP TABLE idempotency;
      CREATE TABLE idempotency (agent TEXT NOT NULL, key TEXT NOT NULL, request_hash TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('pending_approval', 'in_flight', 'done', 'failed', 'outcome_unknown')),
        decision_id TEXT NOT NULL, created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, PRIMARY KEY (agent, key));
      DROP TABLE flows;
      CREATE TABLE flows (dfid TEXT PRIMARY KEY, invocations INTEGER NOT NULL);
      INSERT INTO idempotency VALUES ('alice', 'k1', 'h1', 'in_flight', 'd1', 1, 2), ('alice', 'k2', 'h2', 'outcome_unknown', 'd2', 1, 2);
      INSERT INTO flows VALUES ('f1', 3);
      INSERT INTO decisions (id, dfid, agent, status, request_hash, created_at) VALUES ('d1', 'f1', 'alice', 'running', 'h1', 1), ('d3', 'f1', 'alice', 'pending', 'h3', 2);
    `);
    old.pragma('user_version = 13');
    old.close();
    const port = sqlitePort(openStore(path, new FakeWorld()), path);
    try {
      expect(await port.idempotency.peek('alice', 'k1', 10)).toMatchObject({ state: 'in_flight', decision_id: 'd1' });
      expect(await port.idempotency.peek('alice', 'k2', 10)).toMatchObject({ state: 'outcome_unknown', decision_id: 'd2' });
      expect((await port.decisions.pending()).map((d) => d.id)).toEqual(['d3']);
      expect((await port.decisions.started()).map((d) => d.id)).toEqual(['d1']);
      // The flow's count carries on from where it was; its cap still refuses.
      expect(await port.commit([{ op: 'flow.bump', dfid: 'f1', max: 3 }])).toMatchObject({ ok: false, conflict: { kind: 'flow_limit', count: 4 } });
      expect((await port.commit([{ op: 'flow.bump', dfid: 'f1', max: 4 }])).ok).toBe(true);
    } finally {
      await port.close();
    }
    const db = new Database(path, { readonly: true });
    try {
      expect(db.pragma('user_version', { simple: true })).toBe(15);
      const ddl = (name: string) => (db.prepare('SELECT sql FROM sqlite_master WHERE name = ?').pluck().get(name) as string) ?? '';
      expect(ddl('idempotency')).toMatch(/WITHOUT ROWID$/);
      expect(ddl('flows')).toMatch(/WITHOUT ROWID$/);
      expect(ddl('decisions_status')).toBe('');
      expect(ddl('decisions_pending')).toMatch(/WHERE status = 'pending'/);
    } finally {
      db.close();
    }
  });
});

describe('SQLite migration 15 (ADR-040)', () => {
  /** A file at schema 14 with two decisions, each with its policy input in `policy_inputs` (one a free-text intent's, its capability not yet set); `extra` runs before it is closed. */
  function schema14(extra = ''): string {
    const dir = mkdtempSync(join(tmpdir(), 'mandate-m15-'));
    dirs.push(dir);
    const path = join(dir, 'mandate.db');
    const old = openDb(path);
    old.exec(BACK_TO_14);
    old.exec(`
      INSERT INTO decisions (id, dfid, agent, capability, status, request_hash, created_at) VALUES ('d1', 'f1', 'alice', 'pay', 'accepted', 'h1', 10), ('d2', 'f2', 'bob', NULL, 'running', 'h2', 20);
      INSERT INTO policy_inputs VALUES ('d2', 'f2', 'bob', 'pay', 21, 'permit', '["g1"]', '{"context":{"n":2}}', 'x2'), ('d1', 'f1', 'alice', 'pay', 11, 'forbid', '[]', '{"context":{"n":1}}', 'x1');
      ${extra}
    `);
    old.pragma('user_version = 14');
    old.close();
    return path;
  }

  it('a store at schema 14 keeps every policy input, now in its decision\'s row, listed in decision order; the table and its indexes are gone', async () => {
    const path = schema14();
    const port = sqlitePort(openStore(path, new FakeWorld()), path);
    try {
      // Each input at its decision's time; the free-text decision learns its capability from its input, as a new one does.
      expect(await port.policyInputs.list({ limit: 10 })).toEqual([
        { decision_id: 'd1', dfid: 'f1', agent: 'alice', capability: 'pay', at: 10, verdict: 'forbid', gates: [], input: '{"context":{"n":1}}', input_hash: 'x1' },
        { decision_id: 'd2', dfid: 'f2', agent: 'bob', capability: 'pay', at: 20, verdict: 'permit', gates: ['g1'], input: '{"context":{"n":2}}', input_hash: 'x2' },
      ]);
      expect(await port.decisions.get('d2')).toMatchObject({ capability: 'pay', status: 'running' });
      // Replay reads them as before: here the ledger vouches for neither, so both are reported and none replayed.
      const none = { contracts: new Map(), engine: {} as never };
      const report = await policyImpact(port, none, none, {});
      expect(report.untrusted.map((u) => u.decision_id)).toEqual(['d1', 'd2']);
      expect(report.replayed).toBe(0);
      // Retention clears inputs, not decisions.
      expect((await port.commit([{ op: 'policy_inputs.purge', before: 15 }])).ok).toBe(true);
      expect((await port.policyInputs.list({ limit: 10 })).map((r) => r.decision_id)).toEqual(['d2']);
      expect(await port.decisions.get('d1')).toMatchObject({ status: 'accepted' });
    } finally {
      await port.close();
    }
    const db = new Database(path, { readonly: true });
    try {
      expect(db.pragma('user_version', { simple: true })).toBe(15);
      expect(db.prepare("SELECT name FROM sqlite_master WHERE name LIKE 'policy_inputs%'").pluck().all()).toEqual([]);
    } finally {
      db.close();
    }
  });

  it('a policy input whose decision does not exist stops the migration with its id and the way out, and changes nothing', () => {
    const path = schema14("INSERT INTO policy_inputs VALUES ('gone', 'f3', 'alice', 'pay', 30, 'permit', '[]', '{}', 'x3');");
    expect(() => openDb(path)).toThrow(/1 policy input\(s\) name no decision \(gone\).*DELETE FROM policy_inputs WHERE decision_id NOT IN/);
    const db = new Database(path, { readonly: true });
    try {
      expect(db.pragma('user_version', { simple: true })).toBe(14);
      expect(db.prepare('SELECT decision_id FROM policy_inputs ORDER BY decision_id').pluck().all()).toEqual(['d1', 'd2', 'gone']);
    } finally {
      db.close();
    }
    // Deleted as the error says, the store opens.
    const fix = new Database(path);
    fix.exec('DELETE FROM policy_inputs WHERE decision_id NOT IN (SELECT id FROM decisions)');
    fix.close();
    const reopened = openDb(path);
    expect(reopened.pragma('user_version', { simple: true })).toBe(15);
    reopened.close();
  });
});

describe('the WAL under continuous writes (ADR-002, ADR-037)', () => {
  it('is checkpointed inside the commits that pass its bound, so it never grows past about that many pages', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mandate-wal-'));
    dirs.push(dir);
    const path = join(dir, 'mandate.db');
    const db = openDb(path);
    try {
      db.exec('CREATE TABLE filler (id INTEGER PRIMARY KEY, data BLOB NOT NULL)');
      const insert = db.prepare('INSERT INTO filler (data) VALUES (?)');
      const commit = db.transaction((n: number) => {
        for (let i = 0; i < n; i++) insert.run(Buffer.alloc(3500, i));
      });
      // One and a half times the bound in commits of ~16 pages each, with no pause for a checkpoint to catch up.
      const pageSize = db.pragma('page_size', { simple: true }) as number;
      let largest = 0;
      for (let pages = 0; pages < 1.5 * WAL_CHECKPOINT_PAGES; pages += 16) {
        commit(16);
        largest = Math.max(largest, statSync(`${path}-wal`).size);
      }
      const frame = pageSize + 24;
      expect(largest).toBeGreaterThan(0.9 * WAL_CHECKPOINT_PAGES * frame); // it did fill up to the bound
      expect(largest).toBeLessThan((WAL_CHECKPOINT_PAGES + 64) * frame);
    } finally {
      db.close();
    }
  });
});
