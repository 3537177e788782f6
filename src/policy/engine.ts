import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import type { CedarValueJson, EntityJson } from '@cedar-policy/cedar-wasm/nodejs';
import { ACCESS_ACTIONS, ACTION_TYPE, AGENT_TYPE, CAPABILITY_TYPE, INVOKE_ACTION, type AccessKind, type CompiledPolicySet } from './compile.js';

export interface PolicyRequest {
  agent: { id: string; role: string };
  /** `upstream`: the upstream server of a gateway tool (policies see `resource.upstream`). */
  capability: { id: string; version: string; sideEffect: string; upstream?: string | undefined };
  context: Record<string, CedarValueJson>;
}

/** A request for an upstream's resource, prompt, or a sampling or elicitation relay (ADR-013). */
export interface AccessRequest {
  agent: { id: string; role: string };
  kind: AccessKind;
  /** The entity: Mandate::Resource, Mandate::Prompt or Mandate::Upstream, with its attributes. */
  resource: { type: string; id: string; attrs: Record<string, CedarValueJson> };
  context: Record<string, CedarValueJson>;
}

export type PolicyVerdict =
  | { kind: 'permit'; policies: string[] }
  | { kind: 'escalate'; policies: string[]; reasons: string[] }
  | { kind: 'forbid'; policies: string[] }
  | { kind: 'no_permit'; policies: [] }
  | { kind: 'error'; policies: string[]; errors: string[] };

/**
 * Evaluates requests against pre-parsed policy sets. Fails closed: any
 * evaluation error (Cedar would silently skip an erroring forbid) is an error
 * verdict, never a permit.
 *
 * Cedar evaluates every policy of a set, so one set holding every agent's
 * contract grew linearly with the number of agents (issue 8: ~30 ms per
 * decision with 1,000 contracts). A contract's policies are all scoped to
 * `principal == Mandate::Agent::"<agent>"` and can never match another
 * principal, so each agent is evaluated against its own subset: the
 * workspace's policy files plus its own contract. The decision is the same
 * as against the whole set; subsets are pre-parsed on first use.
 */
export class PolicyEngine {
  private readonly shared: Record<string, string> = {};
  private readonly byAgent = new Map<string, Record<string, string>>();
  private readonly parsed = new Map<string, string>();

  constructor(readonly set: CompiledPolicySet) {
    for (const [id, p] of Object.entries(set.policies)) {
      const agent = p.source.startsWith('contract:') ? p.source.slice('contract:'.length) : null;
      if (agent === null) this.shared[id] = p.text;
      else {
        const own = this.byAgent.get(agent) ?? {};
        own[id] = p.text;
        this.byAgent.set(agent, own);
      }
    }
    // Parse the whole set once up front, so a broken policy fails at start, not on first use.
    const whole = Object.fromEntries(Object.entries(set.policies).map(([id, p]) => [id, p.text]));
    const check = cedar.checkParsePolicySet({ staticPolicies: whole });
    if (check.type === 'failure') throw new Error(`policy set failed to parse: ${check.errors.map((e) => e.message).join('; ')}`);
  }

  /** The pre-parsed set id for this agent's subset (files + its own contract). */
  private setFor(agent: string): string {
    // Agents without a contract share one key, so the cache is bounded by the contracts.
    const key = this.byAgent.has(agent) ? agent : '';
    const known = this.parsed.get(key);
    if (known) return known;
    const setId = `mandate-${this.set.hash}-${key || '(none)'}`;
    const parsed = cedar.preparsePolicySet(setId, { staticPolicies: { ...this.shared, ...(this.byAgent.get(key) ?? {}) } });
    if (parsed.type === 'failure') throw new Error(`policy set failed to parse: ${parsed.errors.map((e) => e.message).join('; ')}`);
    this.parsed.set(key, setId);
    return setId;
  }

  evaluate(req: PolicyRequest): PolicyVerdict {
    const resource = { type: CAPABILITY_TYPE, id: req.capability.id };
    const attrs = { id: req.capability.id, version: req.capability.version, side_effect: req.capability.sideEffect, ...(req.capability.upstream ? { upstream: req.capability.upstream } : {}) };
    return this.decide(req.agent, INVOKE_ACTION, resource, attrs, req.context);
  }

  /** The same evaluation for an upstream's other primitives, under their own action. */
  evaluateAccess(req: AccessRequest): PolicyVerdict {
    return this.decide(req.agent, ACCESS_ACTIONS[req.kind], { type: req.resource.type, id: req.resource.id }, req.resource.attrs, req.context);
  }

  private decide(agent: { id: string; role: string }, action: string, resource: { type: string; id: string }, attrs: Record<string, CedarValueJson>, context: Record<string, CedarValueJson>): PolicyVerdict {
    const entities: EntityJson[] = [
      { uid: { type: AGENT_TYPE, id: agent.id }, attrs: { role: agent.role }, parents: [] },
      { uid: resource, attrs, parents: [] },
    ];
    const answer = cedar.statefulIsAuthorized({
      principal: { type: AGENT_TYPE, id: agent.id },
      action: { type: ACTION_TYPE, id: action },
      resource,
      context,
      entities,
      preparsedPolicySetId: this.setFor(agent.id),
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
