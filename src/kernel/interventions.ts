import { grantFor, isGlob } from '../config/contract-schema.js';
import { hashOf } from '../core/canonical.js';
import type { Outcome, ReasonDetail, Receipt } from '../core/types.js';
import type { Op } from '../store/port/index.js';
import type { AgentStatus, FlowStatus } from '../store/port/index.js';
import { resolveDfid } from './dfid.js';
import { KernelError, type Kernel } from './kernel.js';
import { statusCode } from './status.js';

/** Commits one unit of an intervention and returns the receipt of its last event. */
async function commit(kernel: Kernel, unit: Op[]): Promise<Receipt | null> {
  const r = await kernel.deps.store.commit(unit);
  if (!r.ok) throw new Error(`intervention refused by the store: ${r.conflict.kind}`);
  return r.receipts.at(-1) ?? null;
}

export type InterventionAct = 'pause' | 'resume' | 'terminate' | 'constrain' | 'redirect' | 'approve' | 'deny' | 'cancel';

/** Who is acting: an agent (as its credential or launch names it) or a human operator. */
export type Principal = { kind: 'agent'; id: string } | { kind: 'operator'; id: string };

export interface InterventionRequest {
  act: InterventionAct;
  /**
   * An agent; one agent's calls in a flow (`agent` defaults to the calling
   * agent; an operator may give '*' or omit it for every agent's calls); or
   * an escalated decision (approve, deny, cancel).
   */
  target: { agent: string } | { dfid: string; agent?: string | undefined } | { decision_id: string };
  reason: string;
  constrain?: { capability: string; field: string; max: number; minutes?: number | undefined } | undefined;
  redirect?: { note: string; minutes?: number | undefined } | undefined;
}

const DEFAULT_MINUTES = 60;
const MAX_MINUTES = 7 * 24 * 60;

interface PrincipalContract {
  role: string;
  supervises: string[];
  approves: string[];
}

/**
 * Who may do what, pure. An operator may do anything. Any agent may pause
 * itself or its own flows and tighten its own limits. A supervisor may act on
 * the agents it supervises (and their flows), and approve or deny the
 * escalations of the agents it `approves`. An agent may cancel (withdraw) its
 * own pending escalation: that only narrows what happens. No agent resumes
 * itself, approves its own escalation, or lifts a termination or a drift
 * suspension.
 */
export function interventionAllowed(
  principal: Principal,
  act: InterventionAct,
  targetAgent: string,
  principalContract: PrincipalContract | undefined,
  targetStatus: AgentStatus | 'flow',
  flowStatus: FlowStatus = 'active',
  above: readonly string[] = [],
): { ok: true } | { ok: false; message: string } {
  if (principal.kind === 'operator') return { ok: true };
  if (!principalContract) return { ok: false, message: 'caller has no contract' };
  const self = principal.id === targetAgent;
  // A delegated target answers to its root: the root's approvers and supervisors act on it (ADR-022).
  const answersAs = above[0] ?? targetAgent;
  if (act === 'cancel' && self) return { ok: true };
  if (act === 'approve' || act === 'deny' || act === 'cancel') {
    if (self) return { ok: false, message: 'an agent can never decide its own escalation' };
    if (above.includes(principal.id)) return { ok: false, message: `\`${principal.id}\` delegated to \`${targetAgent}\`: an agent can never decide an escalation of its own subtree` };
    if (principalContract.role !== 'supervisor' || !principalContract.approves.includes(answersAs)) {
      return { ok: false, message: `\`${principal.id}\` may not decide escalations of \`${targetAgent}\`` };
    }
    return { ok: true };
  }
  // A termination or a drift suspension is lifted by an operator only; no act
  // of an agent may move such a target (not even to paused, to resume it next).
  const locked = targetStatus === 'flow' ? flowStatus === 'terminated' : targetStatus === 'terminated' || targetStatus === 'suspended';
  if (locked) {
    const what = targetStatus === 'suspended' ? 'drift suspension' : 'termination';
    return { ok: false, message: `only an operator can act on an agent or flow under a ${what}` };
  }
  if (self) {
    if (act === 'pause' || act === 'constrain' || (act === 'terminate' && targetStatus === 'flow')) return { ok: true };
    return { ok: false, message: `an agent can never ${act} itself` };
  }
  // An ancestor may narrow its subtree (pause, terminate, constrain, redirect), never lift what it did.
  if (above.includes(principal.id) && act !== 'resume') return { ok: true };
  if (principalContract.role !== 'supervisor' || !principalContract.supervises.includes(answersAs)) {
    return { ok: false, message: `\`${principal.id}\` does not supervise \`${targetAgent}\`` };
  }
  return { ok: true };
}

