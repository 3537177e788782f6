/**
 * Resource subscriptions on the 2026-07-28 wire (ADR-039): an agent names the
 * resources it follows in `subscriptions/listen`'s `resourceSubscriptions`.
 * Each URI is governed as a 2025 `resources/subscribe` is (contract, Cedar,
 * record); one not granted is left out of the acknowledged filter, and the
 * ledger says why. The gateway follows each URI upstream once, in the
 * upstream's revision: a listen stream to a 2026 upstream, `resources/subscribe`
 * to a 2025 one; the last agent to stop listening ends it. Real SDK v2
 * clients, pinned over HTTP and in auto mode over stdio.
 */
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, E2E, REPO_ROOT, cleanEnv, exportLedger, waitFor } from './helpers/e2e.js';
import { EVERYTHING_SERVER, FIXTURES, NODE, appendConfig, pin, writeContract, y } from './helpers/gateway.js';
import { createKey, startHttp, type HttpServer } from './helpers/http.js';
import { REVISION } from './helpers/mcp2026.js';

const e2e = new E2E();
let ws: string;
let server: HttpServer;
let key: string;
const clients: Client[] = [];
const upstreamLog = () => join(ws, 'board.log');
/** What the board upstream was asked to follow: `open <id> <uris>` and `closed <id>` lines. */
const followed = () => (existsSync(upstreamLog()) ? readFileSync(upstreamLog(), 'utf8').trim().split('\n') : []);

/** A v2 client that keeps the URIs of the resources/updated notifications it hears. */
function following(opts: ConstructorParameters<typeof Client>[1]): { client: Client; updates: string[] } {
  const client = new Client({ name: 'resource-subscriptions-2026-test', version: '1.0.0' }, opts);
  const updates: string[] = [];
  client.setNotificationHandler('notifications/resources/updated', (n) => void updates.push(n.params.uri));
  clients.push(client);
  return { client, updates };
}

async function overHttp(): Promise<{ client: Client; updates: string[] }> {
  const agent = following({ versionNegotiation: { mode: { pin: REVISION } } });
  await agent.client.connect(new StreamableHTTPClientTransport(new URL('/mcp', server.url), { requestInit: { headers: { Authorization: `Bearer ${key}` } } }));
  return agent;
}

beforeAll(async () => {
  ws = await e2e.workspace();
  appendConfig(
    ws,
    `upstreams:
  board:
    command: ${y(NODE)}
    args: [${y(join(FIXTURES, 'modern-board.mjs'))}, board.log]
  every:
    command: ${y(NODE)}
    args: [${y(EVERYTHING_SERVER)}, stdio]
    expose: transparent
    deadline_ms: 15000`,
  );
  writeContract(
    ws,
    'follower',
    `grants:
  - capability: board.touch
  - capability: every.toggle-subscriber-updates
resources:
  - upstream: board
    uri: "board://today"
  - upstream: every
    uri: "demo://resource/static/*"
`,
  );
  await pin(ws);
  key = (await createKey(ws, { agent: 'follower' })).key;
  server = await startHttp(ws);
}, 90_000);

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  await server?.stop();
  await e2e.cleanup();
});

describe('a 2026 agent following resources over HTTP (client pinned to 2026-07-28)', () => {
  let first: { client: Client; updates: string[] };
  let firstListen: Awaited<ReturnType<Client['listen']>>;

  it('is acknowledged only the granted URI; the other is refused in the ledger with its reason', async () => {
    first = await overHttp();
    expect(first.client.getServerCapabilities()?.resources).toMatchObject({ subscribe: true });
    firstListen = await first.client.listen({ resourceSubscriptions: ['board://today', 'board://secret'] });
    expect(firstListen.honoredFilter.resourceSubscriptions).toEqual(['board://today']);
    const { events } = await exportLedger(ws);
    const subscribes = events.filter((e) => e.type === 'ResourceAccessed' && e.agent === 'follower' && e.data['operation'] === 'subscribe');
    expect(subscribes.map((e) => e.data['allowed']).sort()).toEqual([false, true]);
    expect(subscribes.find((e) => e.data['allowed'] === false)?.reasons).toEqual(['RESOURCE_NOT_GRANTED']);
    // The upstream was asked to follow the granted URI only, on a listen stream of the gateway's own.
    expect(followed().filter((l) => l.startsWith('open ') && l.includes('board://'))).toEqual([expect.stringMatching(/ board:\/\/today$/)]);
  });

  it("hears the 2026 upstream's update of the URI it follows, once", async () => {
    const r = await first.client.callTool({ name: 'board_touch', arguments: { uri: 'board://today' } });
    expect(r.isError, JSON.stringify(r)).toBeFalsy();
    await waitFor(() => first.updates.includes('board://today'), 15_000, 'resources/updated for board://today');
    await new Promise((done) => setTimeout(done, 300));
    expect(first.updates).toEqual(['board://today']);
  });

  it('a second agent stream on the same URI shares the upstream stream; the upstream stream ends with the last listener', async () => {
    const second = await overHttp();
    const secondListen = await second.client.listen({ resourceSubscriptions: ['board://today'] });
    expect(secondListen.honoredFilter.resourceSubscriptions).toEqual(['board://today']);
    expect(followed().filter((l) => l.startsWith('open ') && l.includes('board://'))).toHaveLength(1);

    await firstListen.close();
    first.updates.length = 0;
    await second.client.callTool({ name: 'board_touch', arguments: { uri: 'board://today' }, _meta: { idempotency_key: 'touch-2' } });
    await waitFor(() => second.updates.includes('board://today'), 15_000, 'the second stream still hears the update');
    expect(followed().some((l) => l.startsWith('closed '))).toBe(false);
    expect(first.updates).toEqual([]);

    await secondListen.close();
    await waitFor(() => followed().some((l) => l.startsWith('closed ')), 15_000, 'the upstream stream closed after the last listener left');
  });

  it("hears a 2025 upstream's update, followed there with resources/subscribe", async () => {
    const agent = await overHttp();
    const uri = 'demo://resource/static/document/architecture.md';
    const listen = await agent.client.listen({ resourceSubscriptions: [uri] });
    expect(listen.honoredFilter.resourceSubscriptions).toEqual([uri]);
    await agent.client.callTool({ name: 'toggle-subscriber-updates', arguments: {} });
    await waitFor(() => agent.updates.includes(uri), 15_000, 'resources/updated from the 2025 upstream');
    await agent.client.callTool({ name: 'toggle-subscriber-updates', arguments: {}, _meta: { idempotency_key: 'updates-off' } });
    await listen.close();
  });
});

describe('a 2026 agent following a resource over stdio (client in auto mode)', () => {
  it('is acknowledged the granted URI and hears its update', async () => {
    const agent = following({ versionNegotiation: { mode: 'auto' } });
    const transport = new StdioClientTransport({ command: NODE, args: [CLI, 'serve', '--stdio', '--agent', 'follower', '-w', ws, '--log-level', 'warn'], cwd: REPO_ROOT, env: cleanEnv(), stderr: 'ignore' });
    await agent.client.connect(transport);
    expect(agent.client.getProtocolEra()).toBe('modern');
    const listen = await agent.client.listen({ resourceSubscriptions: ['board://secret', 'board://today'] });
    expect(listen.honoredFilter.resourceSubscriptions).toEqual(['board://today']);
    await agent.client.callTool({ name: 'board_touch', arguments: { uri: 'board://today' }, _meta: { idempotency_key: 'touch-stdio' } });
    await waitFor(() => agent.updates.includes('board://today'), 15_000, 'resources/updated over stdio');
    await listen.close();
  });
});
