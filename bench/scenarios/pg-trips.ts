/**
 * Scenario 9: PostgreSQL round trips per accepted write. The kernel runs in
 * this process on a PostgreSQL store (a new database, dropped after), and
 * every query its pools send is counted: governed no-op calls one at a time,
 * then 16 at once (group commit joins their commits). Needs PostgreSQL
 * (MANDATE_BENCH_PG_URL, default the local server's `postgres` database).
 */
import { randomBytes } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { silentLogger } from '../../src/core/log.js';
import { systemWorld } from '../../src/core/world.js';
import { openRuntime } from '../../src/runtime.js';
import { countRoundTrips } from '../../src/store/pg/connect.js';
import { isPgPort } from '../../src/store/pg/port.js';
import { benchWorkspace, type Sizes } from '../lib.js';
import { admin, ADMIN_URL } from './store.js';

export interface PgTripsRow {
  inFlight: number;
  calls: number;
  accepted: number;
  roundTripsPerWrite: number;
  meanUs: number;
}

export async function pgTripsScenario(sizes: Sizes): Promise<PgTripsRow[]> {
  const db = `mandate_bench_trips_${randomBytes(4).toString('hex')}`;
  await admin(`CREATE DATABASE ${db}`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${db}`;
  const ws = benchWorkspace();
  appendFileSync(join(ws, 'mandate.yaml'), 'store:\n  kind: postgres\n  url_env: MANDATE_BENCH_TRIPS_URL\n');
  process.env['MANDATE_BENCH_TRIPS_URL'] = url.toString();
  const rows: PgTripsRow[] = [];
  try {
    const rt = await openRuntime(ws, silentLogger, systemWorld);
    try {
      if (!isPgPort(rt.store)) throw new Error('the runtime did not open the PostgreSQL store');
      const call = (n: number) => rt.kernel.govern({ agent: 'bench', channel: 'stdio', intent: { capability: 'bench.noop', params: { n }, idempotency_key: `trips-${n}` } });
      for (let i = 0; i < sizes.warmup; i++) await call(1_000_000 + i);
      const calls = Math.min(sizes.calls, 1000);
      let next = 0;
      for (const inFlight of [1, 16]) {
        const trips = countRoundTrips([rt.store.pool, rt.store.volatilePool]);
        let accepted = 0;
        const end = next + calls;
        const t0 = performance.now();
        await Promise.all(
          Array.from({ length: inFlight }, async () => {
            while (next < end) if ((await call(next++)).verdict === 'accepted') accepted++;
          }),
        );
        const ms = performance.now() - t0;
        rows.push({ inFlight, calls, accepted, roundTripsPerWrite: trips.n / Math.max(1, accepted), meanUs: (ms / calls) * 1000 });
      }
    } finally {
      await rt.close();
    }
  } finally {
    delete process.env['MANDATE_BENCH_TRIPS_URL'];
    await admin(`DROP DATABASE ${db} WITH (FORCE)`).catch(() => undefined);
  }
  return rows;
}
