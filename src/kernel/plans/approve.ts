import type { Intent, Outcome } from '../../core/types.js';
import type { DecisionRecord } from '../../store/port/index.js';
import type { KernelCore } from '../context.js';
import { event, finishOp, outcomeOf, type Flow } from '../flow.js';
import { commitSure, refuseBeforeEffect } from '../record.js';
import { statusCode } from '../status.js';
import { decideWhole } from './decide.js';
import { planReport } from './operate.js';
import { PlanRequestSchema } from './request.js';
import { activationOps, planDigest, summary } from './submit.js';

/**
 * An approved plan (its escalation already resolved, single-use): the plan
 * must still be the one approved (its digest) and still pass as a whole on
 * the facts, usage and policies of now, escalations aside, the human having
 * settled them. Then it runs.
 */
export async function approvePlan(k: KernelCore, flow: Flow, d: DecisionRecord, operator: string): Promise<Outcome> {
  const { store, world } = k.deps;
  const bound = (d.intent as Intent).params as { plan_id?: unknown; digest?: unknown };
  const plan = typeof bound.plan_id === 'string' ? await store.plans.get(bound.plan_id) : null;
  const parsed = plan ? PlanRequestSchema.safeParse(JSON.parse(plan.request)) : null;
  if (!plan || !parsed?.success || plan.status !== 'pending_approval' || plan.digest !== bound.digest || planDigest(plan.agent, parsed.data) !== plan.digest) {
    return refuseBeforeEffect(k, flow, [{ code: 'PLAN_NOT_RUNNING', message: 'the plan is no longer the one submitted for approval, or no longer waits for it' }], d.policies);
  }
  const status = await store.agents.status(plan.agent);
  if (status !== 'active') return refuseBeforeEffect(k, flow, [{ code: statusCode(status), message: `agent is ${status}` }], d.policies);
  const chain = await k.delegations.chain(plan.agent);
  const contract = chain?.at(-1)?.contract;
  if (!chain || !contract) return refuseBeforeEffect(k, flow, [{ code: 'UNKNOWN_AGENT', message: 'no contract for this agent' }], d.policies);
  if (chain.length > 1) flow.chain = chain;
  const req = parsed.data;
  // A plan changed at resume is decided again from the step after the one it stopped at; the steps that ran are in the totals.
  const offset = plan.failed_step === null ? 0 : plan.failed_step + 1;
  const rows = await store.plans.steps(plan.id);
  const done = offset ? (await planReport(k, plan.id)).totals : {};
  const whole = await decideWhole(k, flow, contract, { ...req, steps: req.steps.slice(offset) }, world.now(), { offset, done });
  if (whole.rejected.length) {
    // A changed plan that no longer passes stays failed where it stopped; a new one is rejected.
    await commitSure(k, flow, [{ op: 'plan.status', id: plan.id, from: 'pending_approval', to: offset ? 'failed' : 'rejected', at: world.now(), by: operator, failed_step: plan.failed_step }]);
    return refuseBeforeEffect(k, flow, [{ code: 'PLAN_STEP_REJECTED', message: 'approved, but the plan no longer passes as a whole; nothing ran' }, ...whole.rejected], d.policies);
  }
  const outcome: Outcome = { ...outcomeOf(flow, 'accepted', 'approved', [], d.policies), output: summary({ ...plan, status: 'running' }, req, whole) };
  const start = offset
    ? // Changed at resume: its sub-mandate is already regranted to the changed steps (plan.amend); it runs again.
      [
        { op: 'plan.status' as const, id: plan.id, from: 'pending_approval' as const, to: 'running' as const, at: world.now(), by: null, failed_step: plan.failed_step },
        event(flow, 'PlanStateChanged', { data: { plan_id: plan.id, from: 'pending_approval', to: 'running', how: 'approved', changed_from: offset } }),
      ]
    : activationOps(k, flow, plan, req, 'approved');
  await commitSure(k, flow, [
    // Execution is held to the facts the approval was decided on.
    { op: 'plan.facts', id: plan.id, facts: [...rows.slice(0, offset).map((st) => st.facts), ...whole.facts] },
    ...start,
    { op: 'key.state', agent: flow.agent, key: flow.key as string, state: 'done', decision_id: d.id },
    event(flow, 'ActionOutcome', { data: { capability: d.capability, ok: true, plan_id: plan.id } }),
    finishOp(flow, outcome),
  ]);
  flow.log.info({ step: 'plan', decision_id: d.id, plan_id: plan.id, by: operator }, 'plan approved; running');
  return outcome;
}
