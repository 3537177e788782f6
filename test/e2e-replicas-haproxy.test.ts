/**
 * The load-balancer setup docs/guides/postgresql-and-replicas.md documents, run for real: HAProxy with
 * its haproxy.cfg (ports filled in) in front of two replicas on one
 * PostgreSQL store. A session sticks to the replica that issued it; when
 * that replica is killed, the client gets a clean 404 for its session id,
 * re-initialises through the same address on the other replica and carries
 * on, with nothing lost or doubled.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { E2E, REPO_ROOT, runCli } from './helpers/e2e.js';
import { effects, fleetWorkspace } from './helpers/fleet.js';
import { httpAgent, type HttpAgent, type HttpServer, startHttp } from './helpers/http.js';
import { freshDatabase } from './helpers/postgres.js';
import { HAPROXY, POSTGRES, requires } from './helpers/requires.js';

const need = await requires(import.meta.url, [POSTGRES, HAPROXY]);
const e2e = new E2E();
let db: Awaited<ReturnType<typeof freshDatabase>>;
let ws: string;
let replicas: HttpServer[] = [];
let proxy: ChildProcess | null = null;
let proxyUrl: string;
let key: string;
const clients: HttpAgent[] = [];

/** The documented haproxy.cfg block, with the listen port and the two replicas' ports filled in. */
function readmeConfig(listen: number, ports: number[]): string {
  const readme = readFileSync(join(REPO_ROOT, 'docs', 'guides', 'postgresql-and-replicas.md'), 'utf8');
  const block = /```haproxy\n([\s\S]*?)```/.exec(readme)?.[1];
  if (!block) throw new Error('docs/guides/postgresql-and-replicas.md has no ```haproxy block');
  return block
    .replace('bind 127.0.0.1:8080', `bind 127.0.0.1:${listen}`)
    .replace('127.0.0.1:8081', `127.0.0.1:${ports[0]}`)
    .replace('127.0.0.1:8082', `127.0.0.1:${ports[1]}`);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function sessionsOn(r: HttpServer): Promise<number> {
  const text = await (await fetch(`${r.url}/metrics`, { signal: AbortSignal.timeout(5_000) })).text();
  return Number(/^mandate_mcp_sessions (\d+)/m.exec(text)?.[1] ?? 0);
}

beforeAll(async () => {
  db = await freshDatabase('haproxy');
  const env = { MANDATE_DATABASE_URL: db.url };
  ws = await e2e.workspace();
  const listen = await freePort();
  proxyUrl = `http://127.0.0.1:${listen}`;
  // As the HTTP guide says for a proxy: the public origin is the proxy's.
  fleetWorkspace(ws, ['a1'], { http: { public_url: proxyUrl } });
  const r = await runCli(['keys', 'create', '--agent', 'a1', '--json', '--as', 'test-admin', '-w', ws], { env });
  expect(r.code).toBe(0);
  key = (JSON.parse(r.stdout) as { key: string }).key;
  replicas = await Promise.all([0, 1].map(() => startHttp(ws, { env })));
  const cfg = join(e2e.tempDir('mandate-haproxy-'), 'haproxy.cfg');
  writeFileSync(cfg, readmeConfig(listen, replicas.map((x) => x.port)));
  const check = spawnSync('haproxy', ['-c', '-f', cfg], { encoding: 'utf8' });
  expect(check.status, check.stdout + check.stderr).toBe(0);
  proxy = spawn('haproxy', ['-db', '-f', cfg], { stdio: ['ignore', 'ignore', 'pipe'] });
  // Both replicas healthy behind the proxy (the health check runs every second).
  for (let i = 0; i < 100; i++) {
    const ok = await fetch(`${proxyUrl}/readyz`, { signal: AbortSignal.timeout(2_000) }).then((x) => x.status === 200).catch(() => false);
    if (ok) break;
    await new Promise((res) => setTimeout(res, 100));
  }
  await new Promise((res) => setTimeout(res, 2_500));
}, 90_000);

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  proxy?.kill('SIGTERM');
  await Promise.all(replicas.map((x) => x.stop()));
  await e2e.cleanup();
  await db?.drop();
});

describe.skipIf(need.skip)(need.title('behind HAProxy with the documented configuration'), () => {
  it('a session sticks to its replica; when that replica dies the client gets 404, re-initialises through the same address and carries on', async () => {
    const c = await httpAgent(proxyUrl, key);
    clients.push(c);
    const work = (agent: HttpAgent, tag: string) => agent.call('invoke_capability', { capability: 'fleet.work', params: { tag, n: 1 }, idempotency_key: tag });
    for (let i = 0; i < 6; i++) expect((await work(c, `hp-${i}`)).outcome.verdict).toBe('accepted');
    const counts = await Promise.all(replicas.map(sessionsOn));
    expect(counts.sort()).toEqual([0, 1]); // every request of the session reached one replica
    const holder = (await sessionsOn(replicas[0] as HttpServer)) === 1 ? 0 : 1;
    const sid = c.transport.sessionId as string;
    (replicas[holder] as HttpServer).proc.kill('SIGKILL');

    // The proxy sends the session elsewhere (a request in flight when the replica died may just fail);
    // the surviving replica does not know the session.
    let status = 0;
    for (let i = 0; i < 50 && status !== 404; i++) {
      status = await fetch(`${proxyUrl}/mcp`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${key}`, 'Mcp-Session-Id': sid, 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
        signal: AbortSignal.timeout(5_000),
      }).then(
        (res) => res.status,
        () => 0,
      );
      if (status !== 404) await new Promise((res) => setTimeout(res, 200));
    }
    expect(status).toBe(404);

    const again = await httpAgent(proxyUrl, key);
    clients.push(again);
    // The last call again (a client retrying after the failure) is answered from the record; new work runs once.
    const retried = await work(again, 'hp-5');
    expect(retried.outcome.reasons).toContain('IDEMPOTENT_REPLAY');
    for (let i = 6; i < 10; i++) expect((await work(again, `hp-${i}`)).outcome.verdict).toBe('accepted');
    expect(effects(ws)).toEqual(Array.from({ length: 10 }, (_, i) => `hp-${i}`));
  });
});
