/**
 * Resuming a failed plan with its remaining steps changed (ADR-025), over
 * real stdio and the built CLI, on a real SQLite file: the change is decided
 * again on what the plan has already done, waits for a fresh single-use
 * approval bound to its new digest, and only then runs; a change that no
 * longer passes is refused and leaves the plan as it was; abandoning a
 * changed plan closes its pending approval.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { E2E, readBooks, runCli, transfer, type AgentClient } from './helpers/e2e.js';

const e2e = new E2E();
afterAll(() => e2e.cleanup());

const PLAN = 'mandate/plan';

interface Report {
  status: string;
  failed_step: number | null;
  digest: string;
  planned: { step: number; status: string }[];
  missed: number[];
  totals: Record<string, Record<string, number>>;
}

const invoice = (amount: number, memo: string) => ({ capability: 'payments.transfer', params: transfer({ amount_minor: amount, memo }) });

async function show(ws: string, id: string): Promise<Report> {
  const r = await runCli(['plans', 'show', id, '-w', ws]);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as Report;
}

/** A running plan of three transfers whose second step is refused (the book's currency moved), so it fails at step 2; the currency is then put back. */
async function failedAtStep2(ws: string, agent: AgentClient, memo: string): Promise<string> {
  const submitted = await agent.call('submit_plan', { purpose: 'three invoices', steps: [invoice(1_000, `${memo}-a`), invoice(2_000, `${memo}-b`), invoice(3_000, `${memo}-c`)], budgets: [{ capability: 'payments.transfer', window: '1d', sum: 'amount_minor', max: 9_000 }] });
  expect(submitted.outcome, JSON.stringify(submitted.outcome)).toMatchObject({ verdict: 'accepted' });
  const planId = (submitted.outcome.output as { plan_id: string }).plan_id;
  expect((await agent.call('payments_transfer', transfer({ amount_minor: 1_000, memo: `${memo}-a` }), { [PLAN]: planId })).outcome.verdict).toBe('accepted');
  const path = join(ws, 'data', 'books.json');
  const book = JSON.parse(readFileSync(path, 'utf8')) as { accounts: Record<string, { currency: string }> };
  (book.accounts['operating'] as { currency: string }).currency = 'USD';
  writeFileSync(path, JSON.stringify(book));
  expect((await agent.call('payments_transfer', transfer({ amount_minor: 2_000, memo: `${memo}-b` }), { [PLAN]: planId })).outcome.reasons).toEqual(['STATE_DRIFT']);
  (book.accounts['operating'] as { currency: string }).currency = 'EUR';
  writeFileSync(path, JSON.stringify(book));
  expect(await show(ws, planId)).toMatchObject({ status: 'failed', failed_step: 1 });
  return planId;
}