/**
 * Issues an intervention and takes it through its lifecycle:
 * pending → acknowledged → applied, or rejected. Every step is a ledger
 * event; constraints and notes expire (→ expired) at their deadline.
 */
export async function intervene(kernel: Kernel, principal: Principal, req: InterventionRequest, traceparent?: string): Promise<Outcome> {
  const { store, world, log } = kernel.deps;
  const { dfid } = resolveDfid(traceparent, world);
  const id = world.newId();
  const issuer = principal.kind === 'agent' ? principal.id : `operator:${principal.id}`;
  const role = principal.kind === 'operator' ? 'operator' : (kernel.contractOf(principal.id)?.role ?? 'unknown');
  const flowLog = log.child({ dfid, agent: issuer });
  const now = world.now();
  const reasonHash = hashOf(req.reason);
  const target = 'dfid' in req.target ? req.target.dfid : 'agent' in req.target ? req.target.agent : req.target.decision_id;
  const targetKind = 'dfid' in req.target ? 'flow' : 'decision_id' in req.target ? 'decision' : 'agent';
  const base = { dfid, decision_id: id, capability: null, idempotency_key: null, policies: [] as string[] };

  // Which agent the act concerns: the agent itself, the flow's agent, or the escalation's agent.
  const targetAgent =
    'dfid' in req.target
      ? (req.target.agent ?? (principal.kind === 'agent' ? principal.id : '*'))
      : 'agent' in req.target
        ? req.target.agent
        : ((await store.decisions.get(req.target.decision_id))?.agent ?? null);
  const minutes = req.constrain?.minutes ?? req.redirect?.minutes ?? DEFAULT_MINUTES;
  const expiresAt = req.act === 'constrain' || req.act === 'redirect' ? now + Math.min(Math.max(minutes, 1), MAX_MINUTES) * 60_000 : null;

  await commit(kernel, [
    { op: 'event', event: { dfid, agent: issuer, type: 'InterventionIssued', decision_id: id, data: { act: req.act, target_kind: targetKind, target_hash: hashOf(target), role, reason_hash: reasonHash } } },
    {
      op: 'intervention.add',
      row: {
        id,
        dfid,
        target_kind: targetKind,
        target,
        target_agent: targetAgent ?? '',
        act: req.act,
        args: JSON.stringify(req.constrain ?? {}),
        issued_by: issuer,
        issuer_role: role,
        state: 'pending',
        reason_hash: reasonHash,
        created_at: now,
        updated_at: now,
        expires_at: expiresAt,
      },
    },
  ]);

  const refuse = async (details: ReasonDetail[]): Promise<Outcome> => {
    const reasons = [...new Set(details.map((d) => d.code))];
    const receipt = await commit(kernel, [
      { op: 'intervention.state', id, state: 'rejected', at: world.now() },
      { op: 'event', event: { dfid, agent: issuer, type: 'InterventionRejected', decision_id: id, reasons, data: { act: req.act, role } } },
    ]);
    flowLog.warn({ step: 'intervention', act: req.act, reasons }, 'intervention refused');
    return { ...base, verdict: 'rejected', status: 'rejected', reasons, details, receipt };
  };

  if (targetAgent === '*' && principal.kind !== 'operator') {
    return refuse([{ code: 'INTERVENTION_NOT_ALLOWED', message: 'only an operator acts on every agent of a flow', path: 'agent' }]);
  }
  if (!targetAgent || (targetAgent !== '*' && !(kernel.contractOf(targetAgent) ?? (await kernel.delegations.chain(targetAgent))?.at(-1)))) {
    if ('decision_id' in req.target) return refuse([{ code: 'DECISION_NOT_FOUND', message: 'no such decision', path: 'decision_id' }]);
    return refuse([{ code: 'UNKNOWN_AGENT', message: `no contract for \`${targetAgent ?? target}\``, path: 'agent' }]);
  }
  // A malformed act is refused as such, whoever asks.
  const invalid = checkArgs(kernel, req, targetAgent, targetKind);
  if (invalid) return refuse([invalid]);
  if ('dfid' in req.target && !(await store.decisions.flowHasCalls(req.target.dfid, targetAgent))) {
    return refuse([{ code: 'UNKNOWN_AGENT', message: targetAgent === '*' ? 'no calls in this flow' : `no calls of \`${targetAgent}\` in this flow`, path: 'dfid' }]);
  }
  const agentStatus: AgentStatus = targetAgent === '*' ? 'active' : await store.agents.status(targetAgent);
  const allowed = interventionAllowed(
    principal,
    req.act,
    targetAgent,
    principal.kind === 'agent' ? kernel.contractOf(principal.id) : undefined,
    targetKind === 'flow' ? 'flow' : agentStatus,
    targetKind === 'flow' ? await store.agents.flowStatus(target, targetAgent) : 'active',
    targetAgent === '*' ? [] : ((await kernel.delegations.chain(targetAgent)) ?? []).slice(0, -1).map((l) => l.agent),
  );
  if (!allowed.ok) return refuse([{ code: 'INTERVENTION_NOT_ALLOWED', message: allowed.message }]);
  // A paused, suspended or terminated agent may still pause itself or withdraw its own request, and nothing else.
  const callerStatus = principal.kind === 'agent' ? await store.agents.status(principal.id) : 'active';
  const narrowsSelf = (req.act === 'pause' || req.act === 'cancel') && principal.id === targetAgent;
  if (callerStatus !== 'active' && !narrowsSelf) {
    return refuse([{ code: statusCode(callerStatus as 'paused'), message: `caller is ${callerStatus}` }]);
  }
  await commit(kernel, [
    { op: 'intervention.state', id, state: 'acknowledged', at: world.now() },
    { op: 'event', event: { dfid, agent: issuer, type: 'InterventionAcknowledged', decision_id: id, data: { act: req.act } } },
  ]);

  // Approvals go through the kernel's own approval path, which records its events.
  if (req.act === 'approve' || req.act === 'deny' || req.act === 'cancel') {
    const decisionId = target;
    let outcome: Outcome;
    try {
      outcome = req.act === 'approve' ? await kernel.approve(decisionId, issuer, req.reason) : req.act === 'deny' ? await kernel.deny(decisionId, issuer, req.reason) : await kernel.withdraw(decisionId, issuer);
    } catch (err) {
      if (err instanceof KernelError) return refuse([{ code: err.code, message: err.message }]);
      throw err;
    }
    const receipt = await commit(kernel, [
      { op: 'intervention.state', id, state: 'applied', at: world.now() },
      { op: 'event', event: { dfid, agent: issuer, type: 'InterventionApplied', decision_id: id, data: { act: req.act, decision: decisionId } } },
    ]);
    return { ...base, verdict: 'accepted', status: 'accepted', reasons: [], details: [], receipt, output: { intervention_id: id, act: req.act, decision: outcome } };
  }

  const applied = apply(kernel, req, id, targetKind === 'flow' ? 'flow' : 'agent', target, targetAgent, agentStatus, issuer, reasonHash, expiresAt);
  const receipt = await commit(kernel, [
    ...applied.ops,
    { op: 'intervention.state', id, state: 'applied', at: world.now() },
    { op: 'event', event: { dfid, agent: issuer, type: 'InterventionApplied', decision_id: id, data: { act: req.act, target_kind: targetKind, ...applied.data } } },
  ]);
  if (req.act === 'resume' && agentStatus === 'suspended' && targetKind === 'agent') {
    await commit(kernel, [{ op: 'event', event: { dfid, agent: targetAgent, type: 'AgentResumed', decision_id: id, data: { by: issuer } } }]);
  }
  if (req.act === 'terminate') kernel.abortInflight(targetKind === 'flow' ? { dfid: target, agent: targetAgent } : { agent: targetAgent }, id);
  flowLog.info({ step: 'intervention', act: req.act, target_kind: targetKind }, 'intervention applied');
  return {
    ...base,
    verdict: 'accepted',
    status: 'accepted',
    reasons: [],
    details: [],
    receipt,
    output: { intervention_id: id, act: req.act, target_kind: targetKind, target, ...applied.output, ...(expiresAt ? { expires_at: new Date(expiresAt).toISOString() } : {}) },
  };
}

