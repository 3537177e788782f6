// API-key rows kept between requests on PostgreSQL, and dropped by every revocation (real database, two ports as two replicas).
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { CredentialRow } from '../src/store/port/rows.js';
import { CREDENTIAL_CACHE_MS, CredentialCache } from '../src/store/pg/credential-cache.js';
import { openPgPort, type PgStorePort } from '../src/store/pg/port.js';
import { FakeWorld } from './unit/helpers.js';
import { freshDatabase } from './helpers/postgres.js';
import { POSTGRES, requires } from './helpers/requires.js';

const need = await requires(import.meta.url, [POSTGRES]);
let db: Awaited<ReturnType<typeof freshDatabase>>;
const ports: PgStorePort[] = [];
beforeEach(async () => {
  db = await freshDatabase('credcache');
});
afterEach(async () => {
  await Promise.all(ports.splice(0).map((p) => p.close()));
  await db?.drop();
});

const HASH = 'c'.repeat(64);
const row = { id: 'k1', kind: 'agent' as const, principal: 'alice', role: 'agent' as const, key_hash: HASH, key_prefix: 'mk_', label: null, created_at: 1, created_by: 'op' };

async function replica(): Promise<PgStorePort> {
  const port = await openPgPort(db.url, new FakeWorld());
  ports.push(port);
  return port;
}

/** Writes straight to the table, as an operator's hand-written SQL would: no notification. */
async function byHand(sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
  let ok = false;
  for (let i = 0; i < 60 && !(ok = await check()); i++) await new Promise((r) => setTimeout(r, 50));
  expect(ok, what).toBe(true);
}

describe.skipIf(need.skip)(need.title('credential cache on PostgreSQL'), () => {
  it('a live key is read once while the listener is up; a revocation through another replica drops it in this one', async () => {
    const a = await replica();
    const b = await replica();
    expect((await a.commit([{ op: 'credential.add', row }])).ok).toBe(true);
    expect(await a.credentials.byHash(HASH)).toMatchObject({ id: 'k1', principal: 'alice' });
    expect(await a.notifications.ready()).toBe(true);
    await a.credentials.byHash(HASH);
    // Kept: a change no store announced (by hand) is not seen within the cache's age.
    await byHand(`UPDATE credentials SET principal = 'mallory' WHERE id = 'k1'`);
    expect(await a.credentials.byHash(HASH)).toMatchObject({ principal: 'alice' });
    // Revoked through replica b: replica a refuses the key once the notification arrives.
    expect((await b.commit([{ op: 'credential.revoke', id: 'k1', by: 'op', at: 2 }])).ok).toBe(true);
    await eventually(async () => (await a.credentials.byHash(HASH)) === null, 'replica a refuses the revoked key');
  });

  it('a revocation in this process applies to the very next lookup, before any notification', async () => {
    const a = await replica();
    expect((await a.commit([{ op: 'credential.add', row }])).ok).toBe(true);
    await a.credentials.byHash(HASH);
    expect(await a.notifications.ready()).toBe(true);
    await a.credentials.byHash(HASH);
    expect((await a.commit([{ op: 'credential.revoke', id: 'k1', by: 'op', at: 2 }])).ok).toBe(true);
    expect(await a.credentials.byHash(HASH)).toBeNull();
  });

  it('the end of a sub-mandate, which revokes its agent keys, drops them from this replica at once and from another by notification', async () => {
    const a = await replica();
    const b = await replica();
    const child = { ...row, id: 'kw1', principal: 'w1', key_hash: 'w'.repeat(64) };
    const delegation = { id: 'dlg-1', child: 'w1', parent: 'alice', root: 'alice', depth: 1, max_depth: 1, may_delegate: 0, purpose: 'p', grants: '[]', memory: '[]', created_at: 1, expires_at: 60_000, created_by: 'agent:alice', decision_id: 'd1' };
    expect((await a.commit([{ op: 'delegation.add', row: delegation, maxChildren: 2, now: 1 }, { op: 'credential.add', row: child }])).ok).toBe(true);
    for (const p of [a, b]) {
      await p.credentials.byHash(child.key_hash);
      expect(await p.notifications.ready()).toBe(true);
      expect(await p.credentials.byHash(child.key_hash)).toMatchObject({ principal: 'w1' });
    }
    expect((await a.commit([{ op: 'delegation.end', child: 'w1', status: 'revoked', by: 'operator:op', at: 2 }])).ok).toBe(true);
    expect(await a.credentials.byHash(child.key_hash)).toBeNull();
    await eventually(async () => (await b.credentials.byHash(child.key_hash)) === null, 'replica b refuses the ended sub-mandate key');
  });

  it('a row is trusted for at most its age, only while listening, and a read overtaken by a revocation is not kept', async () => {
    const port = await replica();
    let now = 0;
    const cache = new CredentialCache(port.notifications, () => now);
    let reads = 0;
    let stored: CredentialRow | null = { ...row, revoked_at: null, revoked_by: null };
    const read = async () => (reads++, stored);
    await cache.byHash(HASH, read);
    expect(await port.notifications.ready()).toBe(true);
    await cache.byHash(HASH, read);
    await cache.byHash(HASH, read);
    expect(reads).toBe(2);
    now += CREDENTIAL_CACHE_MS;
    await cache.byHash(HASH, read);
    expect(reads).toBe(3);
    // A revocation announced while a read runs: that read's answer is used once, never kept.
    const overtaken = async () => {
      cache.clear();
      return (reads++, stored);
    };
    now += CREDENTIAL_CACHE_MS;
    await cache.byHash(HASH, overtaken);
    stored = null;
    expect(await cache.byHash(HASH, read)).toBeNull();
    // A key not found is never kept.
    stored = { ...row, revoked_at: null, revoked_by: null };
    expect(await cache.byHash(HASH, read)).not.toBeNull();
  });

  it('a lookup is never served from the cache while the listener is down', async () => {
    const port = await replica();
    await port.notifications.close();
    const cache = new CredentialCache(port.notifications, () => 0);
    let reads = 0;
    const read = async () => (reads++, { ...row, revoked_at: null, revoked_by: null });
    for (let i = 0; i < 3; i++) await cache.byHash(HASH, read);
    expect(reads).toBe(3);
  });
});
