/**
 * Issue 19, approvals as input-required results on MCP 2026-07-28 over real
 * HTTP: where the contract lets the client's human approve and the request
 * declares elicitation, an escalated call comes back `input_required` with a
 * question stating the exact call and a sealed `requestState`; the retry
 * with the answer resolves that decision once. The state is untrusted: a
 * tampered one, another agent's, or one for a different call is refused.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { E2E, balance, exportLedger, transfer, type Outcome } from './helpers/e2e.js';
import { createKey, startHttp, type HttpServer } from './helpers/http.js';
import { rawRequest, v2Agent, type V2Agent } from './helpers/mcp2026.js';

const e2e = new E2E();
const agents: V2Agent[] = [];
let ws: string;
let server: HttpServer;
let aliceKey: string;
let scribeKey: string;

beforeAll(async () => {
  ws = await e2e.workspace();
  const contract = join(ws, 'contracts', 'alice.yaml');
  const text = readFileSync(contract, 'utf8');
  expect(text).toContain('client_approval: false');
  writeFileSync(contract, text.replace('client_approval: false', 'client_approval: true'));
  [aliceKey, scribeKey] = await Promise.all([createKey(ws, { agent: 'alice' }).then((k) => k.key), createKey(ws, { agent: 'scribe' }).then((k) => k.key)]);
  server = await startHttp(ws);
});

afterAll(async () => {
  await Promise.all(agents.map((a) => a.close().catch(() => undefined)));
  await server?.stop();
  await e2e.cleanup();
});

const big = (amount: number, key: string) => ({ capability: 'payments.transfer', params: transfer({ amount_minor: amount }), idempotency_key: key });
const ELICITS = { elicitation: { form: {} } };

describe('a v2 client pinned to 2026-07-28, whose human answers in the client', () => {
  it('approves: the escalated call comes back accepted, resolved by client-human:alice, and the transfer runs once', async () => {
    const asked: string[] = [];
    const alice = await v2Agent(server.url, aliceKey, 'pin', (p) => {
      asked.push(p.message);
      return { action: 'accept', content: { decision: 'approve', reason: 'known invoice' } };
    });
    agents.push(alice);
    const before = balance(ws);
    const g = await alice.call('invoke_capability', big(25_000, 'mrtr-approve-1'));
    expect(g.outcome).toMatchObject({ verdict: 'accepted', status: 'approved', capability: 'payments.transfer' });
    expect(asked).toHaveLength(1);
    expect(asked[0]).toContain('payments.transfer');
    expect(balance(ws)).toBe(before - 25_000);

    const { events, raw } = await exportLedger(ws);
    const lineage = events.filter((e) => e.decision_id === g.outcome.decision_id);
    expect(lineage.map((e) => e.type)).toEqual(['IntentReceived', 'IntentValidated', 'PolicyDecided', 'EscalationOpened', 'EscalationResolved', 'ActionStarted', 'ActionOutcome']);
    expect(lineage.find((e) => e.type === 'EscalationResolved')?.data).toMatchObject({ resolution: 'approved', by: 'client-human:alice' });
    expect(raw).not.toContain('known invoice');
  });

  it('declines: the decision stays pending for an operator and nothing runs', async () => {
    const alice = await v2Agent(server.url, aliceKey, 'pin', () => ({ action: 'decline' }));
    agents.push(alice);
    const before = balance(ws);
    const g = await alice.call('invoke_capability', big(26_000, 'mrtr-decline-1'));
    expect(g.outcome).toMatchObject({ verdict: 'escalated', status: 'pending' });
    expect(balance(ws)).toBe(before);
  });

  it('a client that does not declare elicitation gets the pending escalation, not a question', async () => {
    const r = await rawRequest(server.url, aliceKey, 'tools/call', { name: 'invoke_capability', arguments: big(27_000, 'mrtr-noelicit-1') });
    expect(r.body.result).toMatchObject({ resultType: 'complete', structuredContent: { verdict: 'escalated', status: 'pending' } });
  });
});

describe('the sealed requestState', () => {
  const args = big(28_000, 'mrtr-raw-1');
  let state: string;

  beforeAll(async () => {
    const first = await rawRequest(server.url, aliceKey, 'tools/call', { name: 'invoke_capability', arguments: args }, { capabilities: ELICITS });
    expect(first.body.result).toMatchObject({ resultType: 'input_required', inputRequests: { mandate_approval: { method: 'elicitation/create' } } });
    state = first.body.result?.['requestState'] as string;
    expect(typeof state).toBe('string');
    // Content-safe: the state names ids and a hash, never the call's values.
    const payload = Buffer.from(state.split('.')[1] ?? '', 'base64url').toString();
    expect(JSON.parse(payload)).toMatchObject({ p: { v: 1, decision_id: expect.any(String), request_hash: expect.stringMatching(/^[0-9a-f]{64}$/) } });
    expect(payload).not.toContain('28000');
  });

  const retry = (key: string, requestState: string, answer?: Record<string, unknown>, callArgs: Record<string, unknown> = args) =>
    rawRequest(server.url, key, 'tools/call', { name: 'invoke_capability', arguments: callArgs, requestState, ...(answer ? { inputResponses: { mandate_approval: answer } } : {}) }, { capabilities: ELICITS });

  it('tampered, it is refused with -32602 and the decision stays pending', async () => {
    const tampered = state.slice(0, -2) + (state.endsWith('AA') ? 'BB' : 'AA');
    const r = await retry(aliceKey, tampered, { action: 'accept', content: { decision: 'approve' } });
    expect(r.body.error?.code).toBe(-32602);
  });

  it("another agent's credential cannot use it", async () => {
    const r = await retry(scribeKey, state, { action: 'accept', content: { decision: 'approve' } });
    expect(r.body.error?.code).toBe(-32602);
  });

  it('with different arguments it is refused: it answers only the call it was minted for', async () => {
    const r = await retry(aliceKey, state, { action: 'accept', content: { decision: 'approve' } }, big(1, 'mrtr-raw-1'));
    expect((r.body.result?.['structuredContent'] as Outcome).reasons).toEqual(['SCHEMA_INVALID']);
  });

  it('without an answer, the question is asked again', async () => {
    const r = await retry(aliceKey, state);
    expect(r.body.result).toMatchObject({ resultType: 'input_required' });
  });

  it('answered, it resolves the decision once: a replay of the same answer returns the same outcome and runs nothing', async () => {
    const before = balance(ws);
    const approved = await retry(aliceKey, state, { action: 'accept', content: { decision: 'approve' } });
    const outcome = approved.body.result?.['structuredContent'] as Outcome;
    expect(outcome).toMatchObject({ verdict: 'accepted', status: 'approved' });
    expect(balance(ws)).toBe(before - 28_000);
    const replay = await retry(aliceKey, state, { action: 'accept', content: { decision: 'deny' } });
    expect(replay.body.result?.['structuredContent']).toMatchObject({ decision_id: outcome.decision_id, status: 'approved' });
    expect(balance(ws)).toBe(before - 28_000);
  });
});
