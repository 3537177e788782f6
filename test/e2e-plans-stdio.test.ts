/**
 * Plans over real stdio (ADR-025), on the template workspace with a real
 * SQLite file: a three-invoice plan is approved once and its three steps run
 * while a fourth, unplanned transfer is refused; a plan whose steps each fit
 * the daily budget but together do not is rejected before anything runs; a
 * step whose facts drift is refused with STATE_DRIFT and stops the plan; a
 * kill -9 between steps loses nothing and doubles nothing.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { balance, E2E, exportLedger, readBooks, runCli, transfer, waitFor, type AgentClient } from './helpers/e2e.js';
import { processAlive } from '../src/kernel/recovery.js';

const e2e = new E2E();
afterAll(() => e2e.cleanup());

const PLAN = 'mandate/plan';

interface Report {
  plan_id: string;
  status: string;
  failed_step: number | null;
  planned: { step: number; capability: string; status: string; decision_id: string | null }[];
  executed: { step: number; decision_id: string; status: string; reasons: string[] }[];
  unplanned: { decision_id: string; capability: string | null; code: string }[];
  missed: number[];
  totals: Record<string, Record<string, number>>;
  budgets: { capability: string; window: string; field: string; used: number; max: number }[];
}

const invoice = (amount: number, memo: string) => ({ capability: 'payments.transfer', params: transfer({ amount_minor: amount, memo }) });

async function show(ws: string, id: string): Promise<Report> {
  const r = await runCli(['plans', 'show', id, '-w', ws]);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as Report;
}

describe('plans over stdio', () => {
  let ws: string;
  let alice: AgentClient;

  beforeAll(async () => {
    ws = await e2e.workspace();
    alice = await e2e.client(ws, 'alice');
  });

  it('a three-invoice plan is approved once; all three run, a fourth unplanned transfer is refused, and the report is exact', async () => {
    const before = balance(ws);
    const submitted = await alice.call('submit_plan', {
      purpose: 'pay the three March invoices',
      steps: [invoice(12_000, 'inv-1'), invoice(8_000, 'inv-2'), invoice(15_000, 'inv-3')],
      budgets: [{ capability: 'payments.transfer', window: '1d', sum: 'amount_minor', max: 40_000 }],
      expires_in_minutes: 30,
    });
    // Two steps need a human: the plan escalates once, naming both.
    expect(submitted.outcome).toMatchObject({ verdict: 'escalated', status: 'pending', capability: 'plan.submit' });
    expect(submitted.outcome.details.map((d) => d.message)).toEqual([expect.stringMatching(/^step 1 \(payments.transfer\)/), expect.stringMatching(/^step 3 \(payments.transfer\)/)]);
    const planId = (submitted.outcome.output as { plan_id: string }).plan_id;
    const pending = await runCli(['approvals', 'list', '--json', '-w', ws]);
    expect((JSON.parse(pending.stdout) as { decision_id: string }[]).map((d) => d.decision_id)).toEqual([submitted.outcome.decision_id]);
    const shown = JSON.parse((await runCli(['approvals', 'show', submitted.outcome.decision_id, '-w', ws])).stdout) as { params: { steps: unknown[]; totals: Record<string, Record<string, number>> } };
    expect(shown.params.steps).toHaveLength(3);
    expect(shown.params.totals).toEqual({ 'payments.transfer': { calls: 3, amount_minor: 35_000 } });

    // Before the approval, no step runs.
    const early = await alice.call('payments_transfer', transfer({ amount_minor: 12_000, memo: 'inv-1' }), { [PLAN]: planId });
    expect(early.outcome.reasons).toEqual(['PLAN_NOT_RUNNING']);

    const approved = await runCli(['approvals', 'approve', submitted.outcome.decision_id, '--as', 'ops-anna', '-w', ws]);
    expect(approved.code, approved.stdout + approved.stderr).toBe(0);
    expect(JSON.parse(approved.stdout)).toMatchObject({ verdict: 'accepted', status: 'approved', output: { plan_id: planId, status: 'running' } });
    // The approval is single-use.
    expect((await runCli(['approvals', 'approve', submitted.outcome.decision_id, '--as', 'ops-anna', '-w', ws])).code).toBe(1);

    const step1 = await alice.call('payments_transfer', transfer({ amount_minor: 12_000, memo: 'inv-1' }), { [PLAN]: planId });
    expect(step1.outcome, JSON.stringify(step1.outcome)).toMatchObject({ verdict: 'accepted', status: 'accepted' });
    // Out of order: step 3 before step 2 is no step that may run now.
    const outOfOrder = await alice.call('payments_transfer', transfer({ amount_minor: 15_000, memo: 'inv-3' }), { [PLAN]: planId });
    expect(outOfOrder.outcome.reasons).toEqual(['PLAN_STEP_MISMATCH']);
    const step2 = await alice.call('invoke_capability', { capability: 'payments.transfer', params: transfer({ amount_minor: 8_000, memo: 'inv-2' }) }, { [PLAN]: planId });
    expect(step2.outcome).toMatchObject({ verdict: 'accepted' });
    // A fourth transfer, not in the plan: refused while the plan runs, with or without the plan's id.
    const unnamed = await alice.call('payments_transfer', transfer({ amount_minor: 500, memo: 'extra' }));
    expect(unnamed.outcome.reasons).toEqual(['PLAN_CALL_OUTSIDE_PLAN']);
    const named = await alice.call('payments_transfer', transfer({ amount_minor: 500, memo: 'extra' }), { [PLAN]: planId });
    expect(named.outcome.reasons).toEqual(['PLAN_STEP_MISMATCH']);
    const step3 = await alice.call('payments_transfer', transfer({ amount_minor: 15_000, memo: 'inv-3' }), { [PLAN]: planId });
    expect(step3.outcome).toMatchObject({ verdict: 'accepted' });
    // Done: a step call now finds the plan completed, and calls outside it are alice's own again.
    const after = await alice.call('payments_transfer', transfer({ amount_minor: 15_000, memo: 'inv-3' }), { [PLAN]: planId, idempotency_key: 'another-one' });
    expect(after.outcome.reasons).toEqual(['PLAN_NOT_RUNNING']);
    expect(balance(ws)).toBe(before - 35_000);

    const report = await show(ws, planId);
    expect(report).toMatchObject({ plan_id: planId, status: 'completed', failed_step: null, missed: [] });
    expect(report.planned.map((p) => p.status)).toEqual(['done', 'done', 'done']);
    expect(report.executed.map((e) => [e.step, e.decision_id, e.status])).toEqual([
      [0, step1.outcome.decision_id, 'accepted'],
      [1, step2.outcome.decision_id, 'accepted'],
      [2, step3.outcome.decision_id, 'accepted'],
    ]);
    expect(report.unplanned.map((u) => [u.decision_id, u.code])).toEqual([
      [outOfOrder.outcome.decision_id, 'PLAN_STEP_MISMATCH'],
      [unnamed.outcome.decision_id, 'PLAN_CALL_OUTSIDE_PLAN'],
      [named.outcome.decision_id, 'PLAN_STEP_MISMATCH'],
    ]);
    expect(report.totals).toEqual({ 'payments.transfer': { calls: 3, amount_minor: 35_000 } });
    expect(report.budgets).toEqual([{ capability: 'payments.transfer', window: '1d', field: 'amount_minor', used: 35_000, max: 40_000 }]);
    // get_decision on the plan's decision carries the same report.
    const viaTool = await alice.call('get_decision', { decision_id: submitted.outcome.decision_id });
    expect((viaTool.outcome.output as { report: Report }).report).toEqual(report);
    // A step's decision is alice's own to read.
    expect((await alice.call('get_decision', { decision_id: step2.outcome.decision_id })).outcome).toMatchObject({ verdict: 'accepted' });
    // On the ledger: one PlanDecided, its approval's outcome, the sub-mandate, each state change, each unplanned call.
    const { events } = await exportLedger(ws);
    const mine = events.filter((e) => (e.data as { plan_id?: string }).plan_id === planId);
    expect(mine.map((e) => e.type)).toEqual(['PlanDecided', 'Delegated', 'PlanStateChanged', 'ActionOutcome', 'PlanUnplannedCall', 'PlanUnplannedCall', 'PlanUnplannedCall', 'PlanStateChanged']);
    expect(readBooks(ws).transfers.filter((t) => t.amount_minor === 500)).toEqual([]);
  });

  it('a plan whose steps each fit the daily budget but together do not is rejected before anything runs', async () => {
    const fresh = await e2e.workspace();
    const bob = await e2e.client(fresh, 'alice');
    const before = readBooks(fresh).transfers.length;
    // alice's contract: 2,000.00 a day, at most 500.00 a transfer: five transfers of 450.00 each fit one by one, not together.
    const r = await bob.call('submit_plan', { purpose: 'too much at once', steps: Array.from({ length: 5 }, (_, i) => invoice(45_000, `big-${i}`)) });
    expect(r.outcome).toMatchObject({ verdict: 'rejected', status: 'rejected' });
    expect(r.outcome.reasons).toEqual(['PLAN_STEP_REJECTED', 'BUDGET_EXCEEDED']);
    expect(r.outcome.details[0]).toMatchObject({ code: 'PLAN_STEP_REJECTED', path: 'steps.4' });
    expect(r.outcome.details.slice(1).map((d) => d.path)).toEqual(['steps.4.budgets.1d.amount_minor']);
    expect(readBooks(fresh).transfers.length).toBe(before);
    // Nothing runs, and no plan mode: alice's own small transfer goes through.
    expect((await bob.call('payments_transfer', transfer({ amount_minor: 100 }))).outcome.verdict).toBe('accepted');
  });

  it("a step whose facts drift between the plan's decision and its execution is refused with STATE_DRIFT and the plan stops there", async () => {
    const fresh = await e2e.workspace();
    const carol = await e2e.client(fresh, 'alice');
    const submitted = await carol.call('submit_plan', { purpose: 'two invoices', steps: [invoice(1_000, 'a'), invoice(2_000, 'b'), invoice(3_000, 'c')] });
    expect(submitted.outcome, JSON.stringify(submitted.outcome)).toMatchObject({ verdict: 'accepted' });
    const planId = (submitted.outcome.output as { plan_id: string }).plan_id;
    expect((await carol.call('payments_transfer', transfer({ amount_minor: 1_000, memo: 'a' }), { [PLAN]: planId })).outcome.verdict).toBe('accepted');
    // The book's currency for the account changes under the plan: a fact judged exact.
    const path = join(fresh, 'data', 'books.json');
    const book = JSON.parse(readFileSync(path, 'utf8')) as { accounts: Record<string, { currency: string }> };
    (book.accounts['operating'] as { currency: string }).currency = 'USD';
    writeFileSync(path, JSON.stringify(book));
    const drifted = await carol.call('payments_transfer', transfer({ amount_minor: 2_000, memo: 'b' }), { [PLAN]: planId });
    expect(drifted.outcome).toMatchObject({ verdict: 'rejected', reasons: ['STATE_DRIFT'] });
    expect(drifted.outcome.details.map((d) => d.path)).toEqual(['facts.account_currency']);
    const report = await show(fresh, planId);
    expect(report).toMatchObject({ status: 'failed', failed_step: 1, missed: [1] });
    expect(report.planned.map((p) => p.status)).toEqual(['done', 'failed', 'pending']);
    const third = await carol.call('payments_transfer', transfer({ amount_minor: 3_000, memo: 'c' }), { [PLAN]: planId });
    expect(third.outcome.reasons).toEqual(['PLAN_NOT_RUNNING']);
    expect(third.outcome.details[0]?.message).toMatch(/failed at step 2/);
    // An operator resumes it: the steps after the one it stopped at may run; that one stays missed.
    expect((await runCli(['plans', 'resume', 'nope', '-w', fresh])).code).toBe(1);
    const resumed = await runCli(['plans', 'resume', planId, '--as', 'ops-anna', '-w', fresh]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(JSON.parse(resumed.stdout)).toMatchObject({ status: 'running', failed_step: 1 });
    const again = await carol.call('payments_transfer', transfer({ amount_minor: 3_000, memo: 'c' }), { [PLAN]: planId, idempotency_key: 'step-three-after-resume' });
    // The book's currency moved for step 3 too: its own facts were decided on EUR, so it is refused in turn.
    expect(again.outcome.reasons).toEqual(['STATE_DRIFT']);
    expect((await runCli(['plans', 'abandon', planId, '--reason', 'books changed', '-w', fresh])).code).toBe(0);
    const ended = await show(fresh, planId);
    expect(ended).toMatchObject({ status: 'abandoned', missed: [1, 2] });
    // Abandoned: alice is out of plan mode and her own calls are governed by her contract again.
    expect((await runCli(['plans', 'resume', planId, '-w', fresh])).stderr).toMatch(/PLAN_RESUME_INVALID_STATE/);
  });

  it('kill -9 between steps: after a restart the plan is at the right step, a retried step is answered from its record, and the rest runs once', async () => {
    const fresh = await e2e.workspace();
    let dave = await e2e.client(fresh, 'alice');
    const submitted = await dave.call('submit_plan', { purpose: 'three small ones', steps: [invoice(1_100, 'x'), invoice(1_200, 'y'), invoice(1_300, 'z')] });
    const planId = (submitted.outcome.output as { plan_id: string }).plan_id;
    const first = await dave.call('payments_transfer', transfer({ amount_minor: 1_100, memo: 'x' }), { [PLAN]: planId });
    const second = await dave.call('payments_transfer', transfer({ amount_minor: 1_200, memo: 'y' }), { [PLAN]: planId });
    expect([first.outcome.verdict, second.outcome.verdict]).toEqual(['accepted', 'accepted']);
    process.kill(dave.pid, 'SIGKILL');
    await waitFor(() => !processAlive(dave.pid), 5_000, 'the server to die');
    expect((await show(fresh, planId)).planned.map((p) => p.status)).toEqual(['done', 'done', 'pending']);

    dave = await e2e.client(fresh, 'alice');
    const retried = await dave.call('payments_transfer', transfer({ amount_minor: 1_200, memo: 'y' }), { [PLAN]: planId });
    expect(retried.outcome).toMatchObject({ verdict: 'accepted', replay_of: second.outcome.decision_id });
    expect(retried.outcome.reasons).toContain('IDEMPOTENT_REPLAY');
    const third = await dave.call('payments_transfer', transfer({ amount_minor: 1_300, memo: 'z' }), { [PLAN]: planId });
    expect(third.outcome.verdict).toBe('accepted');
    const memos = readBooks(fresh).transfers.map((t) => t.amount_minor);
    expect(memos.filter((a) => a === 1_100 || a === 1_200 || a === 1_300)).toEqual([1_100, 1_200, 1_300]);
    expect((await show(fresh, planId)).status).toBe('completed');
  });
});
