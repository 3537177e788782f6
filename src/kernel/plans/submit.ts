import { plansOf, type Contract } from '../../config/contract-schema.js';
import { hashOf } from '../../core/canonical.js';
import type { Channel, Outcome, ReasonDetail } from '../../core/types.js';
import type { DelegationRow } from '../../store/port/index.js';
import type { PlanRow } from '../../store/plans.js';
import type { Op } from '../../store/port/index.js';
import type { KernelCore } from '../context.js';
import { contractRef, failedChecks } from '../decision-record.js';
import { resolveDfid } from '../dfid.js';
import { event, finishOp, newFlow, observed, outcomeOf, type Flow } from '../flow.js';
import { commitSure, reject } from '../record.js';
import { keyExpiry } from '../stages/escalate.js';
import { checkStanding, receive } from '../stages/intake.js';
import { StageChain } from '../stages/chain.js';
import { decideWhole, type WholeVerdict } from './decide.js';
import { PLAN_CAPABILITY, planChild, PlanRequestSchema, type PlanRequest } from './request.js';

export interface PlanSubmission {
  agent: string;
  request: unknown;
  channel: Channel;
  traceparent?: string | undefined;
  decisionId?: string | undefined;
}

/** A plan is received, and its agent's standing checked, like any call. */
const STANDING = StageChain.start().then(receive).then(checkStanding);

/**
 * `submit_plan`: a plan decided as a whole (ADR-025). The agent's standing
 * is checked like any call's; then every step as if run in sequence
 * (decide.ts). Any step refused: the plan is rejected, naming the step. Any
 * escalating: the plan escalates once, the approver seeing every step. Else
 * it runs: a sub-mandate of the agent to itself whose grants are the steps.
 */
