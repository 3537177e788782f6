/**
 * List changes on the 2026-07-28 wire, which has no sessions: an agent hears
 * them on a `subscriptions/listen` stream (ADR-035). Mandate declares
 * `listChanged` and tells the stream when a reload changes the loaded set,
 * and when an upstream's own list changes while it runs; for a 2026 upstream
 * Mandate learns of that on a listen stream of its own. Real SDK v2 clients,
 * pinned over HTTP and in auto mode over stdio.
 */
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, E2E, REPO_ROOT, cleanEnv, waitFor } from './helpers/e2e.js';
import { FIXTURES, NODE, appendConfig, pin, writeContract, y } from './helpers/gateway.js';
import { createKey, startHttp, type HttpServer } from './helpers/http.js';
import { REVISION } from './helpers/mcp2026.js';

const e2e = new E2E();
let ws: string;
let server: HttpServer;
let key: string;
const clients: Client[] = [];

/** A v2 client that counts the tools/list_changed notifications it hears. */
function counting(opts: ConstructorParameters<typeof Client>[1]): { client: Client; heard: () => number } {
  const client = new Client({ name: 'list-changes-2026-test', version: '1.0.0' }, opts);
  let heard = 0;
  client.setNotificationHandler('notifications/tools/list_changed', () => void heard++);
  clients.push(client);
  return { client, heard: () => heard };
}

const toolNames = async (client: Client) => (await client.listTools()).tools.map((t) => t.name);

beforeAll(async () => {
  ws = await e2e.workspace();
  appendConfig(
    ws,
    `upstreams:
  m26:
    command: ${y(NODE)}
    args: [${y(join(FIXTURES, 'modern-only.mjs'))}, stdio]`,
  );
  writeContract(ws, 'lister', 'grants:\n  - capability: m26.greet\n');
  await pin(ws);
  key = (await createKey(ws, { agent: 'lister' })).key;
  server = await startHttp(ws);
}, 90_000);

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  await server?.stop();
  await e2e.cleanup();
});

describe('a 2026 agent listening over HTTP (client pinned to 2026-07-28)', () => {
  let http: ReturnType<typeof counting>;

  it('is acknowledged tools list changes, and hears one when a reload changes what it is granted', async () => {
    http = counting({ versionNegotiation: { mode: { pin: REVISION } } });
    await http.client.connect(new StreamableHTTPClientTransport(new URL('/mcp', server.url), { requestInit: { headers: { Authorization: `Bearer ${key}` } } }));
    expect(http.client.getServerCapabilities()?.tools).toMatchObject({ listChanged: true });
    const subscription = await http.client.listen({ toolsListChanged: true });
    expect(subscription.honoredFilter).toMatchObject({ toolsListChanged: true });
    expect(await toolNames(http.client)).not.toContain('m26_grow');

    writeContract(ws, 'lister', 'grants:\n  - capability: m26.*\n');
    server.proc.kill('SIGHUP');
    await waitFor(() => http.heard() >= 1, 15_000, 'tools/list_changed after the reload');
    expect(await toolNames(http.client)).toContain('m26_grow');
  });

  it("hears a 2026 upstream's own list change, which Mandate learnt on its listen stream to the upstream", async () => {
    const before = http.heard();
    const r = await http.client.callTool({ name: 'm26_grow', arguments: {} });
    expect(r.isError, JSON.stringify(r)).toBeFalsy();
    await waitFor(() => http.heard() > before, 15_000, 'tools/list_changed after the upstream grew');
  });
});

describe('a 2026 agent listening over stdio (client in auto mode)', () => {
  it('hears a list change when its server process reloads a changed set', async () => {
    const stdio = counting({ versionNegotiation: { mode: 'auto' } });
    const transport = new StdioClientTransport({ command: NODE, args: [CLI, 'serve', '--stdio', '--agent', 'lister', '-w', ws, '--log-level', 'warn'], cwd: REPO_ROOT, env: cleanEnv(), stderr: 'ignore' });
    await stdio.client.connect(transport);
    expect(stdio.client.getProtocolEra()).toBe('modern');
    const subscription = await stdio.client.listen({ toolsListChanged: true });
    expect(subscription.honoredFilter).toMatchObject({ toolsListChanged: true });
    writeContract(ws, 'lister', 'grants:\n  - capability: m26.greet\n');
    process.kill(transport.pid as number, 'SIGHUP');
    await waitFor(() => stdio.heard() >= 1, 15_000, 'tools/list_changed after the reload');
    expect(await toolNames(stdio.client)).not.toContain('m26_grow');
  });
});
