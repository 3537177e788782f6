/**
 * Plans over real stdio (ADR-025), continued: two plans of one agent running
 * at once, each step counted against the plan it names; and a plan that
 * asked for compensation failing at step 3, its steps 1 and 2 undone in
 * reverse order by the template's reversing transfer, each undo a governed,
 * recorded call.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { balance, E2E, exportLedger, readBooks, runCli, transfer } from './helpers/e2e.js';

const e2e = new E2E();
afterAll(() => e2e.cleanup());

const PLAN = 'mandate/plan';

interface Report {
  status: string;
  failed_step: number | null;
  planned: { status: string; decision_id: string | null; compensated_by: string | null }[];
  executed: { step: number; decision_id: string }[];
  unplanned: { decision_id: string; code: string }[];
  totals: Record<string, Record<string, number>>;
  budgets: { used: number; max: number }[];
}

async function show(ws: string, id: string): Promise<Report> {
  const r = await runCli(['plans', 'show', id, '-w', ws]);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as Report;
}

const invoice = (amount: number, memo: string) => ({ capability: 'payments.transfer', params: transfer({ amount_minor: amount, memo }) });

describe('plans: two at once, and compensation', () => {
  it('two plans of one agent run at once, and each step counts against the plan it names', async () => {
    const ws = await e2e.workspace();
    const alice = await e2e.client(ws, 'alice');
    // The same two steps in both plans: only the plan a call names tells them apart.
    const plan = { purpose: 'two supplier payments', steps: [invoice(1_000, 'p'), invoice(1_000, 'p')], ordered: false, budgets: [{ capability: 'payments.transfer', window: '1d', sum: 'amount_minor', max: 2_000 }] };
    const [a, b] = await Promise.all([alice.call('submit_plan', plan), alice.call('submit_plan', plan)]);
    const idA = (a.outcome.output as { plan_id: string }).plan_id;
    const idB = (b.outcome.output as { plan_id: string }).plan_id;
    expect([a.outcome.verdict, b.outcome.verdict, idA === idB]).toEqual(['accepted', 'accepted', false]);
    const step = (id: string) => alice.call('payments_transfer', transfer({ amount_minor: 1_000, memo: 'p' }), { [PLAN]: id, idempotency_key: `${id.slice(-8)}-${Math.random().toString(36).slice(2, 10)}` });
    // The plans' steps interleave, and calls of the two plans run at once.
    const [a1, b1] = await Promise.all([step(idA), step(idB)]);
    const b2 = await step(idB);
    expect([a1, b1, b2].map((g) => g.outcome.verdict)).toEqual(['accepted', 'accepted', 'accepted']);
    // B is complete: a third call naming it is refused; A still has one step.
    expect((await step(idB)).outcome.reasons).toEqual(['PLAN_NOT_RUNNING']);
    const outside = await alice.call('payments_transfer', transfer({ amount_minor: 1_000, memo: 'p' }));
    expect(outside.outcome.reasons).toEqual(['PLAN_CALL_OUTSIDE_PLAN']);
    const a2 = await step(idA);
    expect(a2.outcome.verdict).toBe('accepted');

    const [ra, rb] = await Promise.all([show(ws, idA), show(ws, idB)]);
    expect(ra.executed.map((e) => e.decision_id).sort()).toEqual([a1.outcome.decision_id, a2.outcome.decision_id].sort());
    expect(rb.executed.map((e) => e.decision_id).sort()).toEqual([b1.outcome.decision_id, b2.outcome.decision_id].sort());
    for (const r of [ra, rb]) {
      expect(r.status).toBe('completed');
      expect(r.totals).toEqual({ 'payments.transfer': { calls: 2, amount_minor: 2_000 } });
      expect(r.budgets).toEqual([expect.objectContaining({ used: 2_000, max: 2_000 })]);
    }
    // The call outside both plans is an unplanned attempt of A (B had completed by then).
    expect(ra.unplanned.map((u) => [u.decision_id, u.code])).toEqual([[outside.outcome.decision_id, 'PLAN_CALL_OUTSIDE_PLAN']]);
    expect(rb.unplanned).toEqual([]);
    expect(readBooks(ws).transfers.filter((t) => t.amount_minor === 1_000)).toHaveLength(4);
  });

  it('compensation: a failure at step 3 reverses steps 2 and 1, in that order, each a governed call on the record', async () => {
    const ws = await e2e.workspace();
    const alice = await e2e.client(ws, 'alice');
    const start = balance(ws);
    const submitted = await alice.call('submit_plan', {
      purpose: 'three payments, all or nothing',
      steps: [invoice(1_000, 'one'), invoice(2_000, 'two'), invoice(3_000, 'three')],
      compensate_on_failure: true,
    });
    const planId = (submitted.outcome.output as { plan_id: string }).plan_id;
    for (const [amount, memo] of [[1_000, 'one'], [2_000, 'two']] as const) {
      expect((await alice.call('payments_transfer', transfer({ amount_minor: amount, memo }), { [PLAN]: planId })).outcome.verdict).toBe('accepted');
    }
    expect(balance(ws)).toBe(start - 3_000);
    // The payee is blocked under the plan: step 3 is refused, and the plan fails there.
    const path = join(ws, 'data', 'books.json');
    const book = JSON.parse(readFileSync(path, 'utf8')) as { payees: Record<string, { blocked: boolean }> };
    (book.payees['acme-supplies'] as { blocked: boolean }).blocked = true;
    writeFileSync(path, JSON.stringify(book));
    const third = await alice.call('payments_transfer', transfer({ amount_minor: 3_000, memo: 'three' }), { [PLAN]: planId });
    expect(third.outcome).toMatchObject({ verdict: 'rejected', reasons: ['STATE_DRIFT'] });

    expect(balance(ws)).toBe(start);
    const after = readBooks(ws) as ReturnType<typeof readBooks> & { reversals: { id: string; transfer_id: string; decision_id: string }[] };
    const [t1, t2] = after.transfers.slice(-2);
    // Reverse order: step 2's transfer first, then step 1's.
    expect(after.reversals.map((r) => r.transfer_id)).toEqual([t2?.id, t1?.id]);
    const report = await show(ws, planId);
    expect(report).toMatchObject({ status: 'failed', failed_step: 2 });
    expect(report.planned.map((p) => p.status)).toEqual(['compensated', 'compensated', 'failed']);
    expect(report.planned.map((p) => p.compensated_by)).toEqual([after.reversals[1]?.decision_id, after.reversals[0]?.decision_id, null]);
    // Each undo is on the ledger as a decision of its own, in the failing call's flow.
    const { events } = await exportLedger(ws);
    for (const r of after.reversals) {
      const own = events.filter((e) => e.decision_id === r.decision_id).map((e) => e.type);
      expect(own).toEqual(expect.arrayContaining(['IntentReceived', 'IntentValidated', 'PolicyDecided', 'ActionStarted', 'ActionOutcome']));
      expect(events.find((e) => e.decision_id === r.decision_id)?.dfid).toBe(third.outcome.dfid);
    }
  });
});
