/**
 * Issue 4, Streamable HTTP: a real SDK client over HTTP with an API key gets
 * the governed tools and verdicts; the credential names the agent; a decision
 * made over HTTP is visible over stdio and from the operator API (one store);
 * a dropped stream resumes with Last-Event-ID from the SQLite event store;
 * JSON response mode works.
 */
import type { FetchLike } from '@modelcontextprotocol/sdk/shared/transport.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { E2E, balance, transfer, waitFor, type AgentClient } from './helpers/e2e.js';
import { api, createKey, httpAgent, startHttp, type HttpAgent, type HttpServer } from './helpers/http.js';

const e2e = new E2E();
const servers: HttpServer[] = [];
const agents: HttpAgent[] = [];

let ws: string;
let server: HttpServer;
let aliceKey: string;
let scribeKey: string;
let opKey: string;
let alice: HttpAgent;

beforeAll(async () => {
  ws = await e2e.workspace();
  [aliceKey, scribeKey, opKey] = await Promise.all([
    createKey(ws, { agent: 'alice' }).then((k) => k.key),
    createKey(ws, { agent: 'scribe' }).then((k) => k.key),
    createKey(ws, { operator: 'anna' }).then((k) => k.key),
  ]);
  server = await startHttp(ws);
  servers.push(server);
  alice = await httpAgent(server.url, aliceKey);
  agents.push(alice);
});

afterAll(async () => {
  await Promise.all(agents.map((a) => a.close().catch(() => undefined)));
  await Promise.all(servers.map((s) => s.stop()));
  await e2e.cleanup();
});

describe('governed tools over Streamable HTTP', () => {
  it('lists the governed tools and answers verdicts with receipts', async () => {
    const tools = await alice.client.listTools();
    const names = tools.tools.map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(['submit_intent', 'invoke_capability', 'read_memory', 'intervene', 'get_decision', 'list_capabilities', 'payments_transfer']));

    const before = balance(ws);
    const ok = await alice.call('invoke_capability', { capability: 'payments.transfer', params: transfer({ amount_minor: 1_200 }), idempotency_key: 'http-ok-1' });
    expect(ok.isError).toBe(false);
    expect(ok.outcome).toEqual(expect.objectContaining({ verdict: 'accepted', status: 'accepted', capability: 'payments.transfer' }));
    expect(ok.outcome.receipt?.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(balance(ws)).toBe(before - 1_200);

    const refused = await alice.call('invoke_capability', { capability: 'payments.transfer', params: transfer({ amount_minor: 155_000 }) });
    expect(refused.isError).toBe(true);
    expect(refused.outcome.reasons).toContain('CONTRACT_LIMIT_EXCEEDED');

    const escalated = await alice.call('payments_transfer', { ...transfer({ amount_minor: 20_000 }), mandate: { idempotency_key: 'http-esc-1' } });
    expect(escalated.outcome).toEqual(expect.objectContaining({ verdict: 'escalated', status: 'pending', reasons: ['ESCALATION_REQUIRED'] }));
  });

  it('the agent is whoever the credential names, never an argument or a header', async () => {
    const scribe = await httpAgent(server.url, scribeKey, { requestInit: { headers: { Authorization: `Bearer ${scribeKey}`, 'X-Mandate-Agent': 'alice', 'Mcp-Agent': 'alice' } } });
    agents.push(scribe);
    const caps = await scribe.client.callTool({ name: 'list_capabilities', arguments: { agent: 'alice' } });
    expect((caps.structuredContent as { agent: string }).agent).toBe('scribe');
    const transferByScribe = await scribe.call('invoke_capability', { capability: 'payments.transfer', params: transfer() });
    expect(transferByScribe.outcome.reasons).toEqual(['CAPABILITY_NOT_GRANTED']);
    // One of alice's decisions is invisible to scribe.
    const mine = await alice.call('invoke_capability', { capability: 'payments.get_balance', params: { account: 'operating' } });
    const peek = await scribe.call('get_decision', { decision_id: mine.outcome.decision_id });
    expect(peek.outcome.reasons).toEqual(['DECISION_NOT_FOUND']);
  });

  it("a session belongs to its agent: another agent's credential with the session id gets 404", async () => {
    const sessionId = alice.transport.sessionId as string;
    expect(sessionId).toMatch(/^[0-9a-f-]{36}$/);
    const r = await api(server.url, scribeKey, '/mcp', {
      json: { jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} },
      headers: { 'Mcp-Session-Id': sessionId, Accept: 'application/json, text/event-stream', 'Mcp-Protocol-Version': '2025-11-25' },
    });
    expect(r.status).toBe(404);
    expect(r.body).toEqual(expect.objectContaining({ jsonrpc: '2.0', error: expect.objectContaining({ data: expect.objectContaining({ code: 'SESSION_NOT_FOUND' }) }) }));
  });
});

