import { hashOf } from '../../core/canonical.js';
import type { PlanRow } from '../../store/plans.js';
import { deny, KernelError } from '../approvals.js';
import type { KernelCore } from '../context.js';
import { PlanRequestSchema, type PlanRequest } from './request.js';
import { reconcileSteps, settlePlan } from './steps.js';

/** A plan's report (ADR-025): what was planned, what ran, what was tried outside it, what was missed, and the totals against its budgets. */
export interface PlanReport {
  plan_id: string;
  agent: string;
  purpose: string;
  status: PlanRow['status'] | 'expired';
  failed_step: number | null;
  digest: string;
  decision_id: string;
  created_at: string;
  expires_at: string;
  ordered: boolean;
  planned: { step: number; capability: string; optional: boolean; status: string; decision_id: string | null; compensated_by: string | null; bounded: string[] }[];
  executed: { step: number; capability: string; decision_id: string; status: string; reasons: string[] }[];
  unplanned: { decision_id: string; capability: string | null; code: string; at: string }[];
  missed: number[];
  totals: Record<string, Record<string, number>>;
  budgets: { capability: string; window: string; field: string; used: number; max: number }[];
}

export async function planRow(k: KernelCore, id: string, agent: string | null): Promise<PlanRow> {
  const row = await k.deps.store.plans.get(id);
  if (!row || (agent !== null && row.agent !== agent)) throw new KernelError('PLAN_NOT_FOUND', `no plan \`${id.slice(0, 64)}\``);
  return row;
}

/** The report as the store has it now; steps a crash left running follow their settled decisions first. */
export async function planReport(k: KernelCore, id: string, agent: string | null = null): Promise<PlanReport> {
  const { store, world } = k.deps;
  const read = await planRow(k, id, agent);
  const req = PlanRequestSchema.parse(JSON.parse(read.request)) as PlanRequest;
  const states = read.status === 'rejected' ? req.steps.map(() => 'pending') : await reconcileSteps(k, read);
  // Reconciling may have stopped or completed the plan.
  const row = (await store.plans.get(id)) ?? read;
  const steps = await store.plans.steps(row.id);
  const now = world.now();
  const expired = (row.status === 'running' || row.status === 'pending_approval') && row.expires_at <= now;
  // A failed plan may be resumed: its pending steps are not missed yet.
  const ended = expired || row.status === 'completed' || row.status === 'abandoned';
  const executed: PlanReport['executed'] = [];
  const totals: PlanReport['totals'] = {};
  const fields = new Set(req.budgets.flatMap((b) => (b.sum ? [b.sum] : [])));
  for (const st of steps) {
    if (!st.decision_id) continue;
    const d = await store.decisions.get(st.decision_id);
    const step = req.steps[st.step];
    if (!d || !step) continue;
    executed.push({ step: st.step, capability: step.capability, decision_id: d.id, status: d.status, reasons: d.outcome?.reasons ?? [] });
    if (st.status !== 'done') continue;
    const t = (totals[step.capability] ??= {});
    t['calls'] = (t['calls'] ?? 0) + 1;
    const params = (d.intent?.params ?? {}) as Record<string, unknown>;
    for (const f of fields) if (typeof params[f] === 'number') t[f] = (t[f] ?? 0) + (params[f] as number);
  }
  const budgets = req.budgets.map((b) => {
    const field = b.sum ?? 'calls';
    return { capability: b.capability, window: b.window, field, used: totals[b.capability]?.[field] ?? 0, max: (b.sum ? b.max : b.max_calls) ?? 0 };
  });
  return {
    plan_id: row.id,
    agent: row.agent,
    purpose: req.purpose,
    status: expired ? 'expired' : row.status,
    failed_step: row.failed_step,
    digest: row.digest,
    decision_id: row.decision_id,
    created_at: new Date(row.created_at).toISOString(),
    expires_at: new Date(row.expires_at).toISOString(),
    ordered: req.ordered,
    planned: req.steps.map((s, i) => ({ step: i, capability: s.capability, optional: s.optional, status: states[i] ?? 'pending', decision_id: steps[i]?.decision_id ?? null, compensated_by: steps[i]?.compensated_by ?? null, bounded: Object.keys(s.bounds ?? {}) })),
    executed,
    unplanned: (await store.plans.attempts(row.id)).map((a) => ({ decision_id: a.decision_id, capability: a.capability, code: a.code, at: new Date(a.at).toISOString() })),
    // Steps that did not run and now will not (or not unless it is resumed): a pending step of an ended plan, and every failed one.
    missed: req.steps.flatMap((_, i) => (states[i] === 'failed' || (ended && states[i] === 'pending') ? [i] : [])),
    totals,
    budgets,
  };
}

