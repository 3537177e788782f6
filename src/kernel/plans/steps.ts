import type { Values } from '../../capabilities/manifest.js';
import { plansOf } from '../../config/contract-schema.js';
import type { ReasonCode } from '../../core/reasons.js';
import type { Channel, GovernedCall, Outcome } from '../../core/types.js';
import { compensatePlan } from './compensate.js';
import type { Capability, Facts } from '../../capabilities/manifest.js';
import type { PlanRow, PlanStepRow } from '../../store/plans.js';
import { driftJudgements, judgeDrift } from '../drift.js';
import { resolveFacts } from '../facts.js';
import type { Op } from '../../store/port/index.js';
import type { KernelCore } from '../context.js';
import { readsOf } from '../read-ahead.js';
import { event, type Flow } from '../flow.js';
import { reject } from '../record.js';
import { next, type ArrivedState, type BoundState, type ReceivedState, type Stage } from '../stages/state.js';
import { matchesStep, PlanRequestSchema, stepVariants, type PlanRequest } from './request.js';

/** The plan a call names, as the stages hold it to. */
export interface HeldPlan {
  row: PlanRow;
  req: PlanRequest;
}

/** Refusals that say nothing about the step itself: the step stays pending. */
const NOT_THE_STEP: ReadonlySet<ReasonCode> = new Set(['IN_PROGRESS', 'PLAN_STEP_WAITING', 'IDEMPOTENT_REPLAY', 'IDEMPOTENCY_CONFLICT', 'CANCELLED', 'OUTCOME_UNKNOWN', 'STORE_UNAVAILABLE', 'INTERNAL_ERROR', 'PLAN_STEP_MISMATCH', 'PLAN_NOT_RUNNING', 'PLAN_EXPIRED', 'PLAN_NOT_FOUND']);

/**
 * First of all: a call that names a plan of its caller runs as the plan's
 * sub-mandate (ADR-025), so every later stage holds it to the plan's grants
 * and to the agent's own contract above them (ADR-022). A plan that is not
 * the caller's is refused after the intent is received (`holdPlanMode`).
 */
export const routePlan: Stage<ArrivedState> = async (k, s) => {
  const id = s.call.planId;
  if (id === undefined || s.call.compensates) return next(s);
  const row = await k.deps.store.plans.get(id);
  if (!row || row.agent !== s.call.agent) return next(s);
  s.plan = { row, req: PlanRequestSchema.parse(JSON.parse(row.request)) };
  s.call = { ...s.call, agent: row.child };
  s.flow.agent = row.child;
  s.flow.log = s.flow.log.child({ plan: row.id });
  return next(s);
};

/**
 * Plan mode: a call naming a plan needs that plan running and in time; a
 * call naming none, while its agent has a running plan, is refused where the
 * contract says so (plans.outside), and recorded on each running plan as an
 * unplanned attempt.
 */
export const holdPlanMode: Stage<ReceivedState> = async (k, s) => {
  const { flow, call } = s;
  const now = k.deps.world.now();
  // A compensation is the kernel's own call, made for a plan that failed (compensate.ts).
  if (call.compensates) return next(s);
  if (call.planId !== undefined && !s.plan) return reject(k, flow, [{ code: 'PLAN_NOT_FOUND', message: `no plan \`${call.planId.slice(0, 64)}\` of yours` }]);
  if (s.plan) {
    const { row } = s.plan;
    if (row.status !== 'running') {
      const at = row.failed_step !== null ? ` at step ${row.failed_step + 1}` : '';
      return reject(k, flow, [{ code: 'PLAN_NOT_RUNNING', message: `plan ${row.id} is ${row.status.replace('_', ' ')}${at}` }]);
    }
    if (row.expires_at <= now) return reject(k, flow, [{ code: 'PLAN_EXPIRED', message: `plan ${row.id} expired at ${new Date(row.expires_at).toISOString()}` }]);
    return next(s);
  }
  const contract = k.contractOf(call.agent);
  if (!contract || plansOf(contract).outside === 'allow') return next(s);
  const running = await readsOf(k, s).running(call.agent, now);
  if (!running.length) return next(s);
  for (const p of running) flow.journal.push(...unplanned(flow, p.id, now, 'PLAN_CALL_OUTSIDE_PLAN'));
  return reject(k, flow, [{ code: 'PLAN_CALL_OUTSIDE_PLAN', message: `you have a running plan (${running.map((p) => p.id).join(', ')}); name it in _meta["mandate/plan"], or finish or abandon it first` }]);
};

/**
 * A call of a plan must be one of its steps that may run now: the same
 * capability, its exact params or within its bounds, and, for an ordered
 * plan, the first step still pending (optional ones may be passed over).
 * A repeat of a step already run was answered from its record before this.
 */
