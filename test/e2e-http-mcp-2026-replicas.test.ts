/**
 * Issue 19, no sticky routing on 2026-07-28: two `serve --http` processes on
 * one workspace (one store, one signing key) answer one agent's consecutive
 * requests alternately, including an approval asked on one replica and
 * answered on the other; the transfer runs once.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { E2E, balance, transfer, type Outcome } from './helpers/e2e.js';
import { createKey, startHttp, type HttpServer } from './helpers/http.js';
import { rawRequest, REVISION } from './helpers/mcp2026.js';

const e2e = new E2E();
let ws: string;
let a: HttpServer;
let b: HttpServer;
let aliceKey: string;
const clients: Client[] = [];

beforeAll(async () => {
  ws = await e2e.workspace();
  const contract = join(ws, 'contracts', 'alice.yaml');
  writeFileSync(contract, readFileSync(contract, 'utf8').replace('client_approval: false', 'client_approval: true'));
  aliceKey = (await createKey(ws, { agent: 'alice' })).key;
  [a, b] = await Promise.all([startHttp(ws), startHttp(ws)]);
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  await Promise.all([a?.stop(), b?.stop()]);
  await e2e.cleanup();
});

describe('two replicas, no sticky routing, revision 2026-07-28', () => {
  it("one client's consecutive requests alternate between the replicas and are all served", async () => {
    const served: string[] = [];
    let turn = 0;
    // Every request goes to the other replica than the one before: what a round-robin balancer without affinity does.
    const alternate = (input: string | URL | Request, init?: RequestInit) => {
      const target = new URL(String(input instanceof Request ? input.url : input));
      const to = new URL(turn++ % 2 === 0 ? a.url : b.url);
      target.host = to.host;
      served.push(to.host);
      return fetch(target, init);
    };
    const client = new Client({ name: 'replica-test', version: '1.0.0' }, { versionNegotiation: { mode: { pin: REVISION } } });
    clients.push(client);
    await client.connect(new StreamableHTTPClientTransport(new URL('/mcp', a.url), { fetch: alternate, requestInit: { headers: { Authorization: `Bearer ${aliceKey}` } } }));
    expect((await client.listTools()).tools.length).toBeGreaterThan(5);
    const before = balance(ws);
    const ok = await client.callTool({ name: 'invoke_capability', arguments: { capability: 'payments.transfer', params: transfer({ amount_minor: 700 }), idempotency_key: 'replica-ok-1' } });
    expect(ok.structuredContent).toMatchObject({ verdict: 'accepted' });
    const again = await client.callTool({ name: 'invoke_capability', arguments: { capability: 'payments.transfer', params: transfer({ amount_minor: 700 }), idempotency_key: 'replica-ok-1' } });
    expect(again.structuredContent).toMatchObject({ replay_of: (ok.structuredContent as unknown as Outcome).decision_id });
    expect(balance(ws)).toBe(before - 700);
    expect(new Set(served).size).toBe(2);
  });

  it('an approval asked on one replica is answered on the other, once', async () => {
    const args = { capability: 'payments.transfer', params: transfer({ amount_minor: 30_000 }), idempotency_key: 'replica-esc-1' };
    const caps = { elicitation: { form: {} } };
    const first = await rawRequest(a.url, aliceKey, 'tools/call', { name: 'invoke_capability', arguments: args }, { capabilities: caps });
    expect(first.body.result).toMatchObject({ resultType: 'input_required' });
    const requestState = first.body.result?.['requestState'] as string;
    const before = balance(ws);
    const answer = { mandate_approval: { action: 'accept', content: { decision: 'approve' } } };
    const onB = await rawRequest(b.url, aliceKey, 'tools/call', { name: 'invoke_capability', arguments: args, requestState, inputResponses: answer }, { capabilities: caps });
    expect(onB.body.result?.['structuredContent']).toMatchObject({ verdict: 'accepted', status: 'approved' });
    const replayOnA = await rawRequest(a.url, aliceKey, 'tools/call', { name: 'invoke_capability', arguments: args, requestState, inputResponses: answer }, { capabilities: caps });
    expect(replayOnA.body.result?.['structuredContent']).toMatchObject({ status: 'approved', decision_id: (onB.body.result?.['structuredContent'] as Outcome).decision_id });
    expect(balance(ws)).toBe(before - 30_000);
  });
});
