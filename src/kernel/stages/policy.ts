import type { Capability, Facts, Values } from '../../capabilities/manifest.js';
import type { Contract } from '../../config/contract-schema.js';
import type { ReasonCode } from '../../core/reasons.js';
import type { ReasonDetail } from '../../core/types.js';
import { toCedarRecord } from '../../policy/cedar-values.js';
import type { PolicyVerdict } from '../../policy/engine.js';
import type { KernelCore } from '../context.js';
import type { UsageSnapshot } from '../dim.js';
import { usageForPolicy } from '../facts.js';
import { event, mark } from '../flow.js';
import { finishRejected } from '../record.js';
import type { Stage } from './state.js';

/** Cedar's answer for this agent, capability and validated request. */
export function evaluatePolicy(k: KernelCore, contract: Contract, cap: Capability, values: Values, facts: Facts, usage: UsageSnapshot): PolicyVerdict {
  return k.policy.evaluate({
    agent: { id: contract.agent, role: contract.role },
    capability: { id: cap.def.id, version: cap.def.version, sideEffect: cap.def.sideEffect, upstream: cap.upstream?.server },
    context: {
      values: toCedarRecord(values),
      facts: toCedarRecord(facts),
      usage: toCedarRecord(usageForPolicy(usage)),
      now: Math.floor(k.deps.world.now() / 1000),
    },
  });
}

export function policyReasons(verdict: PolicyVerdict): ReasonCode[] {
  switch (verdict.kind) {
    case 'forbid':
      return ['POLICY_FORBID'];
    case 'no_permit':
      return ['POLICY_NO_PERMIT'];
    case 'error':
      return ['POLICY_ERROR'];
    case 'escalate':
      return ['ESCALATION_REQUIRED'];
    default:
      return [];
  }
}

/**
 * Policy: it sees only validated values, authoritative facts and budget
 * usage. Forbid wins; nothing matching denies; an evaluation error denies.
 * A permit or escalation is journaled by the next stage, which may turn a
 * permit into an escalation (steward gates).
 */
export const decidePolicy: Stage = (k, s) => {
  const { flow } = s;
  const v = s.validated as NonNullable<typeof s.validated>;
  const verdict = evaluatePolicy(k, s.contract as Contract, s.capability as Capability, v.values, v.facts, s.usage ?? {});
  s.verdict = verdict;
  const reasons = policyReasons(verdict);
  flow.log.info({ step: 'policy', decision_id: flow.decisionId, decision: verdict.kind, policies: verdict.policies, reasons }, 'policy decided');
  mark(k, flow, 'policy');
  if (verdict.kind === 'permit' || verdict.kind === 'escalate') return undefined;
  const details: ReasonDetail[] = [
    {
      code: reasons[0] as ReasonCode,
      message: verdict.kind === 'forbid' ? `forbidden by ${verdict.policies.join(', ')}` : verdict.kind === 'error' ? 'a policy failed to evaluate' : 'no policy permits this request',
    },
  ];
  return finishRejected(k, flow, policyEvent(k, s), details, verdict.policies);
};

/** The `PolicyDecided` event as the verdict stands. */
export function policyEvent(k: KernelCore, s: Parameters<Stage>[1], gates: string[] = []) {
  const verdict = s.verdict as PolicyVerdict;
  if (gates.length) {
    return event(s.flow, 'PolicyDecided', { reasons: ['ESCALATION_REQUIRED'], data: { decision: 'escalate', policies: verdict.policies, policy_set_hash: k.policy.set.hash, steward_gates: gates } });
  }
  return event(s.flow, 'PolicyDecided', { reasons: policyReasons(verdict), data: { decision: verdict.kind, policies: verdict.policies, policy_set_hash: k.policy.set.hash } });
}
