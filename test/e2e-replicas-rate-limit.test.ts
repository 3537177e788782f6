/**
 * Fleet-wide rate limits: three replicas on one PostgreSQL store share one
 * per-principal budget, so a burst from one agent spread over all of them
 * gets 429 past the limit (per-process buckets would let three times as
 * many through).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { E2E, runCli } from './helpers/e2e.js';
import { fleetWorkspace } from './helpers/fleet.js';
import { type HttpServer, startHttp } from './helpers/http.js';
import { freshDatabase } from './helpers/postgres.js';
import { POSTGRES, requires } from './helpers/requires.js';

const LIMIT = 5;
const BURST = 45;
const e2e = new E2E();
const need = await requires(import.meta.url, [POSTGRES]);
let db: Awaited<ReturnType<typeof freshDatabase>>;
let ws: string;
let replicas: HttpServer[] = [];
let key: string;

beforeAll(async () => {
  db = await freshDatabase('ratelimit');
  const env = { MANDATE_DATABASE_URL: db.url };
  ws = await e2e.workspace();
  fleetWorkspace(ws, ['a1'], { http: { rate_limit: { per_principal_per_second: LIMIT, overall_per_second: 1000 } } });
  const r = await runCli(['keys', 'create', '--agent', 'a1', '--json', '--as', 'test-admin', '-w', ws], { env });
  expect(r.code).toBe(0);
  key = (JSON.parse(r.stdout) as { key: string }).key;
  replicas = await Promise.all([0, 1, 2].map(() => startHttp(ws, { env })));
}, 60_000);

afterAll(async () => {
  await Promise.all(replicas.map((r) => r.stop()));
  await e2e.cleanup();
  await db?.drop();
});

describe.skipIf(need.skip)(need.title('fleet-wide rate limit'), () => {
  it('a burst from one agent across three replicas gets 429 past the one shared limit', async () => {
    const send = (i: number) =>
      fetch(`${(replicas[i % 3] as HttpServer).url}/mcp`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' },
        body: JSON.stringify({ jsonrpc: '2.0', id: i, method: 'tools/list' }),
        signal: AbortSignal.timeout(15_000),
      }).then(async (res) => ({ status: res.status, retry: res.headers.get('retry-after'), body: await res.text() }));
    const answers = await Promise.all(Array.from({ length: BURST }, (_, i) => send(i)));
    const limited = answers.filter((a) => a.status === 429);
    const through = answers.length - limited.length;
    // A burst may straddle two one-second windows: at most twice the limit gets through, never one limit per replica.
    expect(through).toBeGreaterThanOrEqual(1);
    expect(through).toBeLessThanOrEqual(2 * LIMIT);
    expect(limited.length).toBeGreaterThanOrEqual(BURST - 2 * LIMIT);
    for (const a of limited) {
      expect(a.body).toContain('RATE_LIMITED');
      expect(Number(a.retry)).toBeGreaterThanOrEqual(1);
    }
    // Each replica turned some away: the budget is shared, not per process.
    const limitedBy = new Set(answers.map((a, i) => (a.status === 429 ? i % 3 : -1)).filter((i) => i >= 0));
    expect(limitedBy.size).toBe(3);
  });
});
