// The fleet-wide rate limiter's counters in PostgreSQL, one statement per request (real database; a clock the test moves).
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FleetRateLimiter } from '../src/http/fleet-rate-limit.js';
import { openPgPort, type PgStorePort } from '../src/store/pg/port.js';
import { FakeWorld } from './unit/helpers.js';
import { freshDatabase } from './helpers/postgres.js';
import { POSTGRES, requires } from './helpers/requires.js';

const need = await requires(import.meta.url, [POSTGRES]);
let db: Awaited<ReturnType<typeof freshDatabase>>;
let port: PgStorePort;
beforeAll(async () => {
  db = await freshDatabase('fleetrl');
  port = await openPgPort(db.url, new FakeWorld());
});
afterAll(async () => {
  await port?.close();
  await db?.drop();
});

const points = async (key: string): Promise<number | undefined> => (await port.pool.query<{ points: number }>('SELECT points FROM rate_limits WHERE key = $1', [key])).rows[0]?.points;

describe.skipIf(need.skip)(need.title('fleet rate limiter'), () => {
  it('a principal over its limit is refused with a wait, and gives the overall counter its point back', async () => {
    let now = 1_000_000;
    const limiter = new FleetRateLimiter(port.volatilePool, { perPrincipal: 3, overall: 100 }, () => now);
    for (let i = 0; i < 3; i++) expect(await limiter.take('agent:a')).toEqual({ ok: true });
    now += 400;
    expect(await limiter.take('agent:a')).toEqual({ ok: false, scope: 'principal', retryAfterSeconds: 1 });
    expect(await points('overall:all')).toBe(3);
    // The window ends: the principal starts again.
    now += 600;
    expect(await limiter.take('agent:a')).toEqual({ ok: true });
    expect(await points('principal:agent:a')).toBe(1);
    await port.pool.query('DELETE FROM rate_limits');
  });

  it('the overall limit refuses any principal once the fleet is over it, and gives the principal its point back', async () => {
    const now = 2_000_000;
    const limiter = new FleetRateLimiter(port.volatilePool, { perPrincipal: 10, overall: 4 }, () => now);
    // Two limiters stand for two replicas: they draw from one budget.
    const other = new FleetRateLimiter(port.volatilePool, { perPrincipal: 10, overall: 4 }, () => now);
    expect(await limiter.take('agent:a')).toEqual({ ok: true });
    expect(await other.take('agent:a')).toEqual({ ok: true });
    expect(await limiter.take('agent:b')).toEqual({ ok: true });
    expect(await other.take('agent:b')).toEqual({ ok: true });
    expect(await limiter.take('agent:b')).toEqual({ ok: false, scope: 'overall', retryAfterSeconds: 1 });
    expect(await points('principal:agent:b')).toBe(2);
    await port.pool.query('DELETE FROM rate_limits');
  });

  it('counters of windows that ended are swept, and a database that does not answer falls back to in-process buckets', async () => {
    let now = 3_000_000;
    const limiter = new FleetRateLimiter(port.volatilePool, { perPrincipal: 2, overall: 100 }, () => now);
    await limiter.take('agent:old');
    now += 10 * 60_000;
    await limiter.take('agent:new');
    for (let i = 0; i < 50 && (await points('principal:agent:old')) !== undefined; i++) await new Promise((r) => setTimeout(r, 20));
    expect(await points('principal:agent:old')).toBeUndefined();
    expect(await points('principal:agent:new')).toBe(1);

    // Port 1 on loopback: nothing listens there, so every query fails at once.
    const dead = new pg.Pool({ host: '127.0.0.1', port: 1, user: 'postgres', connectionTimeoutMillis: 1_000 });
    const offline = new FleetRateLimiter(dead, { perPrincipal: 2, overall: 100 }, () => now);
    expect(await offline.take('agent:x')).toEqual({ ok: true });
    expect(await offline.take('agent:x')).toEqual({ ok: true });
    expect(await offline.take('agent:x')).toMatchObject({ ok: false, scope: 'principal' });
    await dead.end();
  });
});
