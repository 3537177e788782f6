/**
 * A plan survives replica failover (ADR-025): two `mandate serve --http`
 * replicas on one fresh PostgreSQL database. A three-step plan is submitted
 * by alice over replica A's /mcp, escalates once, and is approved through
 * A's operator API; step 1 runs on A, and a call outside the plan is refused
 * there. Replica A is then killed with SIGKILL. A new client on replica B is
 * refused outside the plan just as on A, its retry of step 1 is answered from
 * the record, steps 2 and 3 run, and B's report shows all three executed and
 * both refusals. The payments book holds each step's transfer exactly once.
 * Then B is killed in the middle of another plan's step 2 (its handler still
 * waiting, before its effect): a new replica C finds the step's outcome
 * unknown, holds step 3 back and answers step 2's retry from the record; an
 * operator settles it through C, and the plan completes with each effect
 * once. The ledger verifies after both kills.
 */
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processAlive } from '../src/kernel/recovery.js';
import { CALL_TIMEOUT_MS, E2E, readBooks, runCli, transfer, waitFor, type Outcome } from './helpers/e2e.js';
import { effects, fleetWorkspace } from './helpers/fleet.js';
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
const replicas: HttpServer[] = [];
let opKey: string;
const agentKeys = new Map<string, string>();
const clients: HttpAgent[] = [];

interface Report {
  status: string;
  missed: number[];
  planned: { status: string; decision_id: string | null }[];
  executed: { step: number; decision_id: string; status: string }[];
  unplanned: { decision_id: string; code: string }[];
}

beforeAll(async () => {
  db = await freshDatabase('plans_replicas');
  env = { MANDATE_DATABASE_URL: db.url };
  ws = await e2e.workspace();
  // The template's workspace (alice, payments) with its store on PostgreSQL, and f1 granted the fleet fixture.
  fleetWorkspace(ws, ['f1']);
  // The first command migrates the new database.
  opKey = (await createKey(ws, { operator: 'olga' }, env)).key;
  for (const agent of ['alice', 'f1']) agentKeys.set(agent, (await createKey(ws, { agent }, env)).key);
  [a, b] = await Promise.all([startHttp(ws, { env }), startHttp(ws, { env })]);
  replicas.push(a, b);
}, 120_000);

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  await Promise.all(replicas.map((r) => r.stop()));
  await e2e.cleanup();
  await db?.drop();
});

async function connect(replica: HttpServer, agent = 'alice'): Promise<HttpAgent> {
  const c = await httpAgent(replica.url, agentKeys.get(agent) as string);
  clients.push(c);
  return c;
}

/** A tool call, naming the plan when one is given (a step call). */
async function callIn(c: HttpAgent, planId: string | null, name: string, args: Record<string, unknown>): Promise<Outcome> {
  const r = (await c.client.callTool({ name, arguments: args, ...(planId ? { _meta: { 'mandate/plan': planId } } : {}) }, undefined, { timeout: CALL_TIMEOUT_MS })) as CallToolResult;
  return r.structuredContent as unknown as Outcome;
}