export const holdToStep: Stage<BoundState> = async (k, s) => {
  const { flow } = s;
  if (!s.plan) return next(s);
  const { row, req } = s.plan;
  const now = k.deps.world.now();
  const rows = await k.deps.store.plans.steps(row.id);
  const states = await reconcileSteps(k, row, rows);
  const params = s.params?.success ? s.params.data : null;
  const cap = s.capability;
  // An ordered plan's step still running (or whose outcome a crash left unknown) holds back the steps after it.
  let waiting: number | undefined;
  for (const [i, step] of req.steps.entries()) {
    if (states[i] === 'running' && req.ordered && !step.optional) waiting ??= i;
    if (states[i] !== 'pending') continue;
    if (params && cap && step.capability === cap.def.id && matchesStep(step, decidedParams(k, req, i), params)) {
      if (waiting !== undefined) return reject(k, flow, [{ code: 'PLAN_STEP_WAITING', message: `step ${waiting + 1} of plan ${row.id} is still running, or its outcome is unknown until an operator settles it; step ${i + 1} waits for it` }]);
      flow.plan = { id: row.id, step: i, optional: step.optional, ran: false };
      return (await heldFacts(k, s, cap, params, rows[i]?.facts ?? null)) ?? next(s);
    }
    if (req.ordered && !step.optional) break;
  }
  flow.journal.push(...unplanned(flow, row.id, now, 'PLAN_STEP_MISMATCH'));
  return reject(k, flow, [{ code: 'PLAN_STEP_MISMATCH', message: `this call is no step of plan ${row.id} that may run now` }]);
};

/**
 * Facts re-read for the step against those it was decided (or approved) on:
 * a fact its capability judges exact that moved refuses the step with
 * STATE_DRIFT; one judged `revalidate` may move, the step being validated
 * again on the fresh facts by the stages that follow.
 */
async function heldFacts(k: KernelCore, s: BoundState, cap: Capability, params: Values, decided: string | null): Promise<Outcome | undefined> {
  if (decided === null) return undefined;
  const fresh = await resolveFacts(k, cap, params, s.flow, s.call.signal);
  if (!fresh.ok) return reject(k, s.flow, [{ code: 'FACTS_UNAVAILABLE', message: fresh.message }]);
  const moved = judgeDrift(JSON.parse(decided) as Facts, fresh.facts, driftJudgements(cap.def)).moved;
  if (!moved.length) return undefined;
  return reject(k, s.flow, moved.map((field) => ({ code: 'STATE_DRIFT' as const, message: `\`${field}\` changed since the plan was decided`, path: `facts.${field}` })));
}

/** A step's params as it was decided (its worst case): the fields a call must match exactly. */
function decidedParams(k: KernelCore, req: PlanRequest, i: number): Values {
  const step = req.steps[i] as PlanRequest['steps'][number];
  const first = (stepVariants(step) ?? [step.params])[0] ?? step.params;
  const parsed = k.deps.workspace.capabilities.get(step.capability)?.def.input.safeParse(first);
  return parsed?.success ? parsed.data : first;
}

function unplanned(flow: Flow, planId: string, at: number, code: ReasonCode): Op[] {
  return [
    { op: 'plan.attempt', row: { plan_id: planId, decision_id: flow.decisionId, capability: flow.capability, code, at } },
    event(flow, 'PlanUnplannedCall', { reasons: [code], data: { plan_id: planId, capability: flow.capability } }),
  ];
}

/** The ops that start and finish a step around its effect (src/kernel/effect.ts): a step runs once. */
export function stepOps(k: KernelCore, flow: Flow, phase: 'start' | 'done' | 'failed'): Op[] {
  const p = flow.plan;
  if (!p) return [];
  const at = k.deps.world.now();
  if (phase === 'start') return [{ op: 'plan.step', id: p.id, step: p.step, from: 'pending', to: 'running', decision_id: flow.decisionId, at }];
  return [{ op: 'plan.step', id: p.id, step: p.step, from: 'running', to: phase, decision_id: null, at }, ...(phase === 'failed' ? stopOps(flow, at) : [])];
}

/** A non-optional step that failed stops its plan at that step (a plan an operator ended meanwhile stays as it is). */
function stopOps(flow: Flow, at: number): Op[] {
  const p = flow.plan;
  if (!p || p.optional) return [];
  return [
    { op: 'plan.status', id: p.id, from: 'running', to: 'failed', at, by: null, failed_step: p.step, soft: true },
    event(flow, 'PlanStateChanged', { reasons: ['PLAN_STEP_FAILED'], data: { plan_id: p.id, from: 'running', to: 'failed', step: p.step } }),
  ];
}