/**
 * An operator resumes a failed plan: it runs again from the step after the
 * one it stopped at (that step stays failed, reported missed). The plan is
 * unchanged, so its approval still holds.
 */
export async function resumePlan(k: KernelCore, id: string, by: string): Promise<PlanReport> {
  // (A resume with changed steps is changePlan, amend.ts: it waits for a new approval.)
  const row = await planRow(k, id, null);
  const now = k.deps.world.now();
  if (row.status !== 'failed') throw new KernelError('PLAN_RESUME_INVALID_STATE', `plan ${row.id} is ${row.status}; only a failed plan can be resumed`);
  if (row.expires_at <= now) throw new KernelError('PLAN_EXPIRED', `plan ${row.id} expired at ${new Date(row.expires_at).toISOString()}`);
  const r = await k.deps.store.commit([
    { op: 'plan.status', id: row.id, from: 'failed', to: 'running', at: now, by: null, failed_step: row.failed_step },
    { op: 'event', event: { dfid: k.deps.world.newTraceId(), agent: row.agent, type: 'PlanStateChanged', decision_id: row.decision_id, data: { plan_id: row.id, from: 'failed', to: 'running', step: row.failed_step, by, how: 'resumed' } } },
  ]);
  if (!r.ok) throw new KernelError('PLAN_RESUME_INVALID_STATE', `plan ${row.id} changed meanwhile`);
  // Nothing left to run: the plan completes as it resumes.
  await settlePlan(k, { dfid: k.deps.world.newTraceId(), agent: row.agent, decisionId: row.decision_id }, row.id);
  return planReport(k, row.id);
}

/** An operator abandons a plan that is pending, running or failed: nothing more of it runs, and its sub-mandate is revoked. */
export async function abandonPlan(k: KernelCore, id: string, by: string, reason: string | null): Promise<PlanReport> {
  const row = await planRow(k, id, null);
  const now = k.deps.world.now();
  if (!['pending_approval', 'running', 'failed'].includes(row.status)) throw new KernelError('PLAN_RESUME_INVALID_STATE', `plan ${row.id} is ${row.status}; it cannot be abandoned`);
  if (row.status === 'pending_approval') {
    // Its escalation (the submission's, or that of a change at resume, keyed by the changed digest) is closed as denied: an approval arriving later finds nothing pending.
    const changed = row.failed_step !== null ? await k.deps.store.idempotency.peek(row.agent, `plan:${row.id}:${row.digest}`, now) : null;
    const id = changed?.decision_id ?? row.decision_id;
    const d = await k.deps.store.decisions.get(id);
    if (d?.status === 'pending') await deny(k, id, by, reason);
  }
  const r = await k.deps.store.commit([
    { op: 'plan.status', id: row.id, from: row.status, to: 'abandoned', at: now, by, failed_step: row.failed_step },
    { op: 'delegation.end', child: row.child, status: 'revoked', by, at: now },
    { op: 'event', event: { dfid: k.deps.world.newTraceId(), agent: row.agent, type: 'PlanStateChanged', decision_id: row.decision_id, data: { plan_id: row.id, from: row.status, to: 'abandoned', by, reason_hash: reason ? hashOf(reason) : null } } },
  ]);
  if (!r.ok) throw new KernelError('PLAN_RESUME_INVALID_STATE', `plan ${row.id} changed meanwhile`);
  return planReport(k, row.id);
}