describe('a failed plan resumed with changed steps', () => {
  it('the change is decided again, waits for a fresh single-use approval bound to its digest, and only then runs', async () => {
    const ws = await e2e.workspace();
    const alice = await e2e.client(ws, 'alice');
    const planId = await failedAtStep2(ws, alice, 'p1');
    const before = await show(ws, planId);

    // The operator replaces step 3 with two smaller transfers.
    const file = join(ws, 'changed-steps.json');
    writeFileSync(file, JSON.stringify([invoice(2_500, 'p1-b2'), invoice(3_000, 'p1-c')]));
    const changed = await runCli(['plans', 'resume', planId, '--steps', file, '--as', 'ops-anna', '-w', ws]);
    expect(changed.code, changed.stdout + changed.stderr).toBe(0);
    const escalation = JSON.parse(changed.stdout) as { verdict: string; status: string; decision_id: string; reasons: string[]; details: { message: string }[]; output: { digest: string; steps: number; status: string; totals: Record<string, Record<string, number>> } };
    expect(escalation).toMatchObject({ verdict: 'escalated', status: 'pending', reasons: ['ESCALATION_REQUIRED'], output: { steps: 4, status: 'pending_approval' } });
    expect(escalation.details[0]?.message).toMatch(/operator:ops-anna changed steps 3–4/);
    // The totals the approver sees are the whole plan's: the step that ran and the two new ones.
    expect(escalation.output.totals).toEqual({ 'payments.transfer': { calls: 3, amount_minor: 6_500 } });
    expect(escalation.output.digest).not.toBe(before.digest);

    const waiting = await show(ws, planId);
    expect(waiting).toMatchObject({ status: 'pending_approval', failed_step: 1, digest: escalation.output.digest });
    expect(waiting.planned.map((p) => p.status)).toEqual(['done', 'failed', 'pending', 'pending']);
    // Nothing runs before the approval: neither a new step nor the old step 3.
    expect((await alice.call('payments_transfer', transfer({ amount_minor: 2_500, memo: 'p1-b2' }), { [PLAN]: planId })).outcome.reasons).toEqual(['PLAN_NOT_RUNNING']);
    const list = JSON.parse((await runCli(['approvals', 'list', '--json', '-w', ws])).stdout) as { decision_id: string }[];
    expect(list.map((d) => d.decision_id)).toEqual([escalation.decision_id]);
    const shown = JSON.parse((await runCli(['approvals', 'show', escalation.decision_id, '-w', ws])).stdout) as { params: { steps: unknown[]; changed_from: number; digest: string } };
    expect(shown.params).toMatchObject({ changed_from: 2, digest: escalation.output.digest });
    expect(shown.params.steps).toHaveLength(4);

    const approved = await runCli(['approvals', 'approve', escalation.decision_id, '--as', 'ops-bob', '-w', ws]);
    expect(approved.code, approved.stdout + approved.stderr).toBe(0);
    expect(JSON.parse(approved.stdout)).toMatchObject({ verdict: 'accepted', status: 'approved', output: { plan_id: planId, status: 'running' } });
    expect((await runCli(['approvals', 'approve', escalation.decision_id, '--as', 'ops-bob', '-w', ws])).code).toBe(1);

    // The old step 3 is no longer a step; the changed ones run, in order.
    const old = await alice.call('payments_transfer', transfer({ amount_minor: 3_000, memo: 'p1-c' }), { [PLAN]: planId });
    expect(old.outcome.reasons).toEqual(['PLAN_STEP_MISMATCH']);
    expect((await alice.call('payments_transfer', transfer({ amount_minor: 2_500, memo: 'p1-b2' }), { [PLAN]: planId })).outcome.verdict).toBe('accepted');
    expect((await alice.call('payments_transfer', transfer({ amount_minor: 3_000, memo: 'p1-c' }), { [PLAN]: planId, idempotency_key: 'changed-step-4' })).outcome.verdict).toBe('accepted');
    const done = await show(ws, planId);
    expect(done).toMatchObject({ status: 'completed', failed_step: 1, missed: [1] });
    expect(done.planned.map((p) => p.status)).toEqual(['done', 'failed', 'done', 'done']);
    expect(done.totals).toEqual({ 'payments.transfer': { calls: 3, amount_minor: 6_500 } });
    // The book: the first step, and the two changed ones; nothing of the refused step 2 or the replaced step 3's first form.
    expect(readBooks(ws).transfers.map((t) => t.amount_minor).filter((a) => [1_000, 2_000, 2_500, 3_000].includes(a))).toEqual([1_000, 2_500, 3_000]);
  });

  it('a change that no longer passes as a whole is refused and leaves the plan failed; a pending change is closed when the plan is abandoned', async () => {
    const ws = await e2e.workspace();
    const alice = await e2e.client(ws, 'alice');
    const planId = await failedAtStep2(ws, alice, 'p2');
    const file = join(ws, 'too-much.json');
    // The plan's own budget is 90.00: 10.00 ran, and 50.00 + 45.00 more would exceed it.
    writeFileSync(file, JSON.stringify([invoice(5_000, 'p2-x'), invoice(4_500, 'p2-y')]));
    const refused = await runCli(['plans', 'resume', planId, '--steps', file, '--as', 'ops-anna', '-w', ws]);
    expect(refused.code).toBe(1);
    const outcome = JSON.parse(refused.stdout) as { verdict: string; reasons: string[]; details: { path?: string }[] };
    expect(outcome).toMatchObject({ verdict: 'rejected', reasons: ['PLAN_STEP_REJECTED', 'BUDGET_EXCEEDED'] });
    expect(outcome.details.map((d) => d.path)).toContain('budgets.0');
    const unchanged = await show(ws, planId);
    expect(unchanged).toMatchObject({ status: 'failed', failed_step: 1 });
    expect(unchanged.planned).toHaveLength(3);
    // Malformed steps are refused with a structured reason, and change nothing either.
    writeFileSync(file, JSON.stringify([{ capability: 'payments.transfer' }]));
    const malformed = await runCli(['plans', 'resume', planId, '--steps', file, '-w', ws]);
    expect(malformed.code).toBe(1);
    expect(JSON.parse(malformed.stdout)).toMatchObject({ verdict: 'rejected', reasons: ['SCHEMA_INVALID'] });

    writeFileSync(file, JSON.stringify([invoice(500, 'p2-z')]));
    const pending = JSON.parse((await runCli(['plans', 'resume', planId, '--steps', file, '-w', ws])).stdout) as { decision_id: string };
    const abandoned = await runCli(['plans', 'abandon', planId, '--reason', 'not needed', '--as', 'ops-anna', '-w', ws]);
    expect(abandoned.code, abandoned.stderr).toBe(0);
    expect(JSON.parse(abandoned.stdout)).toMatchObject({ status: 'abandoned' });
    expect(JSON.parse((await runCli(['approvals', 'list', '--json', '-w', ws])).stdout)).toEqual([]);
    expect((await runCli(['approvals', 'approve', pending.decision_id, '-w', ws])).code).toBe(1);
  });
});
