// Issue 5 (ADR-008): supervision of upstreams, in process. Bounded
// concurrency with a bounded queue (the hanging fixture holds the one slot),
// and a Streamable HTTP upstream on loopback whose credential comes from the
// environment (`headers: { Authorization: { from_env, prefix } }`); and a 2026
// upstream whose invalid answer to one call is that call's failure, not a crash.
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createMcpHandler, McpServer as McpServerV2 } from '@modelcontextprotocol/server';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { Runtime } from '../../src/runtime.js';
import { openRuntime } from '../../src/runtime.js';
import { silentLogger } from '../../src/core/log.js';
import { FakeWorld, ROOT, call, copyTemplate } from './helpers.js';

const NODE = process.execPath;
const HANGING = join(ROOT, 'test', 'fixtures', 'upstreams', 'hanging.mjs');
const TOKEN = 'http-upstream-token-123';

/** A stateless Streamable HTTP MCP server on 127.0.0.1 that requires a bearer token. */
function httpUpstream(): Promise<{ url: string; seen: string[]; close(): Promise<void> }> {
  const seen: string[] = [];
  const http: HttpServer = createServer((req, res) => {
    seen.push(String(req.headers['authorization'] ?? ''));
    if (req.headers['authorization'] !== `Bearer ${TOKEN}`) {
      res.writeHead(401).end();
      return;
    }
    const server = new McpServer({ name: 'http-fixture', version: '1.0.0' });
    server.registerTool('add', { description: 'Adds two integers.', inputSchema: { a: z.number().int(), b: z.number().int() }, outputSchema: { sum: z.number().int() }, annotations: { readOnlyHint: true } }, async ({ a, b }) => ({
      content: [{ type: 'text', text: String(a + b) }],
      structuredContent: { sum: a + b },
    }));
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    res.on('close', () => {
      void transport.close();
      void server.close();
    });
    void server.connect(transport).then(() => transport.handleRequest(req, res));
  });
  return new Promise((resolve) =>
    http.listen(0, '127.0.0.1', () => {
      const { port } = http.address() as AddressInfo;
      resolve({
        url: `http://127.0.0.1:${port}/mcp`,
        seen,
        close: () =>
          new Promise((done) => {
            http.closeAllConnections();
            http.close(() => done());
          }),
      });
    }),
  );
}

describe('upstream supervision', () => {
  const world = new FakeWorld();
  let ws: { dir: string; cleanup(): void };
  let rt: Runtime;
  let upstream: Awaited<ReturnType<typeof httpUpstream>>;

  beforeAll(async () => {
    upstream = await httpUpstream();
    ws = copyTemplate({
      'mandate.yaml': (t) =>
        `${t}\nupstreams:\n  hang:\n    command: ${JSON.stringify(NODE)}\n    args: [${JSON.stringify(HANGING)}]\n    deadline_ms: 800\n    max_concurrency: 1\n    max_queue: 0\n  web:\n    url: ${upstream.url}\n    headers: { Authorization: { from_env: WEB_TOKEN, prefix: "Bearer " } }\n`,
      'contracts/gw.yaml': () => 'agent: gw\nversion: 1\nowner: o@example.com\nmission: m\nrole: agent\ngrants:\n  - capability: hang.*\n  - capability: web.add\n',
    });
    rt = await openRuntime(ws.dir, silentLogger, world, { env: { WEB_TOKEN: TOKEN } });
    const reports = await rt.gateway.pin({ by: 'ops' });
    expect(reports.map((r) => [r.server, r.ok, r.error])).toEqual([
      ['hang', true, undefined],
      ['web', true, undefined],
    ]);
  }, 30_000);

  afterAll(async () => {
    await rt?.shutdown();
    await upstream?.close().catch(() => undefined);
    ws?.cleanup();
  });

  it('bounded concurrency: with the one slot taken and no queue, a second call is refused before it runs; the slot frees at the deadline', async () => {
    const hung = rt.kernel.govern(call('gw', { capability: 'hang.wait', params: {} }));
    await new Promise((r) => setTimeout(r, 200));
    const busy = await rt.kernel.govern(call('gw', { capability: 'hang.ping', params: {} }));
    expect(busy).toMatchObject({ verdict: 'rejected', reasons: ['UPSTREAM_UNAVAILABLE'] });
    expect(busy.details[0]?.message).toMatch(/upstream `hang` is busy/);
    expect((await rt.store.ledger.byDfid(busy.dfid)).map((e) => e.type)).not.toContain('ActionStarted');
    expect(await hung).toMatchObject({ reasons: ['DEADLINE_EXCEEDED'] });
    expect(await rt.kernel.govern(call('gw', { capability: 'hang.ping', params: {} }))).toMatchObject({ verdict: 'accepted', output: { content: [{ type: 'text', text: 'pong' }] } });
  });

  it('a Streamable HTTP upstream, with its bearer token from the environment', async () => {
    const r = await rt.kernel.govern(call('gw', { capability: 'web.add', params: { a: 2, b: 3 } }));
    expect(r).toMatchObject({ verdict: 'accepted', output: { content: [{ type: 'text', text: '5' }], structuredContent: { sum: 5 } } });
    expect(upstream.seen.every((h) => h === `Bearer ${TOKEN}`)).toBe(true);
    const json = JSON.stringify((await rt.store.ledger.page(0, 10_000)));
    expect(json).not.toContain(TOKEN);
    // The output schema is the upstream's: a float would not be an integer sum, and the input schema refuses it first.
    expect(await rt.kernel.govern(call('gw', { capability: 'web.add', params: { a: 1.5, b: 1 } }))).toMatchObject({ reasons: ['SCHEMA_INVALID'] });
  });

  it('an HTTP upstream that stops answering: UPSTREAM_UNAVAILABLE naming it, then the restart backoff', async () => {
    await upstream.close();
    const r = await rt.kernel.govern(call('gw', { capability: 'web.add', params: { a: 1, b: 1 } }));
    expect(r).toMatchObject({ verdict: 'rejected', reasons: ['UPSTREAM_UNAVAILABLE'], status: 'failed' });
    expect(r.details[0]?.message).toBe('upstream `web` went away during the call');
    const again = await rt.kernel.govern(call('gw', { capability: 'web.add', params: { a: 1, b: 2 } }));
    expect(again.details[0]?.message).toMatch(/^upstream `web` is restarting after a failure/);
  });
});