const step = (c: HttpAgent, planId: string, params: Record<string, unknown>) => callIn(c, planId, 'payments_transfer', params);

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
    const report = shown.body['report'] as Report;
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
  }, 120_000);

  it('replica B killed with SIGKILL in the middle of a step: a new replica finds the step unknown, holds the next one back, and after an operator settles it runs each effect once', async () => {
    const work = (tag: string, ms = 0) => ({ tag, n: 1, ...(ms ? { ms } : {}) });
    const call = (c: HttpAgent, params: Record<string, unknown>, planId: string | null = null) => callIn(c, planId, 'invoke_capability', { capability: 'fleet.work', params });
    const onB = await connect(b, 'f1');
    const submitted = await onB.call('submit_plan', {
      purpose: 'three tags',
      steps: [
        { capability: 'fleet.work', params: work('f1-s1') },
        // How long the handler waits is the call's to choose, up to 15 s.
        { capability: 'fleet.work', params: work('f1-s2'), bounds: { ms: { max: 15_000 } } },
        { capability: 'fleet.work', params: work('f1-s3') },
      ],
    });
    expect(submitted.outcome, JSON.stringify(submitted.outcome)).toMatchObject({ verdict: 'accepted', output: { status: 'running' } });
    const planId = (submitted.outcome.output as { plan_id: string }).plan_id;
    expect((await call(onB, work('f1-s1'), planId)).verdict).toBe('accepted');
    // Step 2 waits 15 s in its handler before its effect: B dies while it waits.
    // Its answer never comes (the client gives up after its timeout); afterAll closes the client.
    void call(onB, work('f1-s2', 15_000), planId).catch(() => undefined);
    const running = async () => ((await api(b.url, opKey, `/api/v1/plans/${planId}`)).body['report'] as Report).planned[1]?.status === 'running';
    for (let i = 0; i < 50 && !(await running()); i++) await new Promise((r) => setTimeout(r, 100));
    expect(await running()).toBe(true);
    const pid = b.proc.pid as number;
    b.proc.kill('SIGKILL');
    await waitFor(() => !processAlive(pid), 5_000, 'replica B to die');

    const c = await startHttp(ws, { env });
    replicas.push(c);
    const onC = await connect(c, 'f1');
    // C's housekeeping finds B's started effect with B gone; fleet.work cannot tell whether it happened.
    let report: Report | undefined;
    for (let i = 0; i < 50; i++) {
      report = (await api(c.url, opKey, `/api/v1/plans/${planId}`)).body['report'] as Report;
      if (report.executed.find((e) => e.step === 1)?.status === 'outcome_unknown') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(report).toMatchObject({ status: 'running', missed: [] });
    expect(report?.planned.map((p) => p.status)).toEqual(['done', 'running', 'pending']);
    expect(report?.executed.find((e) => e.step === 1)?.status).toBe('outcome_unknown');
    const step2 = report?.planned[1]?.decision_id as string;
    expect((await call(onC, work('f1-s3'), planId)).reasons).toEqual(['PLAN_STEP_WAITING']);
    expect(await call(onC, work('f1-s2', 15_000), planId)).toMatchObject({ reasons: ['OUTCOME_UNKNOWN'], replay_of: step2 });
    expect((await call(onC, work('f1-outside'))).reasons).toEqual(['PLAN_CALL_OUTSIDE_PLAN']);

    // The effects file has no f1-s2: the operator settles the step as not applied, through C, and it runs again.
    expect(effects(ws).filter((t) => t.startsWith('f1-'))).toEqual(['f1-s1']);
    const settled = await api(c.url, opKey, `/api/v1/decisions/${step2}/settle`, { json: { applied: false, reason: 'no f1-s2 in effects.log' } });
    expect(settled.status, JSON.stringify(settled.body)).toBe(200);
    const rerun = await call(onC, work('f1-s2', 10), planId);
    expect(rerun, JSON.stringify(rerun)).toMatchObject({ verdict: 'accepted' });
    expect(rerun.replay_of).toBeUndefined();
    expect((await call(onC, work('f1-s3'), planId)).verdict).toBe('accepted');
    report = (await api(c.url, opKey, `/api/v1/plans/${planId}`)).body['report'] as Report;
    expect(report).toMatchObject({ status: 'completed', missed: [] });
    expect(report.planned.map((p) => [p.status, p.decision_id])).toEqual([['done', expect.any(String)], ['done', rerun.decision_id], ['done', expect.any(String)]]);
    expect(report.unplanned.map((u) => u.code)).toEqual(['PLAN_CALL_OUTSIDE_PLAN']);
    expect(effects(ws).filter((t) => t.startsWith('f1-'))).toEqual(['f1-s1', 'f1-s2', 'f1-s3']);

    // Both kills left one chain, whole.
    await Promise.all(replicas.map((r) => r.stop()));
    const verify = await runCli(['ledger', 'verify', '-w', ws], { env });
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
  }, 120_000);
});
