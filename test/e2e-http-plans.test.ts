/**
 * Plans over Streamable HTTP and the operator API (ADR-025): a plan submitted
 * by an agent over /mcp waits for one approval, which an operator gives
 * through POST /api/v1/approvals/{id}/approve; its first step runs; the
 * operator reads the report (GET /api/v1/plans/{id}), cannot resume a plan
 * that has not failed (409), abandons it (a viewer may not: 403), and the
 * next step is refused. A plan that failed is resumed through the API with
 * its remaining steps changed: 202 and a pending approval, which an operator
 * gives; a changed plan that does not pass is 422 and changes nothing.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { E2E, runCli, transfer, type Outcome } from './helpers/e2e.js';
import { api, createKey, httpAgent, startHttp, type HttpAgent, type HttpServer } from './helpers/http.js';

const e2e = new E2E();
let s: HttpServer;
let alice: HttpAgent;
let opKey: string;
let viewerKey: string;
let ws: string;

beforeAll(async () => {
  ws = await e2e.workspace();
  const keys = await Promise.all([createKey(ws, { operator: 'anna' }), createKey(ws, { operator: 'vera', role: 'viewer' }), createKey(ws, { agent: 'alice' })]);
  [opKey, viewerKey] = [keys[0].key, keys[1].key];
  s = await startHttp(ws);
  alice = await httpAgent(s.url, keys[2].key);
});

afterAll(async () => {
  await alice?.close().catch(() => undefined);
  await s?.stop();
  await e2e.cleanup();
});

const step = async (planId: string, amount: number, memo: string): Promise<Outcome> => {
  const r = (await alice.client.callTool({ name: 'payments_transfer', arguments: transfer({ amount_minor: amount, memo }), _meta: { 'mandate/plan': planId } })) as CallToolResult;
  return r.structuredContent as unknown as Outcome;
};

describe('plans over HTTP and the operator API', () => {
  it('one approval through the API, a step, the report, resume refused, abandon by an operator only, and the next step refused', async () => {
    const submitted = await alice.call('submit_plan', {
      purpose: 'two invoices',
      steps: [
        { capability: 'payments.transfer', params: transfer({ amount_minor: 20_000, memo: 'one' }) },
        { capability: 'payments.transfer', params: transfer({ memo: 'two' }), bounds: { amount_minor: { max: 5_000 } } },
      ],
    });
    expect(submitted.outcome).toMatchObject({ verdict: 'escalated', capability: 'plan.submit' });
    const planId = (submitted.outcome.output as { plan_id: string }).plan_id;
    const pending = await api(s.url, opKey, `/api/v1/approvals/${submitted.outcome.decision_id}`);
    expect(pending.status).toBe(200);
    const approved = await api(s.url, opKey, `/api/v1/approvals/${submitted.outcome.decision_id}/approve`, { json: { reason: 'both invoices checked' } });
    expect(approved.status, JSON.stringify(approved.body)).toBe(200);
    expect(approved.body['outcome']).toMatchObject({ verdict: 'accepted', status: 'approved' });

    expect((await step(planId, 20_000, 'one')).verdict).toBe('accepted');
    // Bounded: above its max is no step; within it runs (below).
    expect((await step(planId, 5_001, 'two')).reasons).toEqual(['PLAN_STEP_MISMATCH']);

    const listed = await api(s.url, viewerKey, '/api/v1/plans?agent=alice');
    expect((listed.body['plans'] as { plan_id: string; status: string }[]).map((p) => [p.plan_id, p.status])).toEqual([[planId, 'running']]);
    const shown = await api(s.url, viewerKey, `/api/v1/plans/${planId}`);
    expect(shown.body['report']).toMatchObject({ status: 'running', planned: [{ status: 'done' }, { status: 'pending', bounded: ['amount_minor'] }], unplanned: [{ code: 'PLAN_STEP_MISMATCH' }] });
    expect((await api(s.url, opKey, '/api/v1/plans/nope')).status).toBe(404);
    const resume = await api(s.url, opKey, `/api/v1/plans/${planId}/resume`, { json: {} });
    expect([resume.status, (resume.body['error'] as { code: string }).code]).toEqual([409, 'PLAN_STATE_CONFLICT']);
    expect((await api(s.url, viewerKey, `/api/v1/plans/${planId}/abandon`, { json: {} })).status).toBe(403);

    const abandoned = await api(s.url, opKey, `/api/v1/plans/${planId}/abandon`, { json: { reason: 'supplier called' } });
    expect(abandoned.status).toBe(200);
    expect(abandoned.body['report']).toMatchObject({ status: 'abandoned', missed: [1] });
    expect((await step(planId, 4_000, 'two')).reasons).toEqual(['PLAN_NOT_RUNNING']);
    // Out of plan mode: alice's ordinary grants govern her calls again.
    expect((await alice.call('payments_transfer', transfer({ amount_minor: 100 }))).outcome.verdict).toBe('accepted');
  });

  it('a failed plan resumed through the API with changed steps: 422 for a change that does not pass, 202 and a fresh approval for one that does', async () => {
    const submitted = await alice.call('submit_plan', {
      purpose: 'two small invoices',
      steps: [
        { capability: 'payments.transfer', params: transfer({ amount_minor: 1_000, memo: 'h-1' }) },
        { capability: 'payments.transfer', params: transfer({ amount_minor: 2_000, memo: 'h-2' }) },
      ],
    });
    expect(submitted.outcome.verdict).toBe('accepted');
    const planId = (submitted.outcome.output as { plan_id: string }).plan_id;
    // Step 1 is refused (the account's currency moved), so the plan fails at step 1; the currency is then put back.
    const path = join(ws, 'data', 'books.json');
    const book = readFileSync(path, 'utf8');
    writeFileSync(path, book.replace(/"currency":\s*"EUR"/, '"currency":"USD"'));
    expect((await step(planId, 1_000, 'h-1')).reasons).toEqual(['STATE_DRIFT']);
    writeFileSync(path, book);

    const tooBig = await api(s.url, opKey, `/api/v1/plans/${planId}/resume`, { json: { steps: [{ capability: 'payments.transfer', params: transfer({ amount_minor: 60_000, memo: 'h-x' }) }] } });
    expect(tooBig.status).toBe(422);
    expect(tooBig.body['outcome']).toMatchObject({ verdict: 'rejected', reasons: ['PLAN_STEP_REJECTED', 'CONTRACT_LIMIT_EXCEEDED'] });
    expect((await api(s.url, viewerKey, `/api/v1/plans/${planId}`)).body['report']).toMatchObject({ status: 'failed', failed_step: 0, planned: [{ status: 'failed' }, { status: 'pending' }] });

    const changed = await api(s.url, opKey, `/api/v1/plans/${planId}/resume`, { json: { steps: [{ capability: 'payments.transfer', params: transfer({ amount_minor: 1_500, memo: 'h-3' }) }] } });
    expect(changed.status, JSON.stringify(changed.body)).toBe(202);
    const outcome = changed.body['outcome'] as Outcome;
    expect(outcome).toMatchObject({ verdict: 'escalated', status: 'pending', output: { status: 'pending_approval', steps: 2 } });
    expect((await step(planId, 1_500, 'h-3')).reasons).toEqual(['PLAN_NOT_RUNNING']);
    const approved = await api(s.url, opKey, `/api/v1/approvals/${outcome.decision_id}/approve`, { json: { reason: 'new amount agreed' } });
    expect(approved.status, JSON.stringify(approved.body)).toBe(200);
    expect((await step(planId, 1_500, 'h-3')).verdict).toBe('accepted');
    expect((await api(s.url, viewerKey, `/api/v1/plans/${planId}`)).body['report']).toMatchObject({ status: 'completed', missed: [0], planned: [{ status: 'failed' }, { status: 'done' }] });
  });

  it('an operator submits a plan on an agent\'s behalf (API and CLI), decided as the agent\'s own: accepted, refused or malformed, and a viewer may not', async () => {
    const plan = (amount: number, memo: string) => ({ purpose: 'on her behalf', steps: [{ capability: 'payments.transfer', params: transfer({ amount_minor: amount, memo }) }] });
    expect((await api(s.url, viewerKey, '/api/v1/plans', { json: { agent: 'alice', plan: plan(1_000, 'op-1') } })).status).toBe(403);
    const malformed = await api(s.url, opKey, '/api/v1/plans', { json: { agent: 'alice', plan: { purpose: 'none', steps: [] } } });
    expect([malformed.status, (malformed.body['error'] as { code: string }).code]).toEqual([400, 'INVALID_REQUEST']);

    const refused = await api(s.url, opKey, '/api/v1/plans', { json: { agent: 'alice', plan: plan(60_000, 'op-big') } });
    expect(refused.status).toBe(422);
    expect(refused.body['outcome']).toMatchObject({ verdict: 'rejected', capability: 'plan.submit', reasons: ['PLAN_STEP_REJECTED', 'CONTRACT_LIMIT_EXCEEDED'] });

    const accepted = await api(s.url, opKey, '/api/v1/plans', { json: { agent: 'alice', plan: plan(1_000, 'op-1') } });
    expect(accepted.status, JSON.stringify(accepted.body)).toBe(201);
    const planId = ((accepted.body['outcome'] as Outcome).output as { plan_id: string }).plan_id;
    // The plan is alice's: she runs its step under it.
    expect((await step(planId, 1_000, 'op-1')).verdict).toBe('accepted');
    expect((await api(s.url, viewerKey, `/api/v1/plans/${planId}`)).body['report']).toMatchObject({ agent: 'alice', status: 'completed' });

    const file = join(ws, 'op-plan.json');
    writeFileSync(file, JSON.stringify(plan(2_000, 'op-cli')));
    const cli = await runCli(['plans', 'submit', '--agent', 'alice', '--plan', file, '--as', 'anna', '-w', ws]);
    expect(cli.code, cli.stderr).toBe(0);
    const out = JSON.parse(cli.stdout) as { outcome: Outcome };
    expect(out.outcome).toMatchObject({ verdict: 'accepted', capability: 'plan.submit' });
    writeFileSync(file, JSON.stringify(plan(60_000, 'op-cli-big')));
    expect((await runCli(['plans', 'submit', '--agent', 'alice', '--plan', file, '-w', ws])).code).toBe(1);
    writeFileSync(file, '{ not json');
    expect((await runCli(['plans', 'submit', '--agent', 'alice', '--plan', file, '-w', ws])).code).toBe(2);
  });
});
