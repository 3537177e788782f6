import type { CedarValueJson } from '@cedar-policy/cedar-wasm/nodejs';
import type { Capability } from '../../capabilities/manifest.js';
import type { Contract } from '../../config/contract-schema.js';
import type { ReasonCode } from '../../core/reasons.js';
import type { ReasonDetail } from '../../core/types.js';
import type { PolicyRequest, PolicyVerdict } from '../../policy/engine.js';
import { canonicalJson, sha256Hex } from '../../core/canonical.js';
import type { Op } from '../../store/port/index.js';
import { failureMessage } from '../../policy/errors.js';
import type { KernelCore } from '../context.js';
import { contractRef } from '../decision-record.js';
import { chainRef, policyPrincipal, type Chain, type Link } from '../delegation/chain.js';
import { event, mark } from '../flow.js';
import { finishRejected } from '../record.js';
import { extend, next, type DecidedState, type Stage, type ValidatedState } from './state.js';

/** Cedar's answer for this agent, capability and request context (see `policyContext`). */
export function evaluatePolicy(k: KernelCore, contract: Contract, cap: Capability, context: Record<string, CedarValueJson>, chain?: Chain): PolicyVerdict {
  return k.policy.evaluate(policyRequest(contract, cap, context, chain));
}

export function policyRequest(contract: Contract, cap: Capability, context: Record<string, CedarValueJson>, chain?: Chain): PolicyRequest {
  // A delegated call is decided as its root, whose contract answers for the subtree, told the caller's place (ADR-022).
  const governing = chain && chain.length > 1 ? (chain[0] as Link).contract : contract;
  return {
    agent: policyPrincipal(chain, { id: governing.agent, role: governing.role }),
    capability: { id: cap.def.id, version: cap.def.version, sideEffect: cap.def.sideEffect, ...(cap.upstream ? { upstream: cap.upstream.server } : {}) },
    context,
  };
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
export const decidePolicy: Stage<ValidatedState, DecidedState> = (k, validated) => {
  const { flow } = validated;
  const request = policyRequest(validated.contract, validated.capability, validated.policyContext, flow.chain);
  const verdict = k.policy.evaluate(request);
  const text = canonicalJson({ principal: request.agent, resource: request.capability, context: request.context });
  const s = extend(validated, { verdict, policyInput: { text, hash: sha256Hex(text) } });
  const reasons = policyReasons(verdict);
  // An erroring policy is a fault in the workspace, not the agent's: an operator must see which and why.
  if (verdict.kind === 'error') flow.log.warn({ step: 'policy', decision_id: flow.decisionId, decision: 'error', policies: verdict.policies, policy_errors: verdict.failures.map(({ policy, kind, summary }) => ({ policy, kind, summary })), reasons }, 'a policy failed to evaluate; failing closed');
  else flow.log.info({ step: 'policy', decision_id: flow.decisionId, decision: verdict.kind, policies: verdict.policies, reasons }, 'policy decided');
  mark(k, flow, 'policy');
  if (verdict.kind === 'permit' || verdict.kind === 'escalate') return next(s);
  return finishRejected(k, flow, policyEvent(k, s), verdictDetails(verdict), verdict.policies, 'rejected', policyInputOps(k, s));
};

/**
 * The policy request's input kept in the decision's row for `mandate policy
 * impact` (ADR-023, ADR-040), unless the workspace keeps none; the ledger's
 * PolicyDecided holds its hash either way.
 */
export function policyInputOps(k: KernelCore, s: DecidedState, gates: string[] = []): Op[] {
  if (k.deps.workspace.config.retention.policy_inputs_days === 0) return [];
  const { flow, policyInput: input } = s;
  const row = { decision_id: flow.decisionId, capability: s.capability.def.id, verdict: s.verdict.kind, gates, input: input.text, input_hash: input.hash };
  return [{ op: 'policy_input.put', row }];
}

/** The refusal's details for a verdict that refuses: an evaluation error names each failing policy and its kind, never a value. */
export function verdictDetails(verdict: Exclude<PolicyVerdict, { kind: 'permit' | 'escalate' }>, prefix = ''): ReasonDetail[] {
  if (verdict.kind === 'error') return verdict.failures.map((f) => ({ code: 'POLICY_ERROR' as const, message: `${prefix}${failureMessage(f)}` }));
  const code = policyReasons(verdict)[0] as ReasonCode;
  return [{ code, message: `${prefix}${verdict.kind === 'forbid' ? `forbidden by ${verdict.policies.join(', ')}` : 'no policy permits this request'}` }];
}

/** The `PolicyDecided` event as the verdict stands. */
export function policyEvent(k: KernelCore, s: DecidedState, gates: string[] = []) {
  const { verdict } = s;
  if (gates.length) {
    return event(s.flow, 'PolicyDecided', { reasons: ['ESCALATION_REQUIRED'], data: { decision: 'escalate', policies: verdict.policies, policy_set_hash: k.policy.set.hash, steward_gates: gates, ...inputHash(s), ...contractRef(s.contract), ...chainRef(s.flow.chain) } });
  }
  // An evaluation error is on the record with each policy and kind (never Cedar's message, which quotes values).
  const errors = verdict.kind === 'error' ? { policy_errors: verdict.failures.map(({ policy, kind, summary }) => ({ policy, kind, summary })) } : {};
  return event(s.flow, 'PolicyDecided', { reasons: policyReasons(verdict), data: { decision: verdict.kind, policies: verdict.policies, policy_set_hash: k.policy.set.hash, ...errors, ...inputHash(s), ...contractRef(s.contract), ...chainRef(s.flow.chain) } });
}

/** The hash of the policy request's input: what proves a stored replay input untampered (ADR-023). */
function inputHash(s: DecidedState): { policy_input_hash: string } {
  return { policy_input_hash: s.policyInput.hash };
}
