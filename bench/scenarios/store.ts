/**
 * Scenario 8: the governed no-op over HTTP with the store on SQLite and on
 * PostgreSQL (one replica, and three replicas on one database, the load
 * spread over them), against the bare SDK, at 1 and 16 in flight. Needs
 * PostgreSQL (MANDATE_BENCH_PG_URL, default the local server's `postgres`
 * database); each run uses a new database and drops it.
 */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { randomBytes } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { BARE_HTTP_SERVER, benchWorkspace, CLI, connectHttp, createKey, measure, noopCall, startUrlServer, type Latency, type Sizes } from '../lib.js';

export interface StoreRow extends Latency {
  server: 'bare SDK' | 'mandate';
  store: 'sqlite' | 'postgres' | '—';
  replicas: number;
  inFlight: number;
}

export const ADMIN_URL = process.env['MANDATE_BENCH_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** Runs one statement on the bench's PostgreSQL admin database (create or drop a scratch database). */
export async function admin(sql: string): Promise<void> {
  const c = new pg.Client({ connectionString: ADMIN_URL });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

/** Governed no-op rows for one store and replica count; clients are spread over the replicas. */
async function governed(ws: string, env: Record<string, string>, store: StoreRow['store'], replicas: number, sizes: Sizes): Promise<StoreRow[]> {
  const key = createKey(ws, 'bench', env);
  const servers = [];
  for (let i = 0; i < replicas; i++) servers.push(await startUrlServer([CLI, 'serve', '--http', '--port', '0', '--json-response', '-w', ws, '--log-level', 'silent'], /\(mcp (\S+),/, env));
  const rows: StoreRow[] = [];
  try {
    for (const inFlight of [1, 16]) {
      const clients: Client[] = await Promise.all(servers.map((s) => connectHttp(s.url, { Authorization: `Bearer ${key}` })));
      try {
        const calls = clients.map((c, i) => noopCall(c, `${store}${replicas}r${inFlight}c${i}`));
        const r = await measure((i) => (calls[i % calls.length] as (n: number) => Promise<void>)(i), inFlight, sizes.calls, sizes.warmup);
        rows.push({ server: 'mandate', store, replicas, inFlight, ...r });
      } finally {
        await Promise.all(clients.map((c) => c.close()));
      }
    }
  } finally {
    for (const s of servers) s.proc.kill();
  }
  return rows;
}

export async function storeScenario(sizes: Sizes): Promise<StoreRow[]> {
  const rows: StoreRow[] = [];
  const bareSrv = await startUrlServer([BARE_HTTP_SERVER], /listening on (\S+)/);
  try {
    for (const inFlight of [1, 16]) {
      const bare = await connectHttp(bareSrv.url);
      try {
        rows.push({ server: 'bare SDK', store: '—', replicas: 1, inFlight, ...(await measure((i) => bare.callTool({ name: 'noop', arguments: { n: i } }), inFlight, sizes.calls, sizes.warmup)) });
      } finally {
        await bare.close();
      }
    }
  } finally {
    bareSrv.proc.kill();
  }
  rows.push(...(await governed(benchWorkspace(), {}, 'sqlite', 1, sizes)));
  const name = `mandate_bench_${randomBytes(4).toString('hex')}`;
  await admin(`CREATE DATABASE ${name}`);
  try {
    const url = new URL(ADMIN_URL);
    url.pathname = `/${name}`;
    const env = { MANDATE_DATABASE_URL: url.toString() };
    const ws = benchWorkspace();
    appendFileSync(join(ws, 'mandate.yaml'), 'store:\n  kind: postgres\n');
    rows.push(...(await governed(ws, env, 'postgres', 1, sizes)));
    rows.push(...(await governed(ws, env, 'postgres', 3, sizes)));
  } finally {
    await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  }
  return rows;
}
