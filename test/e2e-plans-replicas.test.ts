/**
 * A plan survives replica failover (ADR-025): two `mandate serve --http`
 * replicas on one fresh PostgreSQL database. A three-step plan is submitted
 * by alice over replica A's /mcp, escalates once, and is approved through
 * A's operator API; step 1 runs on A, and a call outside the plan is refused
 * there. Replica A is then killed with SIGKILL. A new client on replica B is
 * refused outside the plan just as on A, its retry of step 1 is answered from
 * the record, steps 2 and 3 run, and B's report shows all three executed and
 * both refusals. The payments book holds each step's transfer exactly once.
 */
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processAlive } from '../src/kernel/recovery.js';
import { E2E, readBooks, runCli, transfer, waitFor, type Outcome } from './helpers/e2e.js';
import { fleetWorkspace } from './helpers/fleet.js';
import { api, createKey, httpAgent, startHttp, type HttpAgent, type HttpServer } from './helpers/http.js';
import { freshDatabase } from './helpers/postgres.js';
import { POSTGRES, requires } from './helpers/requires.js';

const e2e = new E2E();
const need = await requires(import.meta.url, [POSTGRES]);
let db: Awaited<ReturnType<typeof freshDatabase>>;
let ws: string;
let env: Record<string, string>;
let a: HttpServer;
let b: HttpServer;
let opKey: string;
let aliceKey: string;
const clients: HttpAgent[] = [];

beforeAll(async () => {
  db = await freshDatabase('plans_replicas');
  env = { MANDATE_DATABASE_URL: db.url };
  ws = await e2e.workspace();
  // The template's workspace (alice, payments) with its store on PostgreSQL.
  fleetWorkspace(ws, []);
  // The first command migrates the new database.
  opKey = (await createKey(ws, { operator: 'olga' }, env)).key;
  aliceKey = (await createKey(ws, { agent: 'alice' }, env)).key;
  [a, b] = await Promise.all([startHttp(ws, { env }), startHttp(ws, { env })]);
}, 120_000);

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  await Promise.all([a, b].map((r) => r?.stop()));
  await e2e.cleanup();
  await db?.drop();
});

async function connect(replica: HttpServer): Promise<HttpAgent> {
  const c = await httpAgent(replica.url, aliceKey);
  clients.push(c);
  return c;
}

/** One of the plan's transfers, as a step call naming the plan. */
async function step(c: HttpAgent, planId: string, params: Record<string, unknown>): Promise<Outcome> {
  const r = (await c.client.callTool({ name: 'payments_transfer', arguments: params, _meta: { 'mandate/plan': planId } })) as CallToolResult;
  return r.structuredContent as unknown as Outcome;
}

describe.skipIf(need.skip)(need.title('a plan across replicas on one PostgreSQL store'), () => {
  it('approved and started on replica A, finished on replica B after A is killed with SIGKILL: each step once, the report exact, calls outside the plan refused on both', async () => {
    const steps = [transfer({ amount_minor: 12_000, memo: 'inv-1' }), transfer({ amount_minor: 1_500, memo: 'inv-2' }), transfer({ amount_minor: 2_500, memo: 'inv-3' })];
    const onA = await connect(a);
    // Step 1 is above 100.00: the plan escalates once, as a whole.
    const submitted = await onA.call('submit_plan', { purpose: 'three March invoices', steps: steps.map((params) => ({ capability: 'payments.transfer', params })) });
    expect(submitted.outcome, JSON.stringify(submitted.outcome)).toMatchObject({ verdict: 'escalated', capability: 'plan.submit' });
    const planId = (submitted.outcome.output as { plan_id: string }).plan_id;
    const approved = await api(a.url, opKey, `/api/v1/approvals/${submitted.outcome.decision_id}/approve`, { json: { reason: 'invoices checked' } });
    expect(approved.status, JSON.stringify(approved.body)).toBe(200);

    const first = await step(onA, planId, steps[0] as Record<string, unknown>);
    expect(first, JSON.stringify(first)).toMatchObject({ verdict: 'accepted' });
    const outsideOnA = await onA.call('payments_transfer', transfer({ amount_minor: 100, memo: 'outside-a' }));
    expect(outsideOnA.outcome.reasons).toEqual(['PLAN_CALL_OUTSIDE_PLAN']);

    const pid = a.proc.pid as number;
    a.proc.kill('SIGKILL');
    await waitFor(() => !processAlive(pid), 5_000, 'replica A to die');

    const onB = await connect(b);
    const outsideOnB = await onB.call('payments_transfer', transfer({ amount_minor: 100, memo: 'outside-b' }));
    expect(outsideOnB.outcome.reasons).toEqual(['PLAN_CALL_OUTSIDE_PLAN']);
    // The new client does not know whether step 1 ran: its retry is answered from A's record, not run again.
    const retried = await step(onB, planId, steps[0] as Record<string, unknown>);
    expect(retried, JSON.stringify(retried)).toMatchObject({ verdict: 'accepted', replay_of: first.decision_id });
    const second = await step(onB, planId, steps[1] as Record<string, unknown>);
    expect(second, JSON.stringify(second)).toMatchObject({ verdict: 'accepted' });
    const third = await step(onB, planId, steps[2] as Record<string, unknown>);
    expect(third, JSON.stringify(third)).toMatchObject({ verdict: 'accepted' });

    const shown = await api(b.url, opKey, `/api/v1/plans/${planId}`);
    expect(shown.status).toBe(200);
    const report = shown.body['report'] as { status: string; missed: number[]; planned: { status: string; decision_id: string }[]; executed: { step: number; decision_id: string; status: string }[]; unplanned: { decision_id: string; code: string }[]; totals: Record<string, Record<string, number>> };
    expect(report).toMatchObject({ status: 'completed', failed_step: null, missed: [], totals: { 'payments.transfer': { calls: 3 } } });
    const ran = [first, second, third].map((o) => o.decision_id);
    expect(report.planned.map((p) => [p.status, p.decision_id])).toEqual(ran.map((id) => ['done', id]));
    expect(report.executed.map((e) => [e.step, e.decision_id, e.status])).toEqual(ran.map((id, i) => [i, id, 'accepted']));
    expect(report.unplanned.map((u) => [u.decision_id, u.code])).toEqual([
      [outsideOnA.outcome.decision_id, 'PLAN_CALL_OUTSIDE_PLAN'],
      [outsideOnB.outcome.decision_id, 'PLAN_CALL_OUTSIDE_PLAN'],
    ]);

    // The book: each step's transfer once, in order, and nothing from the refused calls or the retry.
    expect(readBooks(ws).transfers.map((t) => [t.decision_id, t.amount_minor])).toEqual(ran.map((id, i) => [id, steps[i]?.['amount_minor']]));

    // The plan's sub-mandate ended with it, on B too: alice's ordinary grants govern her calls again.
    expect((await onB.call('payments_transfer', transfer({ amount_minor: 100, memo: 'after' }))).outcome.verdict).toBe('accepted');
    await b.stop();
    const verify = await runCli(['ledger', 'verify', '-w', ws], { env });
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
  }, 120_000);
});
