// Sub-mandates over HTTP: the operator API the console's tree view uses, and a child with its own agent key.
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { E2E, transfer } from './helpers/e2e.js';
import { api, createKey, httpAgent, startHttp, type HttpAgent, type HttpServer } from './helpers/http.js';

const e2e = new E2E();
const agents: HttpAgent[] = [];
let ws: string;
let s: HttpServer;
let opKey: string;
let viewerKey: string;

beforeAll(async () => {
  ws = await e2e.workspace();
  appendFileSync(join(ws, 'contracts', 'alice.yaml'), '\ndelegation:\n  capabilities: [payments.transfer]\n  max_depth: 2\n');
  const keys = await Promise.all([createKey(ws, { operator: 'anna' }), createKey(ws, { operator: 'vera', role: 'viewer' })]);
  [opKey, viewerKey] = [keys[0].key, keys[1].key];
  s = await startHttp(ws);
});

afterAll(async () => {
  await Promise.all(agents.map((a) => a.close().catch(() => undefined)));
  await s?.stop();
  await e2e.cleanup();
});

const request = { parent: 'alice', child: 'worker-h', purpose: 'pay acme', grants: [{ capability: 'payments.transfer', limits: { max: { amount_minor: 5_000 }, budgets: [{ window: '1d', sum: 'amount_minor', max: 8_000 }] } }], issue_key: true };

describe('operator API: delegations', () => {
  it('creates a sub-mandate as the parent decides, with a key for the child; the tree shows its remaining budget; revoking cuts its key off', async () => {
    expect((await api(s.url, viewerKey, '/api/v1/delegations', { json: request })).status).toBe(403);
    const wider = await api(s.url, opKey, '/api/v1/delegations', { json: { ...request, child: 'greedy', grants: [{ capability: 'payments.transfer', limits: { max: { amount_minor: 90_000 } } }] } });
    expect(wider.status).toBe(422);
    expect((wider.body['outcome'] as { reasons: string[] }).reasons).toEqual(['DELEGATION_LIMIT_WIDER']);

    const made = await api(s.url, opKey, '/api/v1/delegations', { json: request });
    expect(made.status).toBe(201);
    const key = made.body['key'] as string;
    expect(key).toMatch(/^mdt_/);

    const child = await httpAgent(s.url, key);
    agents.push(child);
    const paid = await child.call('invoke_capability', { capability: 'payments.transfer', params: transfer({ amount_minor: 3_000 }) });
    expect(paid.outcome.verdict).toBe('accepted');

    const tree = await api(s.url, viewerKey, '/api/v1/delegations');
    const root = (tree.body['tree'] as { agent: string; children: { agent: string; status: string; expires_at: string; grants: { budgets: { remaining: number; max: number }[] }[] }[] }[])[0];
    expect(root?.agent).toBe('alice');
    expect(root?.children[0]).toMatchObject({ agent: 'worker-h', status: 'live', grants: [{ budgets: [{ max: 8_000, remaining: 5_000 }] }] });
    expect(Date.parse(root?.children[0]?.expires_at ?? '')).toBeGreaterThan(Date.now());
    const one = await api(s.url, viewerKey, '/api/v1/delegations/worker-h');
    expect(one.body['chain']).toEqual([{ agent: 'alice', delegation_id: null }, { agent: 'worker-h', delegation_id: expect.stringMatching(/^dlg-/) }]);

    const revoked = await api(s.url, opKey, '/api/v1/delegations/worker-h/revoke', { json: { reason: 'done' } });
    expect(revoked.status).toBe(200);
    expect((await api(s.url, opKey, '/api/v1/delegations/nobody/revoke', { json: {} })).status).toBe(404);
    const after = await fetch(`${s.url}/mcp`, { method: 'POST', headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }) });
    expect(after.status).toBe(401);
  }, 120_000);
});