describe('one kernel, one store: a decision made over HTTP is visible everywhere', () => {
  let stdioAlice: AgentClient;
  beforeAll(async () => {
    stdioAlice = await e2e.client(ws, 'alice');
  });

  it('over stdio (get_decision) and from the operator API (by id and by dfid), and vice versa', async () => {
    const made = await alice.call('invoke_capability', { capability: 'payments.transfer', params: transfer({ amount_minor: 22_000 }), idempotency_key: 'cross-1' });
    expect(made.outcome.verdict).toBe('escalated');
    const id = made.outcome.decision_id;

    const overStdio = await stdioAlice.call('get_decision', { decision_id: id });
    expect(overStdio.isError).toBe(false);
    expect(overStdio.outcome).toEqual(expect.objectContaining({ decision_id: id, verdict: 'escalated', status: 'pending', dfid: made.outcome.dfid }));

    const byId = await api(server.url, opKey, `/api/v1/decisions/${id}`);
    expect(byId.status).toBe(200);
    expect(byId.body['decision']).toEqual(expect.objectContaining({ decision_id: id, agent: 'alice', status: 'pending', capability: 'payments.transfer' }));
    const byDfid = await api(server.url, opKey, `/api/v1/decisions?dfid=${made.outcome.dfid}`);
    expect((byDfid.body['decisions'] as { decision_id: string }[]).map((d) => d.decision_id)).toEqual([id]);
    expect((byDfid.body['events'] as { type: string }[]).map((e) => e.type)).toEqual(['IntentReceived', 'IntentValidated', 'PolicyDecided', 'EscalationOpened']);

    // Approved over the operator API: stdio sees the result.
    const approved = await api(server.url, opKey, `/api/v1/approvals/${id}/approve`, { json: { reason: 'checked invoice' } });
    expect(approved.status).toBe(200);
    const after = await stdioAlice.call('get_decision', { decision_id: id });
    expect(after.outcome).toEqual(expect.objectContaining({ verdict: 'accepted', status: 'approved' }));

    // And a decision made over stdio is visible over HTTP.
    const viaStdio = await stdioAlice.call('invoke_capability', { capability: 'payments.get_balance', params: { account: 'operating' } });
    const seen = await alice.call('get_decision', { decision_id: viaStdio.outcome.decision_id });
    expect(seen.outcome).toEqual(expect.objectContaining({ decision_id: viaStdio.outcome.decision_id, verdict: 'accepted' }));
  });
});

describe('resumability', () => {
  it('a dropped stream resumes with Last-Event-ID from the SQLite event store, and the waiting call completes', async () => {
    const pending = await alice.call('invoke_capability', { capability: 'payments.transfer', params: transfer({ amount_minor: 21_000 }), idempotency_key: 'resume-1' });
    expect(pending.outcome.verdict).toBe('escalated');

    // A fetch that cuts the first get_decision stream right after its priming event, like a dropped connection.
    const resumes: string[] = [];
    let dropped = false;
    const dropping: FetchLike = async (input, init) => {
      const headers = new Headers(init?.headers);
      if ((init?.method ?? 'GET') === 'GET' && headers.get('last-event-id')) resumes.push(headers.get('last-event-id') as string);
      const isTarget = !dropped && typeof init?.body === 'string' && init.body.includes('"get_decision"');
      if (!isTarget) return fetch(input, init);
      dropped = true;
      const upstream = new AbortController();
      const res = await fetch(input, { ...init, signal: upstream.signal });
      const reader = (res.body as ReadableStream<Uint8Array>).getReader();
      let seen = '';
      const body = new ReadableStream<Uint8Array>({
        async pull(controller) {
          const { value, done } = await reader.read();
          if (done) return controller.close();
          controller.enqueue(value);
          seen += new TextDecoder().decode(value);
          if (/^id: /m.test(seen) && seen.includes('\n\n')) {
            upstream.abort();
            controller.error(new TypeError('network connection lost'));
          }
        },
      });
      return new Response(body, { status: res.status, headers: res.headers });
    };
    const resumable = await httpAgent(server.url, aliceKey, { fetch: dropping, reconnectionOptions: { initialReconnectionDelay: 100, maxReconnectionDelay: 1_000, reconnectionDelayGrowFactor: 1.5, maxRetries: 5 } });
    agents.push(resumable);

    const waiting = resumable.call('get_decision', { decision_id: pending.outcome.decision_id, wait_seconds: 30 });
    await waitFor(() => dropped && resumes.length > 0, 10_000, 'the client to resume with Last-Event-ID');
    expect(resumes[0]).toMatch(/^\d+$/);

    const approved = await api(server.url, opKey, `/api/v1/approvals/${pending.outcome.decision_id}/approve`, { json: {} });
    expect(approved.status).toBe(200);
    const done = await waiting;
    expect(done.outcome).toEqual(expect.objectContaining({ decision_id: pending.outcome.decision_id, verdict: 'accepted', status: 'approved' }));
  });

  it('a session cannot replay another session\'s events: a foreign Last-Event-ID is refused', async () => {
    const other = await httpAgent(server.url, aliceKey);
    agents.push(other);
    const res = await fetch(`${server.url}/mcp`, {
      headers: { Authorization: `Bearer ${aliceKey}`, Accept: 'text/event-stream', 'Mcp-Session-Id': other.transport.sessionId as string, 'Mcp-Protocol-Version': '2025-11-25', 'Last-Event-ID': '1' },
      signal: AbortSignal.timeout(5_000),
    });
    expect(res.status).toBe(400);
    await res.body?.cancel();
  });
});

describe('JSON response mode', () => {
  it('--json-response answers POST /mcp with application/json, and the SDK client works', async () => {
    const json = await startHttp(ws, { args: ['--json-response'] });
    servers.push(json);
    const client = await httpAgent(json.url, aliceKey);
    agents.push(client);
    const r = await client.call('invoke_capability', { capability: 'payments.get_balance', params: { account: 'operating' } });
    expect(r.outcome.verdict).toBe('accepted');

    const raw = await fetch(`${json.url}/mcp`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${aliceKey}`, 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', 'Mcp-Session-Id': client.transport.sessionId as string, 'Mcp-Protocol-Version': '2025-11-25' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'list_capabilities', arguments: {} } }),
      signal: AbortSignal.timeout(5_000),
    });
    expect(raw.status).toBe(200);
    expect(raw.headers.get('content-type')).toMatch(/^application\/json/);
    const body = (await raw.json()) as { id: number; result: { structuredContent: { agent: string } } };
    expect(body.id).toBe(7);
    expect(body.result.structuredContent.agent).toBe('alice');
  });
});
