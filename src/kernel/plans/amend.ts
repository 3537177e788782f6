import { hashOf } from '../../core/canonical.js';
import type { Channel, Outcome, ReasonDetail } from '../../core/types.js';
import { KernelError } from '../approvals.js';
import type { KernelCore } from '../context.js';
import { contractRef, failedChecks } from '../decision-record.js';
import { event, finishOp, newFlow, observed, outcomeOf } from '../flow.js';
import { commitSure, reject } from '../record.js';
import { keyExpiry } from '../stages/escalate.js';
import { receive } from '../stages/intake.js';
import { decideWhole } from './decide.js';
import { planReport } from './operate.js';
import { PLAN_CAPABILITY, PlanRequestSchema, PlanStepSchema } from './request.js';
import { checkShape, planDigest, planGrants, summary } from './submit.js';

/**
 * An operator resumes a failed plan with its remaining steps changed
 * (ADR-025): the steps after the one it stopped at are replaced. The changed
 * remainder is decided whole again, on the usage and totals of the steps
 * that ran; refused, nothing changes. Otherwise the plan always escalates
 * (a person changed what was approved): a fresh single-use approval bound to
 * the new digest, and it runs only once that approval is given
 * (approvePlan). Its budgets and time limit stay as they were.
 */
export async function changePlan(k: KernelCore, id: string, by: string, steps: unknown, channel: Channel): Promise<Outcome> {
  const { store, world } = k.deps;
  const row = await store.plans.get(id);
  if (!row) throw new KernelError('PLAN_NOT_FOUND', `no plan \`${id.slice(0, 64)}\``);
  const now = world.now();
  if (row.status !== 'failed' || row.failed_step === null) throw new KernelError('PLAN_RESUME_INVALID_STATE', `plan ${row.id} is ${row.status}; only a failed plan can be resumed`);
  if (row.expires_at <= now) throw new KernelError('PLAN_EXPIRED', `plan ${row.id} expired at ${new Date(row.expires_at).toISOString()}`);
  const keep = row.failed_step + 1;
  const ran = (await store.plans.steps(row.id)).filter((st) => st.step >= keep && st.status !== 'pending');
  if (ran.length) throw new KernelError('PLAN_RESUME_INVALID_STATE', `step ${(ran[0]?.step ?? 0) + 1} of plan ${row.id} already ran: only steps after ${keep} none of which ran can be changed`);

  const old = PlanRequestSchema.parse(JSON.parse(row.request));
  const flow = newFlow(k, { agent: row.agent, dfid: world.newTraceId(), decisionId: world.newId(), capability: PLAN_CAPABILITY, key: null });
  const received = await receive(k, { call: { agent: row.agent, intent: { capability: PLAN_CAPABILITY, params: { plan_id: row.id, resume_from: keep, steps: steps as never } }, channel }, flow, receivedAt: now });
  if (!('next' in received)) return observed(k, flow, received);
  const parsed = PlanStepSchema.array().min(1).safeParse(steps);
  if (!parsed.success) return observed(k, flow, await reject(k, flow, parsed.error.issues.map((i) => ({ code: 'SCHEMA_INVALID' as const, message: i.message, path: `steps.${i.path.map(String).join('.')}` }))));
  const chain = await k.delegations.chain(row.agent);
  const contract = chain?.at(-1)?.contract;
  if (!chain || !contract) return observed(k, flow, await reject(k, flow, [{ code: 'UNKNOWN_AGENT', message: 'no contract for this agent' }]));
  if (chain.length > 1) flow.chain = chain;
  const req = { ...old, steps: [...old.steps.slice(0, keep), ...parsed.data] };
  const shape = checkShape(contract, req);
  if (shape.length) return observed(k, flow, await reject(k, flow, shape));

  // The remainder, decided whole on the usage of now (the steps that ran are in it) and the plan's totals so far.
  const done = (await planReport(k, row.id)).totals;
  const whole = await decideWhole(k, flow, contract, { ...req, steps: parsed.data }, now, { offset: keep, done });
  const digest = planDigest(row.agent, req);
  const decided = event(flow, 'PlanDecided', {
    reasons: whole.rejected.length ? ['PLAN_STEP_REJECTED', ...new Set(whole.rejected.map((d) => d.code))] : ['ESCALATION_REQUIRED'],
    data: { plan_id: row.id, digest, steps: req.steps.length, changed_from: keep, by, status: whole.rejected.length ? 'rejected' : 'pending_approval', checks: failedChecks(whole.rejected), reason_hashes: whole.escalations.map((r) => hashOf(r)), ...contractRef(contract) },
  });
  const output = summary({ ...row, digest, status: whole.rejected.length ? row.status : 'pending_approval' }, req, whole);
  if (whole.rejected.length) {
    const head: ReasonDetail = { code: 'PLAN_STEP_REJECTED', message: `the changed plan is refused: ${whole.rejected.length} check(s) of its remaining steps fail; it stays failed at step ${keep}`, path: whole.rejected[0]?.path ?? 'budgets' };
    const outcome = { ...outcomeOf(flow, 'rejected', 'rejected', [head, ...whole.rejected], whole.policies), output };
    await commitSure(k, flow, [decided, finishOp(flow, outcome)]);
    return observed(k, flow, outcome);
  }
  flow.key = `plan:${row.id}:${digest}`;
  const reasons = [`${by} changed steps ${keep + 1}–${req.steps.length} of the plan at resume`, ...whole.escalations];
  const expiresAt = now + (contract.escalation.expiry_minutes ?? k.deps.workspace.config.limits.escalation_expiry_minutes) * 60_000;
  const outcome: Outcome = { ...outcomeOf(flow, 'escalated', 'pending', reasons.map((m) => ({ code: 'ESCALATION_REQUIRED' as const, message: m })), whole.policies), expires_at: new Date(expiresAt).toISOString(), output };
  // The approver sees the whole changed plan, what changed, the totals and why.
  const intent = { capability: PLAN_CAPABILITY, params: { plan_id: row.id, digest, purpose: req.purpose, steps: req.steps, changed_from: keep, totals: whole.totals, reasons } };
  await commitSure(k, flow, [
    decided,
    { op: 'plan.amend', id: row.id, request: JSON.stringify(req), digest, keep, facts: whole.facts, grants: JSON.stringify(planGrants(row, req)), child: row.child, at: now },
    { op: 'key.reserve', record: { agent: flow.agent, key: flow.key, request_hash: digest, state: 'pending_approval', decision_id: flow.decisionId, created_at: now, expires_at: keyExpiry(k, now) }, now },
    event(flow, 'PlanStateChanged', { data: { plan_id: row.id, from: 'failed', to: 'pending_approval', step: row.failed_step, by, how: 'changed' } }),
    event(flow, 'EscalationOpened', { reasons: ['ESCALATION_REQUIRED'], data: { policies: whole.policies, request_hash: digest, facts_hash: hashOf({}), expires_at: outcome.expires_at, reason_hashes: reasons.map((r) => hashOf(r)) } }),
    finishOp(flow, outcome, { intent, facts: {}, facts_hash: hashOf({}), expires_at: expiresAt }),
  ]);
  return observed(k, flow, outcome);
}
