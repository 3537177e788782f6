// A delegation token as the HTTP credential itself (`Authorization: Bearer mdb_…`): a real `mandate serve --http`,
// real SDK clients (v1 over a 2025-era session, v2 at 2026-07-28), tokens issued and narrowed by the real CLI.
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintToken } from '../src/kernel/delegation/token.js';
import { E2E, exportLedger, runCli, transfer } from './helpers/e2e.js';
import { api, createKey, httpAgent, startHttp, type HttpAgent, type HttpServer } from './helpers/http.js';
import { v2Agent, type V2Agent } from './helpers/mcp2026.js';

const e2e = new E2E();
const clients: (HttpAgent | V2Agent)[] = [];
let ws: string;
let s: HttpServer;
let opKey: string;

const worker = (child: string) => ({ parent: 'alice', child, purpose: 'pay acme', grants: [{ capability: 'payments.transfer', limits: { max: { amount_minor: 5_000 } } }] });
const pay = (amount: number) => ({ capability: 'payments.transfer', params: transfer({ amount_minor: amount }) });

/** `mandate delegations token <child>`, then optionally `mandate delegations attenuate` with `check`: both offline CLI runs. */
async function tokenFor(child: string, check?: string): Promise<string> {
  const issued = await runCli(['delegations', 'token', child, '-w', ws]);
  expect(issued.code, issued.stderr).toBe(0);
  const token = issued.stdout.trim();
  if (check === undefined) return token;
  const narrowed = await runCli(['delegations', 'attenuate', token, '--check', check, '--pubkey', join(ws, 'keys', 'signing.pub')]);
  expect(narrowed.code, narrowed.stderr).toBe(0);
  return narrowed.stdout.trim();
}

/** One authenticated request with only the token: the edge's answer before any MCP. */
async function tryBearer(token: string): Promise<{ status: number; body: Record<string, unknown>; challenge: string | null }> {
  const res = await fetch(`${s.url}/mcp`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {}, challenge: res.headers.get('www-authenticate') };
}

function errorMessage(body: Record<string, unknown>): string {
  const e = body['error'] as { message?: string; data?: { message?: string } } | undefined;
  return JSON.stringify(e ?? body);
}

async function delegateTo(child: string): Promise<string> {
  const made = await api(s.url, opKey, '/api/v1/delegations', { json: worker(child) });
  expect(made.status, JSON.stringify(made.body)).toBe(201);
  return (made.body['outcome'] as { output: { delegation_id: string } }).output.delegation_id;
}

beforeAll(async () => {
  ws = await e2e.workspace();
  appendFileSync(join(ws, 'contracts', 'alice.yaml'), '\ndelegation:\n  capabilities: [payments.transfer]\n  max_depth: 2\n  max_children: 8\n');
  opKey = (await createKey(ws, { operator: 'anna' })).key;
  s = await startHttp(ws);
}, 120_000);

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  await s?.stop();
  await e2e.cleanup();
});

