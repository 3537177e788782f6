/**
 * A plan as a task of the `io.modelcontextprotocol/tasks` extension on MCP
 * 2026-07-28 (ADR-025), with a real SDK v2 client over real HTTP: a
 * submit_plan from a request that declared the extension is answered as a
 * task, `working` while the plan runs, its status message saying how many
 * steps are done; tasks/get returns the plan's report once the plan has
 * completed. A request that did not declare the extension gets the plain
 * answer, as before.
 */
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { E2E, transfer } from './helpers/e2e.js';
import { createKey, startHttp, type HttpServer } from './helpers/http.js';
import { taskClient, type TaskClient } from './helpers/tasks2026.js';

const e2e = new E2E();
const open: TaskClient[] = [];
let s: HttpServer;
let aliceKey: string;

beforeAll(async () => {
  const ws = await e2e.workspace();
  aliceKey = (await createKey(ws, { agent: 'alice' })).key;
  s = await startHttp(ws);
});

afterAll(async () => {
  await Promise.all(open.map((c) => c.close().catch(() => undefined)));
  await s?.stop();
  await e2e.cleanup();
});

const client = async (tasks: boolean) => {
  const c = await taskClient(new StreamableHTTPClientTransport(new URL('/mcp', s.url), { requestInit: { headers: { Authorization: `Bearer ${aliceKey}` } } }), { tasks });
  open.push(c);
  return c;
};
const invoice = (amount: number, memo: string) => ({ capability: 'payments.transfer', params: transfer({ amount_minor: amount, memo }) });

describe('a plan as a task on 2026-07-28', () => {
  it('submit_plan answers with a task that reports step k of N while the plan runs, and the plan report once it completes', async () => {
    const c = await client(true);
    const submitted = await c.call('submit_plan', { purpose: 'three invoices', steps: [invoice(1_100, 't-1'), invoice(1_200, 't-2'), invoice(1_300, 't-3')] });
    expect(submitted.result).toBeUndefined();
    expect(submitted.task).toMatchObject({ status: 'working', statusMessage: expect.stringMatching(/: 0 of 3 steps done$/) });
    const taskId = submitted.task?.taskId as string;
    const planId = /^plan (\S+):/.exec(submitted.task?.statusMessage ?? '')?.[1] as string;
    expect(planId).toBeTruthy();

    const step = async (amount: number, memo: string) =>
      (await c.client.callTool({ name: 'payments_transfer', arguments: transfer({ amount_minor: amount, memo }), _meta: { 'mandate/plan': planId } })) as { structuredContent?: { verdict?: string } };
    expect((await step(1_100, 't-1')).structuredContent?.verdict).toBe('accepted');
    expect(await c.get(taskId)).toMatchObject({ status: 'working', statusMessage: `plan ${planId}: 1 of 3 steps done` });
    expect((await step(1_200, 't-2')).structuredContent?.verdict).toBe('accepted');
    expect((await c.get(taskId)).statusMessage).toBe(`plan ${planId}: 2 of 3 steps done`);
    expect((await step(1_300, 't-3')).structuredContent?.verdict).toBe('accepted');

    const done = await c.until(taskId, (t) => t.status !== 'working');
    expect(done.status).toBe('completed');
    const outcome = done.result?.structuredContent as { verdict: string; output: { plan_id: string; status: string; report: { status: string; planned: { status: string }[]; missed: number[]; totals: unknown } } };
    expect(outcome).toMatchObject({ verdict: 'accepted', output: { plan_id: planId, status: 'completed', report: { status: 'completed', missed: [] } } });
    expect(outcome.output.report.planned.map((p) => p.status)).toEqual(['done', 'done', 'done']);
    // The report's totals count the fields the plan's budgets sum; this plan has none.
    expect(outcome.output.report.totals).toEqual({ 'payments.transfer': { calls: 3 } });
  });

  it('a request that did not declare the extension gets the plain answer; a refused plan is never a task', async () => {
    const plain = await client(false);
    const r = await plain.call('submit_plan', { purpose: 'one invoice', steps: [invoice(900, 'p-1')] });
    expect(r.task).toBeUndefined();
    expect(r.result?.structuredContent).toMatchObject({ verdict: 'accepted', output: { status: 'running' } });
    const c = await client(true);
    const refused = await c.call('submit_plan', { purpose: 'too big', steps: [invoice(60_000, 'p-2')] });
    expect(refused.task).toBeUndefined();
    expect(refused.result?.structuredContent).toMatchObject({ verdict: 'rejected', reasons: ['PLAN_STEP_REJECTED', 'CONTRACT_LIMIT_EXCEEDED'] });
  });
});