function checkArgs(kernel: Kernel, req: InterventionRequest, targetAgent: string, targetKind: string): ReasonDetail | null {
  if (req.act === 'cancel' && targetKind !== 'decision') return { code: 'SCHEMA_INVALID', message: 'cancel targets a pending decision', path: 'target' };
  if ((req.act === 'constrain' || req.act === 'redirect') && targetKind !== 'agent') {
    return { code: 'SCHEMA_INVALID', message: `${req.act} targets an agent, not a flow`, path: 'target' };
  }
  if (req.act === 'redirect' && !req.redirect?.note) return { code: 'SCHEMA_INVALID', message: 'redirect needs a note', path: 'note' };
  if (req.act !== 'constrain') return null;
  const c = req.constrain;
  if (!c) return { code: 'SCHEMA_INVALID', message: 'constrain needs capability, field and max', path: 'constrain' };
  if (isGlob(c.capability)) return { code: 'SCHEMA_INVALID', message: 'constrain names one capability, not a glob', path: 'constrain.capability' };
  const contract = kernel.contractOf(targetAgent);
  const grant = contract ? grantFor(contract, c.capability) : undefined;
  if (!grant) return { code: 'CAPABILITY_NOT_GRANTED', message: `the contract does not grant \`${c.capability}\``, path: 'constrain.capability' };
  const contractMax = grant.limits.max?.[c.field];
  // Only within the contract: a constraint may tighten a limit, never widen one.
  if (!Number.isFinite(c.max) || (contractMax !== undefined && c.max > contractMax)) {
    return { code: 'INTERVENTION_NOT_ALLOWED', message: `a constraint can only tighten: the contract caps \`${c.field}\` at ${contractMax}`, path: 'constrain.max' };
  }
  return null;
}