describe('a delegation token as the HTTP credential', () => {
  it('a token-only client (SDK v1 session and SDK v2 at 2026-07-28) is the child, held per call to the narrowed block; a call outside it is refused and recorded; a widening block widens nothing', async () => {
    await delegateTo('worker-t');
    const narrow = await tokenFor('worker-t', 'check if value("amount_minor", $a), $a <= 1000;');

    const v1 = await httpAgent(s.url, narrow);
    clients.push(v1);
    const within = await v1.call('invoke_capability', pay(900));
    expect(within.outcome.verdict, JSON.stringify(within.outcome)).toBe('accepted');
    // Within the sub-mandate (5,000 a transfer) but outside the token's own block: the token binds every call it authenticates.
    const outside = await v1.call('invoke_capability', pay(3_000));
    expect(outside.outcome.reasons).toEqual(['DELEGATION_TOKEN_INVALID']);
    expect(outside.outcome.details?.[0]?.path).toBe('Authorization');

    const v2 = await v2Agent(s.url, narrow, 'pin');
    clients.push(v2);
    expect((await v2.call('invoke_capability', pay(800))).outcome.verdict).toBe('accepted');
    const outside2 = await v2.call('invoke_capability', pay(2_000));
    expect(outside2.outcome.reasons).toEqual(['DELEGATION_TOKEN_INVALID']);

    // A block's facts are never trusted: naming the parent, or a small amount, renames or widens nothing.
    const widened = await runCli(['delegations', 'attenuate', narrow, '--check', 'agent("alice"); value("amount_minor", 1);', '--pubkey', join(ws, 'keys', 'signing.pub')]);
    expect(widened.code, widened.stderr).toBe(0);
    const w = await httpAgent(s.url, widened.stdout.trim());
    clients.push(w);
    const wide = await w.call('invoke_capability', pay(3_000));
    expect(wide.outcome.reasons).toEqual(['DELEGATION_TOKEN_INVALID']);

    // A plan's steps would run after the request, without the token's checks: refused.
    const plan = await v1.call('submit_plan', { steps: [{ id: 'a', capability: 'payments.transfer', params: transfer({ amount_minor: 3_000 }) }] });
    expect(plan.outcome.reasons).toEqual(['DELEGATION_TOKEN_INVALID']);

    const { events } = await exportLedger(ws);
    for (const o of [outside.outcome, outside2.outcome, wide.outcome]) {
      const rejected = events.find((e) => e.type === 'IntentRejected' && e.decision_id === o.decision_id);
      expect(rejected?.reasons, o.decision_id).toEqual(['DELEGATION_TOKEN_INVALID']);
      expect(rejected?.agent).toBe('worker-t');
    }
    const accepted = events.filter((e) => e.agent === 'worker-t' && e.decision_id === within.outcome.decision_id);
    expect(accepted.length).toBeGreaterThan(0);
  }, 180_000);

  it('a forged token, an expired one, a block that no call can pass, and the token of a revoked link are answered 401', async () => {
    const id = await delegateTo('worker-r');
    const key = createPrivateKey(readFileSync(join(ws, 'keys', 'signing.key'), 'utf8'));
    const live = { agent: 'worker-r', delegationId: id, expiresAt: Date.now() + 30 * 60_000 };

    const forged = await tryBearer(await mintToken(generateKeyPairSync('ed25519').privateKey, live));
    expect(forged.status).toBe(401);
    expect(forged.challenge).toContain('invalid_token');
    expect(errorMessage(forged.body)).toContain('delegation token refused');

    // Signed with the workspace key, for the live link, but past its own expiry.
    const expired = await tryBearer(await mintToken(key, { ...live, expiresAt: Date.now() - 60_000 }));
    expect(expired.status).toBe(401);
    expect(errorMessage(expired.body)).toContain('expired');
    // A holder's own shorter expiry holds too: it names no call fact, so no call could pass it.
    const lapsed = await tryBearer(await tokenFor('worker-r', 'check if time($t), $t < 2020-01-01T00:00:00Z;'));
    expect(lapsed.status).toBe(401);
    expect(errorMessage(lapsed.body)).toContain('fails at any call');

    // A token for a sub-mandate the agent does not hold (another id) is no credential either.
    const stranger = await tryBearer(await mintToken(key, { ...live, delegationId: 'dlg-0000000000000000' }));
    expect(stranger.status).toBe(401);
    expect(errorMessage(stranger.body)).toContain('holds no sub-mandate');

    const token = await tokenFor('worker-r');
    const agent = await httpAgent(s.url, token);
    clients.push(agent);
    expect((await agent.call('invoke_capability', pay(100))).outcome.verdict).toBe('accepted');
    const revoked = await api(s.url, opKey, '/api/v1/delegations/worker-r/revoke', { json: { reason: 'done' } });
    expect(revoked.status).toBe(200);
    const after = await tryBearer(token);
    expect(after.status).toBe(401);
    expect(errorMessage(after.body)).toContain('was revoked');
    // The open session is cut off too: its next request authenticates again with the same token.
    await expect(agent.call('invoke_capability', pay(100))).rejects.toThrow();
  }, 180_000);
});
