import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import type { CedarValueJson, EntityJson } from '@cedar-policy/cedar-wasm/nodejs';
import { ACTION_TYPE, AGENT_TYPE, CAPABILITY_TYPE, INVOKE_ACTION, type CompiledPolicySet } from './compile.js';

export interface PolicyRequest {
  agent: { id: string; role: string };
  /** `upstream`: the upstream server of a gateway tool (policies see `resource.upstream`). */
  capability: { id: string; version: string; sideEffect: string; upstream?: string | undefined };
  context: Record<string, CedarValueJson>;
}

export type PolicyVerdict =
  | { kind: 'permit'; policies: string[] }
  | { kind: 'escalate'; policies: string[]; reasons: string[] }
  | { kind: 'forbid'; policies: string[] }
  | { kind: 'no_permit'; policies: [] }
  | { kind: 'error'; policies: string[]; errors: string[] };

/**
 * Evaluates requests against a pre-parsed policy set. Fails closed: any
 * evaluation error (Cedar would silently skip an erroring forbid) is an error
 * verdict, never a permit.
 */
export class PolicyEngine {
  private readonly setId: string;

  constructor(readonly set: CompiledPolicySet) {
    this.setId = `mandate-${set.hash}`;
    const staticPolicies = Object.fromEntries(Object.entries(set.policies).map(([id, p]) => [id, p.text]));
    const parsed = cedar.preparsePolicySet(this.setId, { staticPolicies });
    if (parsed.type === 'failure') {
      throw new Error(`policy set failed to parse: ${parsed.errors.map((e) => e.message).join('; ')}`);
    }
  }

  evaluate(req: PolicyRequest): PolicyVerdict {
    const entities: EntityJson[] = [
      { uid: { type: AGENT_TYPE, id: req.agent.id }, attrs: { role: req.agent.role }, parents: [] },
      {
        uid: { type: CAPABILITY_TYPE, id: req.capability.id },
        attrs: { id: req.capability.id, version: req.capability.version, side_effect: req.capability.sideEffect, ...(req.capability.upstream ? { upstream: req.capability.upstream } : {}) },
        parents: [],
      },
    ];
    const answer = cedar.statefulIsAuthorized({
      principal: { type: AGENT_TYPE, id: req.agent.id },
      action: { type: ACTION_TYPE, id: INVOKE_ACTION },
      resource: { type: CAPABILITY_TYPE, id: req.capability.id },
      context: req.context,
      entities,
      preparsedPolicySetId: this.setId,
    });
    if (answer.type === 'failure') {
      return { kind: 'error', policies: [], errors: answer.errors.map((e) => e.message) };
    }
    const { decision, diagnostics } = answer.response;
    const policies = [...diagnostics.reason].sort();
    if (diagnostics.errors.length) {
      return {
        kind: 'error',
        policies: diagnostics.errors.map((e) => e.policyId).sort(),
        errors: diagnostics.errors.map((e) => `${e.policyId}: ${e.error.message}`),
      };
    }
    if (decision === 'deny') return policies.length ? { kind: 'forbid', policies } : { kind: 'no_permit', policies: [] };
    // An @escalate permit turns an allowed request into a pending one; on its own it allows nothing.
    if (!policies.some((id) => !this.set.policies[id]?.escalate)) return { kind: 'no_permit', policies: [] };
    const escalations = policies.map((id) => this.set.policies[id]?.escalate).filter((r): r is string => !!r);
    return escalations.length ? { kind: 'escalate', policies, reasons: escalations } : { kind: 'permit', policies };
  }
}
