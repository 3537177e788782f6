/**
 * Issue 19, MCP revision 2026-07-28 over HTTP, next to the 2025-era wire on
 * the same endpoint: real `@modelcontextprotocol/client` 2.4 clients (pinned
 * to 2026-07-28, and auto-negotiating) against the built CLI over a real
 * socket get the governed tools statelessly, with the same verdicts and
 * receipts; the revision's wire rules hold (standard headers, version
 * errors, resultType, serverInfo, cache fields); a v2 client in its default
 * (2025) mode still gets a session.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { E2E, balance, transfer } from './helpers/e2e.js';
import { createKey, startHttp, type HttpServer } from './helpers/http.js';
import { rawRequest, REVISION, v2Agent, type V2Agent } from './helpers/mcp2026.js';

const e2e = new E2E();
const agents: V2Agent[] = [];
let ws: string;
let server: HttpServer;
let aliceKey: string;
let scribeKey: string;

beforeAll(async () => {
  ws = await e2e.workspace();
  [aliceKey, scribeKey] = await Promise.all([createKey(ws, { agent: 'alice' }).then((k) => k.key), createKey(ws, { agent: 'scribe' }).then((k) => k.key)]);
  server = await startHttp(ws);
});

afterAll(async () => {
  await Promise.all(agents.map((a) => a.close().catch(() => undefined)));
  await server?.stop();
  await e2e.cleanup();
});

const connect = async (key: string, mode: 'pin' | 'auto' | 'legacy') => {
  const a = await v2Agent(server.url, key, mode);
  agents.push(a);
  return a;
};

describe('a v2 client pinned to 2026-07-28', () => {
  it('connects without a session and lists the governed tools', async () => {
    const alice = await connect(aliceKey, 'pin');
    expect(alice.client.getProtocolEra()).toBe('modern');
    const names = (await alice.client.listTools()).tools.map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(['submit_intent', 'invoke_capability', 'read_memory', 'intervene', 'get_decision', 'list_capabilities', 'payments_transfer']));
  });

  it('gets the same verdicts as the 2025 wire: accepted with a receipt, rejected with reason codes, escalated pending', async () => {
    const alice = await connect(aliceKey, 'pin');
    const before = balance(ws);
    const ok = await alice.call('invoke_capability', { capability: 'payments.transfer', params: transfer({ amount_minor: 1_300 }), idempotency_key: 'v26-ok-1' });
    expect(ok.isError).toBe(false);
    expect(ok.outcome).toMatchObject({ verdict: 'accepted', status: 'accepted', capability: 'payments.transfer' });
    expect(ok.outcome.receipt?.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(balance(ws)).toBe(before - 1_300);

    // A retry with the same key replays the recorded outcome; the transfer ran once.
    const again = await alice.call('invoke_capability', { capability: 'payments.transfer', params: transfer({ amount_minor: 1_300 }), idempotency_key: 'v26-ok-1' });
    expect(again.outcome.replay_of).toBe(ok.outcome.decision_id);
    expect(balance(ws)).toBe(before - 1_300);

    const refused = await alice.call('invoke_capability', { capability: 'payments.transfer', params: transfer({ amount_minor: 155_000 }) });
    expect(refused.isError).toBe(true);
    expect(refused.outcome.reasons).toContain('CONTRACT_LIMIT_EXCEEDED');

    const escalated = await alice.call('payments_transfer', { ...transfer({ amount_minor: 20_000 }), mandate: { idempotency_key: 'v26-esc-1' } });
    expect(escalated.outcome).toMatchObject({ verdict: 'escalated', status: 'pending', reasons: ['ESCALATION_REQUIRED'] });
    expect(balance(ws)).toBe(before - 1_300);
  });

  it('is whoever its credential names, on every request', async () => {
    const scribe = await connect(scribeKey, 'pin');
    const caps = await scribe.client.callTool({ name: 'list_capabilities', arguments: { agent: 'alice' } });
    expect((caps.structuredContent as { agent: string }).agent).toBe('scribe');
    const byScribe = await scribe.call('invoke_capability', { capability: 'payments.transfer', params: transfer() });
    expect(byScribe.outcome.reasons).toEqual(['CAPABILITY_NOT_GRANTED']);
  });
});

describe('memory records as resources on 2026-07-28', () => {
  it("lists and reads the agent's own records under its contract; another scope is -32602 with the URI", async () => {
    const alice = await connect(aliceKey, 'pin');
    expect((await alice.client.listResourceTemplates()).resourceTemplates.map((t) => t.uriTemplate)).toEqual(['memory://{scope}/{key}']);
    expect((await alice.client.listResources()).resources.map((r) => r.uri).sort()).toEqual(['memory://suppliers/acme-supplies', 'memory://suppliers/shady-llc']);
    const read = await alice.client.readResource({ uri: 'memory://suppliers/acme-supplies' });
    expect(read.contents[0]).toMatchObject({ uri: 'memory://suppliers/acme-supplies', mimeType: 'application/json' });
    const foreign = await rawRequest(server.url, aliceKey, 'resources/read', { uri: 'memory://docs/style-guide' });
    expect(foreign.body.error).toMatchObject({ code: -32602, data: { uri: 'memory://docs/style-guide', reasons: ['MEMORY_SCOPE_DENIED'] } });
    const listed = await rawRequest(server.url, aliceKey, 'resources/list');
    expect(listed.body.result).toMatchObject({ resultType: 'complete', cacheScope: 'private', ttlMs: expect.any(Number) });
  });
});

describe('the negotiated era', () => {
  it("a v2 client in 'auto' mode selects 2026-07-28 and is governed", async () => {
    const alice = await connect(aliceKey, 'auto');
    expect(alice.client.getProtocolEra()).toBe('modern');
    const read = await alice.call('invoke_capability', { capability: 'payments.get_balance', params: { account: 'operating' } });
    expect(read.outcome).toMatchObject({ verdict: 'accepted' });
  });

  it('a v2 client in its default mode stays on 2025-11-25 with a session, governed the same way', async () => {
    const alice = await connect(aliceKey, 'legacy');
    expect(alice.client.getProtocolEra()).toBe('legacy');
    const refused = await alice.call('invoke_capability', { capability: 'payments.transfer', params: transfer({ amount_minor: 155_000 }) });
    expect(refused.outcome.reasons).toContain('CONTRACT_LIMIT_EXCEEDED');
  });
});

describe('the 2026-07-28 wire', () => {
  it('server/discover answers the revision and identifies the server, with no session header', async () => {
    const r = await rawRequest(server.url, aliceKey, 'server/discover');
    expect(r.status).toBe(200);
    expect(r.body.result).toMatchObject({ resultType: 'complete', supportedVersions: expect.arrayContaining([REVISION]) });
    expect((r.body.result?.['_meta'] as Record<string, unknown>)['io.modelcontextprotocol/serverInfo']).toMatchObject({ name: 'mandate' });
  });

  it('lists carry resultType, ttlMs and cacheScope', async () => {
    const r = await rawRequest(server.url, aliceKey, 'tools/list');
    expect(r.body.result).toMatchObject({ resultType: 'complete', ttlMs: expect.any(Number), cacheScope: 'private' });
  });

  it('a missing or disagreeing Mcp-Method header is -32020 with HTTP 400, and nothing is governed', async () => {
    const missing = await rawRequest(server.url, aliceKey, 'tools/list', {}, { headers: { 'Mcp-Method': null } });
    expect(missing.status).toBe(400);
    expect(missing.body.error?.code).toBe(-32020);
    const before = balance(ws);
    const wrongName = await rawRequest(server.url, aliceKey, 'tools/call', { name: 'invoke_capability', arguments: { capability: 'payments.transfer', params: transfer({ amount_minor: 100 }) } }, { headers: { 'Mcp-Name': 'read_memory' } });
    expect(wrongName.status).toBe(400);
    expect(wrongName.body.error?.code).toBe(-32020);
    expect(balance(ws)).toBe(before);
  });

  it('an unsupported revision is -32022 naming the supported ones', async () => {
    const r = await rawRequest(server.url, aliceKey, 'tools/list', {}, { version: '2027-01-01' });
    expect(r.body.error?.code).toBe(-32022);
    expect(JSON.stringify(r.body.error?.data)).toContain(REVISION);
  });

  it('a method the revision removed, or never had, is 404 with -32601', async () => {
    for (const method of ['ping', 'logging/setLevel', 'resources/subscribe', 'tasks/list', 'no/such-method']) {
      const r = await rawRequest(server.url, aliceKey, method, method === 'logging/setLevel' ? { level: 'info' } : method === 'resources/subscribe' ? { uri: 'memory://x/y' } : {});
      expect({ method, status: r.status, code: r.body.error?.code }).toEqual({ method, status: 404, code: -32601 });
    }
  });

  it('a tool call result carries resultType and the governed outcome', async () => {
    const r = await rawRequest(server.url, aliceKey, 'tools/call', { name: 'invoke_capability', arguments: { capability: 'payments.get_balance', params: { account: 'operating' } } });
    expect(r.body.result).toMatchObject({ resultType: 'complete', isError: false, structuredContent: { verdict: 'accepted' } });
  });

  it('still needs a credential: no key is 401', async () => {
    const res = await fetch(new URL('/mcp', server.url), { method: 'POST', headers: { 'Content-Type': 'application/json', 'Mcp-Method': 'tools/list' }, body: '{}' });
    expect(res.status).toBe(401);
  });
});