function apply(
  kernel: Kernel,
  req: InterventionRequest,
  id: string,
  targetKind: 'agent' | 'flow',
  target: string,
  targetAgent: string,
  current: AgentStatus,
  issuer: string,
  reasonHash: string,
  expiresAt: number | null,
): { ops: Op[]; data: Record<string, unknown>; output: Record<string, unknown> } {
  const now = kernel.deps.world.now();
  if (req.act === 'constrain') {
    const c = req.constrain as NonNullable<InterventionRequest['constrain']>;
    return {
      ops: [{ op: 'constraint.add', row: { intervention_id: id, agent: targetAgent, capability: c.capability, field: c.field, max: c.max, expires_at: expiresAt as number } }],
      data: { capability: c.capability, field: c.field, max: c.max },
      output: { constraint: { capability: c.capability, field: c.field, max: c.max } },
    };
  }
  if (req.act === 'redirect') {
    return {
      // The note is operator text for the agent; it is stored for delivery, hashed in the ledger.
      ops: [{ op: 'note.add', row: { intervention_id: id, agent: targetAgent, note: req.redirect?.note ?? '', created_at: now, expires_at: expiresAt as number } }],
      data: { note_hash: hashOf(req.redirect?.note ?? '') },
      output: {},
    };
  }
  const next = req.act === 'pause' ? 'paused' : req.act === 'resume' ? 'active' : 'terminated';
  if (targetKind === 'flow') {
    return { ops: [{ op: 'flow.status', dfid: target, agent: targetAgent, status: next, at: now }], data: { to: next }, output: { flow_status: next } };
  }
  return {
    ops: [
      { op: 'agent.status', agent: targetAgent, status: next, by: issuer, reason_hash: reasonHash, at: now },
      // Lifting a drift suspension starts the monitors' windows afresh.
      ...(current === 'suspended' && next === 'active' ? [{ op: 'monitors.reset' as const, agent: targetAgent }] : []),
    ],
    data: { from: current, to: next },
    output: { agent_status: next },
  };
}
