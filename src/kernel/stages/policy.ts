import type { CedarValueJson } from '@cedar-policy/cedar-wasm/nodejs';
import type { Capability } from '../../capabilities/manifest.js';
import type { Contract } from '../../config/contract-schema.js';
import type { ReasonCode } from '../../core/reasons.js';
import type { ReasonDetail } from '../../core/types.js';
import type { PolicyVerdict } from '../../policy/engine.js';
import type { KernelCore } from '../context.js';
import { contractRef } from '../decision-record.js';
import { chainRef, policyPrincipal, type Chain, type Link } from '../delegation/chain.js';
import { event, mark } from '../flow.js';
import { finishRejected } from '../record.js';
import type { Stage } from './state.js';

/** Cedar's answer for this agent, capability and request context (see `policyContext`). */
export function evaluatePolicy(k: KernelCore, contract: Contract, cap: Capability, context: Record<string, CedarValueJson>, chain?: Chain): PolicyVerdict {
  // A delegated call is decided as its root, whose contract answers for the subtree, told the caller's place (ADR-022).
  const governing = chain && chain.length > 1 ? (chain[0] as Link).contract : contract;
  return k.policy.evaluate({
    agent: policyPrincipal(chain, { id: governing.agent, role: governing.role }),
    capability: { id: cap.def.id, version: cap.def.version, sideEffect: cap.def.sideEffect, upstream: cap.upstream?.server },
    context,
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
  const verdict = evaluatePolicy(k, s.contract as Contract, s.capability as Capability, s.policyContext ?? {}, flow.chain);
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
    return event(s.flow, 'PolicyDecided', { reasons: ['ESCALATION_REQUIRED'], data: { decision: 'escalate', policies: verdict.policies, policy_set_hash: k.policy.set.hash, steward_gates: gates, ...contractRef(s.contract), ...chainRef(s.flow.chain) } });
  }
  return event(s.flow, 'PolicyDecided', { reasons: policyReasons(verdict), data: { decision: verdict.kind, policies: verdict.policies, policy_set_hash: k.policy.set.hash, ...contractRef(s.contract), ...chainRef(s.flow.chain) } });
}
