import { hashOf } from '../core/canonical.js';
import type { Outcome, ReasonDetail } from '../core/types.js';
import { resolveDfid } from './dfid.js';
import type { Kernel } from './kernel.js';

export type InterventionAct = 'pause' | 'resume' | 'terminate';

/** Who is acting: an agent (through MCP, as its credential names it) or a human operator (CLI, console). */
export type Principal = { kind: 'agent'; id: string } | { kind: 'operator'; id: string };

/**
 * Role rules, pure: an operator may do anything; a supervisor may pause,
 * resume or terminate the agents it supervises; any agent may pause itself;
 * no agent may resume itself or lift a termination.
 */
export function interventionAllowed(
  principal: Principal,
  act: InterventionAct,
  target: string,
  principalContract: { role: string; supervises: string[] } | undefined,
  targetStatus: string,
): { ok: true } | { ok: false; message: string } {
  if (principal.kind === 'operator') return { ok: true };
  if (!principalContract) return { ok: false, message: 'caller has no contract' };
  const self = principal.id === target;
  if (self && act === 'pause') return { ok: true };
  if (self) return { ok: false, message: `an agent can never ${act} itself` };
  if (principalContract.role !== 'supervisor' || !principalContract.supervises.includes(target)) {
    return { ok: false, message: `\`${principal.id}\` does not supervise \`${target}\`` };
  }
  if (act === 'resume' && targetStatus === 'terminated') return { ok: false, message: 'only an operator can lift a termination' };
  return { ok: true };
}

/** Issues and applies an intervention, recording both steps (or the refusal) in the ledger. */
export function intervene(
  kernel: Kernel,
  principal: Principal,
  act: InterventionAct,
  target: string,
  reason: string,
  traceparent?: string,
): Outcome {
  const { store, world, log } = kernel.deps;
  const { dfid } = resolveDfid(traceparent, world);
  const id = world.newId();
  const issuer = principal.kind === 'agent' ? principal.id : `operator:${principal.id}`;
  const role = principal.kind === 'operator' ? 'operator' : (kernel.contractOf(principal.id)?.role ?? 'unknown');
  const base = { dfid, decision_id: id, capability: null, idempotency_key: null, policies: [] as string[] };
  const flowLog = log.child({ dfid, agent: issuer });

  const deny = (details: ReasonDetail[]): Outcome => {
    const reasons = [...new Set(details.map((d) => d.code))];
    const receipt = store.ledger.append({ dfid, agent: issuer, type: 'InterventionRejected', decision_id: id, reasons, data: { act, target, role } });
    flowLog.warn({ step: 'intervention', act, target, reasons }, 'intervention refused');
    return { ...base, verdict: 'rejected', status: 'rejected', reasons, details, receipt };
  };

  if (!kernel.contractOf(target)) return deny([{ code: 'UNKNOWN_AGENT', message: `no contract for \`${target}\``, path: 'agent' }]);
  const current = store.agents.status(target);
  const allowed = interventionAllowed(principal, act, target, principal.kind === 'agent' ? kernel.contractOf(principal.id) : undefined, current);
  if (!allowed.ok) return deny([{ code: 'INTERVENTION_NOT_ALLOWED', message: allowed.message }]);
  // A paused or terminated agent may still pause itself, and nothing else.
  const callerStatus = principal.kind === 'agent' ? store.agents.status(principal.id) : 'active';
  if (callerStatus !== 'active' && !(act === 'pause' && principal.id === target)) {
    return deny([{ code: callerStatus === 'paused' ? 'AGENT_PAUSED' : 'AGENT_TERMINATED', message: `caller is ${callerStatus}` }]);
  }

  const now = world.now();
  const reasonHash = hashOf(reason);
  store.ledger.append({ dfid, agent: issuer, type: 'InterventionIssued', decision_id: id, data: { act, target, role, reason_hash: reasonHash } }, () =>
    store.agents.addIntervention({ id, target_agent: target, act, issued_by: issuer, issuer_role: role, state: 'pending', reason_hash: reasonHash, created_at: now }),
  );
  const next = act === 'pause' ? 'paused' : act === 'resume' ? 'active' : 'terminated';
  const receipt = store.ledger.append({ dfid, agent: issuer, type: 'InterventionApplied', decision_id: id, data: { act, target, from: current, to: next } }, () => {
    store.agents.setStatus(target, next, issuer, reasonHash, now);
    store.agents.setInterventionState(id, 'applied');
  });
  flowLog.info({ step: 'intervention', act, target, from: current, to: next }, 'intervention applied');
  return { ...base, verdict: 'accepted', status: 'accepted', reasons: [], details: [], receipt, output: { intervention_id: id, act, target, agent_status: next } };
}
