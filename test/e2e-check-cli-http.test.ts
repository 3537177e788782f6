/**
 * "Would this call be allowed?" from the CLI (`mandate check`) and the
 * operator API (`POST /api/v1/check`, operator role only): the verdict and
 * who an escalation would wait for, recorded as a PolicyChecked event and
 * never as a decision.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { E2E, exportLedger, runCli, transfer } from './helpers/e2e.js';
import { api, createKey, startHttp, type HttpServer } from './helpers/http.js';

const e2e = new E2E();
let ws: string;
afterAll(() => e2e.cleanup());
beforeAll(async () => {
  ws = await e2e.workspace();
});

describe('mandate check', () => {
  it('prints the verdict as JSON; exit 0 would be accepted, 1 escalated; a check is on the ledger, no decision is', async () => {
    const ok = await runCli(['check', '-w', ws, '--agent', 'alice', '--capability', 'payments.transfer', '--params', JSON.stringify(transfer()), '--as', 'dana', '--json']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ agent: 'alice', verdict: 'accepted', reasons: [] });
    const big = await runCli(['check', '-w', ws, '--agent', 'alice', '--capability', 'payments.transfer', '--params', JSON.stringify(transfer({ amount_minor: 20_000 }))]);
    expect(big.code).toBe(1);
    expect(big.stdout).toContain('would be escalated (ESCALATION_REQUIRED)');
    expect(big.stdout).toContain('for an operator or supervisor supervisor');
    const { events } = await exportLedger(ws);
    expect(events.filter((e) => e.type === 'PolicyChecked').map((e) => [e.data['verdict'], e.data['by']])).toEqual([
      ['accepted', 'operator:dana'],
      ['escalated', expect.stringMatching(/^operator:/)],
    ]);
    expect(events.filter((e) => e.type !== 'PolicyChecked')).toEqual([]);
  }, 60_000);

  it('refuses params that are not a JSON object, with exit 2', async () => {
    const r = await runCli(['check', '-w', ws, '--agent', 'alice', '--capability', 'payments.transfer', '--params', '[1]']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--params must be a JSON object');
  }, 30_000);
});

describe('POST /api/v1/check', () => {
  let server: HttpServer;
  let operator: string;
  let viewer: string;
  beforeAll(async () => {
    operator = (await createKey(ws, { operator: 'dana' })).key;
    viewer = (await createKey(ws, { operator: 'vic', role: 'viewer' })).key;
    server = await startHttp(ws);
  }, 60_000);
  afterAll(() => server?.stop());

  it('answers an operator with the verdict, policies and facts; a viewer may not ask; a bad body is refused', async () => {
    const r = await api(server.url, operator, '/api/v1/check', { json: { agent: 'alice', capability: 'payments.transfer', params: transfer({ payee: 'shady-llc' }) } });
    expect(r.status).toBe(200);
    const check = r.body['check'] as Record<string, unknown>;
    expect(check).toMatchObject({ verdict: 'rejected', reasons: ['POLICY_FORBID'], policies: ['forbid-blocked-payees'] });
    expect((check['facts'] as Record<string, unknown>)['payee_blocked']).toBe(true);
    expect((await api(server.url, viewer, '/api/v1/check', { json: { agent: 'alice', capability: 'payments.transfer' } })).status).toBe(403);
    const bad = await api(server.url, operator, '/api/v1/check', { json: { agent: 'alice' } });
    expect(bad.status).toBe(400);
    expect(String((bad.body['error'] as Record<string, unknown>)?.['message'] ?? JSON.stringify(bad.body))).toContain('capability');
  }, 30_000);
});