/**
 * After a step call's outcome: a refusal before its effect (limits,
 * policies, drift, a budget) fails the step like a failed effect; then a
 * plan with nothing left pending completes, and its sub-mandate ends.
 */
export async function afterStep(k: KernelCore, flow: Flow, outcome: Outcome, channel: Channel, govern: (call: GovernedCall) => Promise<Outcome>): Promise<void> {
  const p = flow.plan;
  if (!p) return;
  const at = k.deps.world.now();
  if (!p.ran && outcome.verdict === 'rejected' && !outcome.replay_of && !outcome.reasons.some((r) => NOT_THE_STEP.has(r))) {
    await k.deps.store.commit([{ op: 'plan.step', id: p.id, step: p.step, from: 'pending', to: 'failed', decision_id: flow.decisionId, at, soft: true }, ...stopOps(flow, at)]);
  }
  const failed = outcome.verdict === 'rejected' && !p.optional && (await k.deps.store.plans.get(p.id))?.status === 'failed';
  if (failed) await compensatePlan(k, p.id, flow.dfid, channel, govern);
  else await settlePlan(k, flow, p.id);
}

/** Completes a running plan with no step pending or running; its sub-mandate then ends. */
export async function settlePlan(k: KernelCore, flow: Pick<Flow, 'dfid' | 'agent' | 'decisionId'>, planId: string): Promise<void> {
  const at = k.deps.world.now();
  const r = await k.deps.store.commit([{ op: 'plan.settle', id: planId, at }]);
  if (!r.ok || r.results.get(0) !== true) return;
  const row = await k.deps.store.plans.get(planId);
  if (!row) return;
  await k.deps.store.commit([
    { op: 'delegation.end', child: row.child, status: 'expired', by: 'system:plan', at },
    { op: 'event', event: { dfid: flow.dfid, agent: row.agent, type: 'PlanStateChanged', decision_id: flow.decisionId, data: { plan_id: planId, from: 'running', to: 'completed' } } },
  ]);
}

/**
 * Steps left `running` by a process that died: once crash recovery, or an
 * operator, has settled their decision (ADR-017), the step follows it: done
 * if the effect happened, pending again if it did not (a retry may run it),
 * failed if it failed. Unknown outcomes stay running until an operator
 * settles them. A running plan then stops at a failed step, or completes
 * with nothing left to run.
 */
export async function reconcileSteps(k: KernelCore, row: PlanRow, read?: PlanStepRow[]): Promise<string[]> {
  const { store, world } = k.deps;
  const steps = read ?? (await store.plans.steps(row.id));
  const ops: Op[] = [];
  let failed: number | undefined;
  for (const st of steps) {
    if (st.status !== 'running' || !st.decision_id) continue;
    const d = await store.decisions.get(st.decision_id);
    if (!d || d.status === 'running' || d.status === 'outcome_unknown') continue;
    const applied = d.status === 'accepted' || d.status === 'approved';
    const notApplied = d.outcome?.reasons.includes('OUTCOME_NOT_APPLIED') ?? false;
    const to = applied ? 'done' : notApplied ? 'pending' : 'failed';
    ops.push({ op: 'plan.step', id: row.id, step: st.step, from: 'running', to, decision_id: null, at: world.now(), soft: true });
    st.status = to;
    if (to === 'failed') failed ??= st.step;
  }
  if (!ops.length) return steps.map((st) => st.status);
  const req = PlanRequestSchema.parse(JSON.parse(row.request));
  const stops = failed !== undefined && row.status === 'running' && !req.steps[failed]?.optional;
  const trace = { dfid: world.newTraceId(), agent: row.agent, decisionId: row.decision_id };
  await store.commit([
    ...ops,
    ...(stops
      ? [
          { op: 'plan.status' as const, id: row.id, from: 'running' as const, to: 'failed' as const, at: world.now(), by: null, failed_step: failed ?? null, soft: true },
          { op: 'event' as const, event: { dfid: trace.dfid, agent: row.agent, type: 'PlanStateChanged' as const, decision_id: row.decision_id, reasons: ['PLAN_STEP_FAILED' as const], data: { plan_id: row.id, from: 'running', to: 'failed', step: failed } } },
        ]
      : []),
  ]);
  if (!stops) await settlePlan(k, trace, row.id);
  return steps.map((st) => st.status);
}

/** After a decision of a plan's sub-mandate was settled (crash recovery, an operator): its plan follows it. */
export async function followSettled(k: KernelCore, agent: string): Promise<void> {
  const row = await k.deps.store.plans.byChild(agent);
  if (row) await reconcileSteps(k, row);
}
