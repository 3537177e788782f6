import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { sqlitePort } from '../src/store/sqlite/port.js';
import { openStore } from '../src/store/sqlite/store.js';
import { FakeWorld } from './unit/helpers.js';
import { describePortSuite } from './store/port-suite.js';
import { describeSectionsSuite } from './store/sections-suite.js';

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
