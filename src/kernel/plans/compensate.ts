import type { Channel, GovernedCall, Outcome } from '../../core/types.js';
import type { KernelCore } from '../context.js';
import { PlanRequestSchema } from './request.js';

/**
 * A plan that asked for it (`compensate_on_failure`) and stopped at a step:
 * its completed steps whose capability declares `compensate` are undone in
 * reverse order, each undo a call the kernel governs and records like any
 * other, as the agent itself, in the failing call's flow (ADR-025). An undo
 * that is refused or fails is recorded and the next one is still tried; its
 * step stays `done`, and the report shows it was not compensated.
 */
export async function compensatePlan(k: KernelCore, planId: string, dfid: string, channel: Channel, govern: (call: GovernedCall) => Promise<Outcome>): Promise<void> {
  const { store, world, workspace } = k.deps;
  const row = await store.plans.get(planId);
  if (!row || row.status !== 'failed') return;
  const req = PlanRequestSchema.parse(JSON.parse(row.request));
  if (!req.compensate_on_failure) return;
  const done = (await store.plans.steps(planId)).filter((st) => st.status === 'done' && st.decision_id).reverse();
  for (const st of done) {
    const step = req.steps[st.step];
    const cap = step ? workspace.capabilities.get(step.capability) : undefined;
    const d = await store.decisions.get(st.decision_id as string);
    if (!cap?.def.compensate || !d?.intent) continue;
    let undo: { capability: string; params: Record<string, unknown> } | null;
    try {
      undo = cap.def.compensate(d.intent.params, d.outcome?.output, { agent: row.agent, dfid: d.dfid, decisionId: d.id });
    } catch (err) {
      k.deps.log.error({ step: 'plan', plan_id: planId, plan_step: st.step, err: { name: (err as Error)?.name } }, 'compensate threw; the step is left as it is');
      continue;
    }
    if (!undo) continue;
    const outcome = await govern({
      agent: row.agent,
      intent: { capability: undo.capability, params: undo.params, idempotency_key: `compensate:${planId}:${st.step}` },
      channel,
      // A fresh parent id: the right, random half of a new trace-id (its left half is the clock, ADR-047).
      traceparent: `00-${dfid}-${world.newTraceId().slice(16)}-01`,
      compensates: { planId, step: st.step },
    });
    if (outcome.verdict !== 'accepted') continue;
    await store.commit([
      { op: 'plan.step', id: planId, step: st.step, from: 'done', to: 'compensated', decision_id: null, at: world.now(), soft: true, compensated_by: outcome.decision_id },
      { op: 'event', event: { dfid, agent: row.agent, type: 'PlanStateChanged', decision_id: outcome.decision_id, data: { plan_id: planId, step: st.step, from: 'done', to: 'compensated', compensated_by: outcome.decision_id } } },
    ]);
  }
}