/**
 * A stateless 2026-07-28 upstream on SDK v2 whose tool `sloppy` answers without the result's required `resultType`
 * (the suite's reference everything-server does this on its 2026 `tools/call`); `add` answers properly.
 */
function sloppyModernUpstream(): Promise<{ url: string; close(): Promise<void> }> {
  const build = () => {
    const server = new McpServerV2({ name: 'sloppy', version: '1.0.0' });
    server.registerTool('add', { description: 'Adds two integers.', inputSchema: z.object({ a: z.number().int(), b: z.number().int() }), annotations: { readOnlyHint: true } }, ({ a, b }) => ({
      content: [{ type: 'text', text: String(a + b) }],
    }));
    server.registerTool('sloppy', { description: 'Answers without resultType.', inputSchema: z.object({}), annotations: { readOnlyHint: true } }, () => ({ content: [{ type: 'text', text: 'done' }] }));
    return server;
  };
  const handler = createMcpHandler(build, { legacy: 'reject' });
  const http: HttpServer = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const headers = new Headers();
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string' && k !== 'content-length') headers.set(k, v);
    const parsedBody = text ? (JSON.parse(text) as { method?: string; params?: { name?: string } }) : undefined;
    const response = await handler.fetch(new Request(`http://127.0.0.1${req.url ?? '/mcp'}`, { method: req.method ?? 'POST', headers }), { parsedBody });
    let body = await response.text();
    if (parsedBody?.method === 'tools/call' && parsedBody.params?.name === 'sloppy') body = body.replace(/,"resultType":"complete"|"resultType":"complete",?/, '');
    res.writeHead(response.status, Object.fromEntries([...response.headers.entries()].filter(([k]) => k !== 'content-length')));
    res.end(body);
  });
  return new Promise((resolve) =>
    http.listen(0, '127.0.0.1', () => {
      const { port } = http.address() as AddressInfo;
      resolve({ url: `http://127.0.0.1:${port}/mcp`, close: () => new Promise((done) => http.close(() => done())) });
    }),
  );
}

describe('a 2026-07-28 upstream that answers one tool with an invalid result', () => {
  const world = new FakeWorld();
  let ws: { dir: string; cleanup(): void };
  let rt: Runtime;
  let upstream: Awaited<ReturnType<typeof sloppyModernUpstream>>;

  beforeAll(async () => {
    upstream = await sloppyModernUpstream();
    ws = copyTemplate({
      'mandate.yaml': (t) => `${t}\nupstreams:\n  sloppy:\n    url: ${upstream.url}\n`,
      'contracts/gw.yaml': () => 'agent: gw\nversion: 1\nowner: o@example.com\nmission: m\nrole: agent\ngrants:\n  - capability: sloppy.*\n',
    });
    rt = await openRuntime(ws.dir, silentLogger, world);
    expect((await rt.gateway.pin({ by: 'ops' })).map((r) => [r.server, r.ok, r.error])).toEqual([['sloppy', true, undefined]]);
  }, 30_000);

  afterAll(async () => {
    await rt?.shutdown();
    await upstream?.close().catch(() => undefined);
    ws?.cleanup();
  });

  it('fails that call as the upstream answer it is, keeps the connection, and the next call of another tool runs at once', async () => {
    const bad = await rt.kernel.govern(call('gw', { capability: 'sloppy.sloppy', params: {} }));
    expect(bad).toMatchObject({ verdict: 'rejected', reasons: ['HANDLER_FAILED'], status: 'failed' });
    // Not a crash: no "went away", no restart backoff for the calls that follow.
    const next = await rt.kernel.govern(call('gw', { capability: 'sloppy.add', params: { a: 2, b: 3 } }));
    expect(next).toMatchObject({ verdict: 'accepted', output: { content: [{ type: 'text', text: '5' }] } });
  });
});