export async function submitPlan(k: KernelCore, sub: PlanSubmission): Promise<Outcome> {
  const { world } = k.deps;
  const receivedAt = world.now();
  const { dfid } = resolveDfid(sub.traceparent, world);
  const flow = newFlow(k, { agent: sub.agent, dfid, decisionId: sub.decisionId ?? world.newId(), capability: PLAN_CAPABILITY, key: null });
  const standing = await STANDING.run(k, { call: { agent: sub.agent, intent: { capability: PLAN_CAPABILITY, params: (sub.request ?? {}) as Record<string, unknown> }, channel: sub.channel }, flow, receivedAt });
  if (!('next' in standing)) return observed(k, flow, standing);
  const parsed = PlanRequestSchema.safeParse(sub.request);
  if (!parsed.success) return observed(k, flow, await reject(k, flow, parsed.error.issues.map((i) => ({ code: 'SCHEMA_INVALID' as const, message: i.message, path: i.path.map(String).join('.') || '(plan)' }))));
  const { contract } = standing.next;
  const req = parsed.data;
  const shape = checkShape(contract, req);
  if (shape.length) return observed(k, flow, await reject(k, flow, shape));

  const whole = await decideWhole(k, flow, contract, req, receivedAt);
  const planId = world.newId();
  const digest = planDigest(sub.agent, req);
  const row: Omit<PlanRow, 'failed_step' | 'updated_at' | 'ended_by'> = {
    id: planId,
    agent: sub.agent,
    child: planChild(sub.agent, planId),
    digest,
    status: whole.rejected.length ? 'rejected' : whole.escalations.length ? 'pending_approval' : 'running',
    request: JSON.stringify(req),
    decision_id: flow.decisionId,
    created_at: receivedAt,
    expires_at: receivedAt + (req.expires_in_minutes ?? plansOf(contract).default_minutes) * 60_000,
  };
  const output = summary(row, req, whole);
  const decided = event(flow, 'PlanDecided', {
    reasons: whole.rejected.length ? ['PLAN_STEP_REJECTED', ...new Set(whole.rejected.map((d) => d.code))] : whole.escalations.length ? ['ESCALATION_REQUIRED'] : [],
    data: { plan_id: planId, digest, steps: req.steps.length, status: row.status, checks: failedChecks(whole.rejected), reason_hashes: whole.escalations.map((r) => hashOf(r)), ...contractRef(contract) },
  });
  if (whole.rejected.length) {
    const steps = [...new Set(whole.rejected.map((d) => Number(/^steps\.(\d+)/.exec(d.path ?? '')?.[1] ?? Number.NaN)).filter((n) => !Number.isNaN(n)))];
    const head: ReasonDetail = { code: 'PLAN_STEP_REJECTED', message: steps.length ? `the plan is rejected: step ${steps.map((n) => n + 1).join(', ')} would be refused; nothing ran` : 'the plan is rejected: it exceeds its own budgets; nothing ran', path: steps.length ? `steps.${steps[0]}` : 'budgets' };
    const outcome = { ...outcomeOf(flow, 'rejected', 'rejected', [head, ...whole.rejected], whole.policies), output };
    await commitSure(k, flow, [decided, { op: 'plan.add', row, facts: whole.facts }, finishOp(flow, outcome)]);
    return observed(k, flow, outcome);
  }
  flow.key = `plan:${planId}`;
  if (whole.escalations.length) {
    const expiresAt = receivedAt + (contract.escalation.expiry_minutes ?? k.deps.workspace.config.limits.escalation_expiry_minutes) * 60_000;
    const outcome: Outcome = {
      ...outcomeOf(flow, 'escalated', 'pending', whole.escalations.map((m) => ({ code: 'ESCALATION_REQUIRED' as const, message: m })), whole.policies),
      expires_at: new Date(expiresAt).toISOString(),
      output,
    };
    // The approver sees the whole plan: every step, the planned totals and why (`mandate approvals show`, `mandate plans show`).
    const intent = { capability: PLAN_CAPABILITY, params: { plan_id: planId, digest, purpose: req.purpose, steps: req.steps, totals: whole.totals, reasons: whole.escalations } };
    await commitSure(k, flow, [
      decided,
      { op: 'plan.add', row, facts: whole.facts },
      { op: 'key.reserve', record: { agent: flow.agent, key: flow.key, request_hash: digest, state: 'pending_approval', decision_id: flow.decisionId, created_at: receivedAt, expires_at: keyExpiry(k, receivedAt) }, now: receivedAt },
      event(flow, 'EscalationOpened', { reasons: ['ESCALATION_REQUIRED'], data: { policies: whole.policies, request_hash: digest, facts_hash: hashOf({}), expires_at: outcome.expires_at, reason_hashes: whole.escalations.map((r) => hashOf(r)) } }),
      finishOp(flow, outcome, { intent, facts: {}, facts_hash: hashOf({}), expires_at: expiresAt }),
    ]);
    return observed(k, flow, outcome);
  }
  const outcome: Outcome = { ...outcomeOf(flow, 'accepted', 'accepted', [], whole.policies), output };
  await commitSure(k, flow, [
    decided,
    { op: 'plan.add', row: { ...row, status: 'pending_approval' }, facts: whole.facts },
    { op: 'key.reserve', record: { agent: flow.agent, key: flow.key, request_hash: digest, state: 'done', decision_id: flow.decisionId, created_at: receivedAt, expires_at: keyExpiry(k, receivedAt) }, now: receivedAt },
    ...activationOps(k, flow, row, req, 'submitted'),
    finishOp(flow, outcome),
  ]);
  return observed(k, flow, outcome);
}

/** The digest an approval binds: the agent and the plan exactly as decided. */
export function planDigest(agent: string, req: PlanRequest): string {
  return hashOf({ agent, plan: req });
}

/** What the caller (and get_decision) sees of a decided plan. */
export function summary(row: Pick<PlanRow, 'id' | 'digest' | 'status' | 'expires_at'>, req: PlanRequest, whole: Pick<WholeVerdict, 'totals'>) {
  return { plan_id: row.id, digest: row.digest, status: row.status, steps: req.steps.length, ordered: req.ordered, totals: whole.totals, expires_at: new Date(row.expires_at).toISOString() };
}

