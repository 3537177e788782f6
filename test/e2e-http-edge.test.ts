/**
 * Issue 4, edge protection, with raw requests for every rejection path:
 * 403 for a foreign Host or Origin (DNS rebinding), 406, 413 over the body
 * limit, 429 with Retry-After per principal (not per IP) and overall, a
 * bounded number of sessions per agent, idle sessions closed, slow headers
 * cut off. Every rejection is a clear JSON error and changes nothing.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { E2E } from './helpers/e2e.js';
import { api, configureHttp, createKey, httpAgent, rawRequest, startHttp, type HttpAgent, type HttpServer } from './helpers/http.js';

const e2e = new E2E();
const servers: HttpServer[] = [];
const agents: HttpAgent[] = [];
afterAll(async () => {
  await Promise.all(agents.map((a) => a.close().catch(() => undefined)));
  await Promise.all(servers.map((s) => s.stop()));
  await e2e.cleanup();
});

const INIT = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '0' } } });
const MCP_HEADERS = { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' };

describe('edge protection (default limits, 2 sessions per agent, 2 s idle timeout, 1 s header timeout)', () => {
  let ws: string;
  let s: HttpServer;
  let aliceKey: string;
  let opKey: string;
  let host: string;
  let headBefore: number;

  const head = async () => (await api(s.url, opKey, '/api/v1/ledger?tail=1')).body['head'] as number;

  beforeAll(async () => {
    ws = await e2e.workspace();
    configureHttp(ws, { sessions: { max_per_agent: 2, idle_timeout_seconds: 2 }, headers_timeout_ms: 1_000, request_timeout_ms: 2_000 });
    [aliceKey, opKey] = await Promise.all([createKey(ws, { agent: 'alice' }).then((k) => k.key), createKey(ws, { operator: 'anna' }).then((k) => k.key)]);
    s = await startHttp(ws);
    servers.push(s);
    host = `127.0.0.1:${s.port}`;
    headBefore = await head();
  });

  it('403 for a Host that is not this server, even with a valid credential', async () => {
    for (const bad of ['evil.example', `evil.example:${s.port}`, `127.0.0.1:${s.port + 1}`]) {
      const r = await rawRequest(s.url, { method: 'POST', path: '/mcp', headers: { ...MCP_HEADERS, Host: bad, Authorization: `Bearer ${aliceKey}` }, body: INIT });
      expect(r.status, bad).toBe(403);
      expect(JSON.parse(r.body).error.data.code).toBe('FORBIDDEN_HOST');
    }
    const ok = await rawRequest(s.url, { path: '/api/v1/whoami', headers: { Host: `localhost:${s.port}`, Authorization: `Bearer ${opKey}` } });
    expect(ok.status).toBe(200);
  });

  it('403 for a foreign Origin with a valid Host (the SDK alone would serve it)', async () => {
    for (const origin of ['http://evil.example', `http://evil.example:${s.port}`, 'null']) {
      const r = await rawRequest(s.url, { method: 'POST', path: '/mcp', headers: { ...MCP_HEADERS, Host: host, Origin: origin, Authorization: `Bearer ${aliceKey}` }, body: INIT });
      expect(r.status, origin).toBe(403);
      expect(JSON.parse(r.body).error.data.code).toBe('FORBIDDEN_ORIGIN');
      const op = await rawRequest(s.url, { method: 'POST', path: '/api/v1/interventions', headers: { Host: host, Origin: origin, 'Content-Type': 'application/json', Authorization: `Bearer ${opKey}` }, body: JSON.stringify({ act: 'pause', agent: 'alice' }) });
      expect(op.status).toBe(403);
      expect(JSON.parse(op.body)).toEqual({ error: expect.objectContaining({ code: 'FORBIDDEN_ORIGIN' }) });
    }
    const sameOrigin = await rawRequest(s.url, { path: '/api/v1/whoami', headers: { Host: host, Origin: `http://${host}`, Authorization: `Bearer ${opKey}` } });
    expect(sameOrigin.status).toBe(200);
  });

  it('406 when the client does not accept the stream types', async () => {
    const r = await rawRequest(s.url, { method: 'POST', path: '/mcp', headers: { Host: host, 'Content-Type': 'application/json', Accept: 'application/json', Authorization: `Bearer ${aliceKey}` }, body: INIT });
    expect(r.status).toBe(406);
    expect(JSON.parse(r.body).error.message).toMatch(/Not Acceptable/);
    const events = await rawRequest(s.url, { path: '/events', headers: { Host: host, Accept: 'application/json', Authorization: `Bearer ${opKey}` } });
    expect(events.status).toBe(406);
    expect(JSON.parse(events.body).error.code).toBe('NOT_ACCEPTABLE');
  });

  it('413 over the 20 KB default body limit: declared, streamed without a length, and on the operator API', async () => {
    const big = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { pad: 'x'.repeat(25_000) } });
    const declared = await rawRequest(s.url, { method: 'POST', path: '/mcp', headers: { ...MCP_HEADERS, Host: host, Authorization: `Bearer ${aliceKey}` }, body: big });
    expect(declared.status).toBe(413);
    expect(JSON.parse(declared.body).error.data.code).toBe('PAYLOAD_TOO_LARGE');
    const streamed = await rawRequest(s.url, {
      method: 'POST',
      path: '/mcp',
      headers: { ...MCP_HEADERS, Host: host, Authorization: `Bearer ${aliceKey}`, 'Transfer-Encoding': 'chunked' },
      chunks: Array.from({ length: 6 }, () => Buffer.alloc(5_000, 0x20)),
    });
    expect(streamed.status).toBe(413);
    const op = await rawRequest(s.url, { method: 'POST', path: '/api/v1/interventions', headers: { Host: host, 'Content-Type': 'application/json', Authorization: `Bearer ${opKey}` }, body: JSON.stringify({ act: 'pause', agent: 'alice', reason: 'r'.repeat(21_000) }) });
    expect(op.status).toBe(413);
    expect(JSON.parse(op.body)).toEqual({ error: expect.objectContaining({ code: 'PAYLOAD_TOO_LARGE' }) });
    // Just under the limit is fine.
    const fits = await rawRequest(s.url, { method: 'POST', path: '/mcp', headers: { ...MCP_HEADERS, Host: host, Authorization: `Bearer ${aliceKey}` }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping', pad: 'x'.repeat(19_000) }) });
    expect(fits.status).toBe(400);
    expect(JSON.parse(fits.body).error.data.code).toBe('SESSION_REQUIRED');
  });

  it('a bounded number of sessions per agent: the third gets 429 SESSION_LIMIT; closing one frees a place', async () => {
    const one = await httpAgent(s.url, aliceKey);
    const two = await httpAgent(s.url, aliceKey);
    agents.push(one, two);
    const third = await rawRequest(s.url, { method: 'POST', path: '/mcp', headers: { ...MCP_HEADERS, Host: host, Authorization: `Bearer ${aliceKey}` }, body: INIT });
    expect(third.status).toBe(429);
    expect(JSON.parse(third.body).error.data.code).toBe('SESSION_LIMIT');
    expect(JSON.parse(third.body).error.message).toMatch(/max_per_agent 2/);
    const agentsView = await api(s.url, opKey, '/api/v1/agents/alice');
    expect((agentsView.body['agent'] as { sessions: number }).sessions).toBe(2);

    await one.transport.terminateSession();
    await one.client.close();
    const again = await httpAgent(s.url, aliceKey);
    agents.push(again);
    expect((await again.call('get_decision', { decision_id: 'x' })).outcome.reasons).toEqual(['DECISION_NOT_FOUND']);
    await again.close();
    await two.close();
  });

  it('an idle session is closed after idle_timeout_seconds; its id then gets 404', async () => {
    const init = await rawRequest(s.url, { method: 'POST', path: '/mcp', headers: { ...MCP_HEADERS, Host: host, Authorization: `Bearer ${aliceKey}` }, body: INIT });
    expect(init.status).toBe(200);
    const sessionId = init.headers['mcp-session-id'] as string;
    const list = (h: Record<string, string> = {}) =>
      rawRequest(s.url, {
        method: 'POST',
        path: '/mcp',
        headers: { ...MCP_HEADERS, Host: host, Authorization: `Bearer ${aliceKey}`, 'Mcp-Session-Id': sessionId, 'Mcp-Protocol-Version': '2025-11-25', ...h },
        body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
      });
    expect((await list()).status).toBe(202);
    const sessions = async () => ((await api(s.url, opKey, '/api/v1/agents/alice')).body['agent'] as { sessions: number }).sessions;
    expect(await sessions()).toBe(1);
    const deadline = Date.now() + 8_000;
    while ((await sessions()) > 0) {
      if (Date.now() > deadline) throw new Error('the idle session was not closed');
      await new Promise((r) => setTimeout(r, 250));
    }
    const stale = await list();
    expect(stale.status).toBe(404);
    expect(JSON.parse(stale.body).error.data.code).toBe('SESSION_NOT_FOUND');
  });

  it('a client that never finishes its headers is cut off after headers_timeout_ms', async () => {
    const started = Date.now();
    const answer = await new Promise<string>((resolve, reject) => {
      const sock = connect(s.port, '127.0.0.1', () => sock.write(`GET /healthz HTTP/1.1\r\nHost: ${host}\r\nX-Slow: `));
      let got = '';
      sock.on('data', (c) => (got += c.toString('utf8')));
      sock.on('close', () => resolve(got));
      sock.on('error', reject);
      setTimeout(() => sock.destroy(new Error('not cut off')), 8_000);
    });
    expect(answer).toMatch(/^HTTP\/1\.1 408/);
    expect(Date.now() - started).toBeLessThan(6_000);
  });

  it('none of these rejections changed anything: the ledger head is where it was', async () => {
    // The sessions above made calls (get_decision misses are not recorded), and the refusals wrote nothing.
    expect(await head()).toBe(headBefore);
    const verify = await api(s.url, opKey, '/api/v1/ledger/verify');
    expect(verify.body['intact']).toBe(true);
  });
});

describe('rate limits (2/s per principal, 3/s overall)', () => {
  let s: HttpServer;
  let aliceKey: string;
  let scribeKey: string;

  beforeAll(async () => {
    const ws = await e2e.workspace();
    configureHttp(ws, { rate_limit: { per_principal_per_second: 2, overall_per_second: 3 } });
    [aliceKey, scribeKey] = await Promise.all([createKey(ws, { agent: 'alice' }).then((k) => k.key), createKey(ws, { agent: 'scribe' }).then((k) => k.key)]);
    s = await startHttp(ws);
    servers.push(s);
  });

  const hit = (key: string) => rawRequest(s.url, { method: 'POST', path: '/mcp', headers: { ...MCP_HEADERS, Host: `127.0.0.1:${s.port}`, Authorization: `Bearer ${key}` }, body: '{}' });
  const settle = () => new Promise((r) => setTimeout(r, 1_500));

  it('a principal over its rate gets 429 with Retry-After and a JSON error; another principal on the same IP is unaffected', async () => {
    const burst = await Promise.all([hit(aliceKey), hit(aliceKey), hit(aliceKey), hit(aliceKey)]);
    const limited = burst.filter((r) => r.status === 429);
    expect(limited.length).toBeGreaterThanOrEqual(2);
    expect(burst.filter((r) => r.status === 400).length).toBeLessThanOrEqual(2);
    const one = limited[0] as (typeof limited)[number];
    expect(Number(one.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(JSON.parse(one.body).error.data).toEqual(expect.objectContaining({ code: 'RATE_LIMITED', scope: 'principal', retry_after_seconds: Number(one.headers['retry-after']) }));
    // Same address, other principal: its own bucket.
    expect((await hit(scribeKey)).status).toBe(400);
    await settle();
    expect((await hit(aliceKey)).status).toBe(400);
  });

  it('all principals together are held to the overall rate', async () => {
    await settle();
    const burst = await Promise.all([hit(aliceKey), hit(scribeKey), hit(aliceKey), hit(scribeKey)]);
    const overall = burst.filter((r) => r.status === 429).map((r) => JSON.parse(r.body).error.data.scope);
    expect(overall).toContain('overall');
  });

  it('rejections are counted in /metrics', async () => {
    const metrics = await rawRequest(s.url, { path: '/metrics', headers: { Host: `127.0.0.1:${s.port}` } });
    expect(metrics.body).toMatch(/mandate_rate_limit_rejections_total\{scope="principal",kind="agent"\} [1-9]/);
    expect(metrics.body).toMatch(/mandate_rate_limit_rejections_total\{scope="overall",kind="agent"\} [1-9]/);
  });
});
