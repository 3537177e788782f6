/**
 * An upstream's resources and resource templates on the 2026-07-28 wire,
 * governed as on the 2025 wire (ADR-013, governed-access.ts): Mandate fronts
 * the everything server and a fixture with resources; a real
 * `@modelcontextprotocol/client` 2.x pinned over HTTP, and one in auto mode
 * over stdio, list only the granted resources and templates (beside the
 * memory template), read a granted one with Mandate's record, and are
 * refused one that is not granted or that no upstream serves, with the
 * reason codes, recorded in the ledger. Lists carry `ttlMs` and
 * `cacheScope: "private"`.
 */
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, E2E, REPO_ROOT, cleanEnv, exportLedger, type AgentClient } from './helpers/e2e.js';
import { EVERYTHING_SERVER, FIXTURES, NODE, appendConfig, killStarted, pin, refusedWith, writeContract, y } from './helpers/gateway.js';
import { createKey, startHttp, type HttpServer } from './helpers/http.js';
import { rawRequest, v2Agent, type V2Agent } from './helpers/mcp2026.js';

const e2e = new E2E();
let ws: string;
let server: HttpServer;
let key: string;
let overHttp: V2Agent;
let legacy: AgentClient;
const v2Clients: Client[] = [];
const state = () => join(ws, 'notes.json');

beforeAll(async () => {
  ws = await e2e.workspace();
  writeFileSync(state(), JSON.stringify({}));
  appendConfig(
    ws,
    `upstreams:
  every:
    command: ${y(NODE)}
    args: [${y(EVERYTHING_SERVER)}, stdio]
    expose: transparent
    deadline_ms: 15000
  notes:
    command: ${y(NODE)}
    args: [${y(join(FIXTURES, 'drifting-primitives.mjs'))}, notes.json]`,
  );
  writeContract(
    ws,
    'narrow',
    `grants:
  - capability: every.echo
resources:
  - upstream: every
    uri: "demo://resource/static/*"
  - upstream: notes
    uri: "notes://*"
`,
  );
  await pin(ws);
  key = (await createKey(ws, { agent: 'narrow' })).key;
  server = await startHttp(ws);
  overHttp = await v2Agent(server.url, key, 'pin');
  legacy = await e2e.client(ws, 'narrow');
}, 90_000);

afterAll(async () => {
  await overHttp?.close().catch(() => undefined);
  await Promise.all(v2Clients.map((c) => c.close().catch(() => undefined)));
  await server?.stop();
  killStarted(`${state()}.starts`);
  await e2e.cleanup();
});

describe("an upstream's resources at 2026-07-28, a v2 client pinned over HTTP", () => {
  it('lists only the granted resources and templates, entry for entry as the 2025 wire does', async () => {
    const { client } = overHttp;
    expect(client.getServerCapabilities()).toMatchObject({ resources: {} });
    const resources = (await client.listResources()).resources;
    const uris = resources.map((r) => r.uri);
    expect(uris).toContain('notes://today');
    expect(uris.filter((u) => u.startsWith('demo://')).length).toBeGreaterThan(0);
    expect(uris.filter((u) => u.startsWith('demo://')).every((u) => u.startsWith('demo://resource/static/'))).toBe(true);
    expect(resources).toEqual((await legacy.client.listResources()).resources);
    const templates = (await client.listResourceTemplates()).resourceTemplates.map((t) => t.uriTemplate);
    expect(templates).toEqual(['memory://{scope}/{key}', 'notes://day/{n}']);
  });

  it('reads a granted resource with Mandate’s record, the same contents as on the 2025 wire', async () => {
    const today = await overHttp.client.readResource({ uri: 'notes://today' });
    expect(today.contents).toEqual([{ uri: 'notes://today', mimeType: 'text/plain', text: 'buy milk' }]);
    expect(today._meta?.['mandate/access']).toMatchObject({ dfid: expect.stringMatching(/^[0-9a-f]{32}$/), decision_id: expect.any(String) });
    const day = await overHttp.client.readResource({ uri: 'notes://day/3' });
    expect(day.contents[0]).toMatchObject({ text: 'notes of day 3' });
    const { events } = await exportLedger(ws);
    const reads = events.filter((e) => e.type === 'ResourceAccessed' && e.agent === 'narrow' && e.data['allowed'] === true);
    expect(reads.map((e) => e.decision_id)).toContain((today._meta?.['mandate/access'] as { decision_id: string }).decision_id);
  });

  it('refuses an ungranted resource and a URI no upstream serves, with the reason codes, recorded', async () => {
    const dynamic = await refusedWith(overHttp.client.readResource({ uri: 'demo://resource/dynamic/text/1' }));
    expect(dynamic.code).toBe(-32003);
    expect(dynamic.data?.reasons).toEqual(['RESOURCE_NOT_GRANTED']);
    const nobody = await refusedWith(overHttp.client.readResource({ uri: 'nobody://x' }));
    expect(nobody.data?.reasons).toEqual(['PRIMITIVE_UNKNOWN']);
    const { events } = await exportLedger(ws);
    expect(events.some((e) => e.type === 'ResourceAccessed' && e.dfid === dynamic.data?.dfid && e.data['allowed'] === false)).toBe(true);
  });

  it('on the wire: lists carry resultType, ttlMs and cacheScope "private"', async () => {
    for (const method of ['resources/list', 'resources/templates/list']) {
      const r = await rawRequest(server.url, key, method);
      expect(r.body.result).toMatchObject({ resultType: 'complete', ttlMs: expect.any(Number), cacheScope: 'private' });
    }
  });
});

describe('over stdio, a v2 client in auto mode', () => {
  it('lists and reads the same resources', async () => {
    const client = new Client({ name: 'resources-2026-test', version: '1.0.0' }, { versionNegotiation: { mode: 'auto' } });
    v2Clients.push(client);
    await client.connect(new StdioClientTransport({ command: NODE, args: [CLI, 'serve', '--stdio', '--agent', 'narrow', '-w', ws, '--log-level', 'warn'], cwd: REPO_ROOT, env: cleanEnv(), stderr: 'ignore' }));
    expect(client.getProtocolEra()).toBe('modern');
    expect((await client.listResources()).resources.map((r) => r.uri)).toContain('notes://today');
    expect((await client.readResource({ uri: 'notes://today' })).contents[0]).toMatchObject({ text: 'buy milk' });
  });
});