/**
 * The ops that start a plan: it runs, and its sub-mandate is recorded, the
 * agent delegating to itself exactly the steps' capabilities, each with a
 * budget of as many calls as it has steps plus the plan's own budgets, for
 * the plan's time limit (ADR-022's machinery holds every call to it).
 */
export function activationOps(k: KernelCore, flow: Flow, row: Omit<PlanRow, 'failed_step' | 'updated_at' | 'ended_by'>, req: PlanRequest, how: 'submitted' | 'approved'): Op[] {
  const now = k.deps.world.now();
  const grants = planGrants(row, req);
  const chain = flow.chain;
  const depth = chain ? chain.length : 1;
  const delegation: Omit<DelegationRow, 'status' | 'ended_at' | 'ended_by'> = {
    id: `plan-${row.id}`,
    child: row.child,
    parent: row.agent,
    root: chain?.[0]?.agent ?? row.agent,
    depth,
    max_depth: depth,
    may_delegate: 0,
    purpose: `plan ${row.id}: ${req.purpose}`,
    grants: JSON.stringify(grants),
    memory: '[]',
    created_at: now,
    expires_at: row.expires_at,
    created_by: row.agent,
    decision_id: row.decision_id,
  };
  return [
    { op: 'plan.status', id: row.id, from: 'pending_approval', to: 'running', at: now, by: null, failed_step: null },
    // A plan's sub-mandate is the agent's own and never counts against its delegation.max_children.
    { op: 'delegation.add', row: delegation, maxChildren: Number.MAX_SAFE_INTEGER, now },
    event(flow, 'Delegated', { data: { delegation_id: delegation.id, child: row.child, parent: row.agent, plan_id: row.id, expires_at: new Date(row.expires_at).toISOString() } }),
    event(flow, 'PlanStateChanged', { data: { plan_id: row.id, from: 'pending_approval', to: 'running', how } }),
  ];
}

/** The grants of a plan's sub-mandate: each step's capability, with as many calls as it has steps, and the plan's budgets, for its time limit. */
export function planGrants(row: Pick<PlanRow, 'created_at' | 'expires_at'>, req: PlanRequest) {
  const minutes = Math.max(1, Math.ceil((row.expires_at - row.created_at) / 60_000));
  const counts = new Map<string, number>();
  for (const step of req.steps) counts.set(step.capability, (counts.get(step.capability) ?? 0) + 1);
  return [...counts].map(([capability, n]) => ({
    capability,
    limits: { budgets: [{ window: `${minutes}m`, max_calls: n }, ...req.budgets.filter((b) => b.capability === capability).map(({ capability: _c, ...b }) => b)] },
  }));
}

/** A plan's shape against its contract, before any step is decided. */
export function checkShape(contract: Contract, req: PlanRequest): ReasonDetail[] {
  const limits = plansOf(contract);
  const out: ReasonDetail[] = [];
  if (req.steps.length > limits.max_steps) out.push({ code: 'PLAN_MAX_STEPS_EXCEEDED', message: `the plan has ${req.steps.length} steps; your contract allows ${limits.max_steps}`, path: 'steps' });
  if ((req.expires_in_minutes ?? limits.default_minutes) > limits.max_minutes) out.push({ code: 'PLAN_INVALID', message: `a time limit of ${req.expires_in_minutes} minutes is beyond your contract's ${limits.max_minutes}`, path: 'expires_in_minutes' });
  req.budgets.forEach((b, j) => {
    if (!req.steps.some((st) => st.capability === b.capability)) out.push({ code: 'PLAN_INVALID', message: `budget ${j + 1} names \`${b.capability}\`, which no step calls`, path: `budgets.${j}` });
  });
  req.steps.forEach((st, i) => {
    for (const f of Object.keys(st.bounds ?? {})) {
      const b = st.bounds?.[f];
      if (b?.max !== undefined && b.min !== undefined && b.min > b.max) out.push({ code: 'PLAN_INVALID', message: `step ${i + 1}: the bounds of \`${f}\` are empty`, path: `steps.${i}.bounds.${f}` });
    }
  });
  return out;
}

