import * as cedar from './cedar.js';
import { policyFailure, type PolicyFailure } from './errors.js';
import type { CedarValueJson, EntityJson } from '@cedar-policy/cedar-wasm/nodejs';
import { ACCESS_ACTIONS, ACTION_TYPE, AGENT_TYPE, CAPABILITY_TYPE, INVOKE_ACTION, type AccessKind, type CompiledPolicySet } from './compile.js';

/**
 * The principal Cedar sees. For a delegated call it is the root agent (whose
 * contract answers for its subtree), with the caller's place in the chain
 * (ADR-022); otherwise depth 0 and root = caller = the agent.
 */
export interface PolicyAgent {
  id: string;
  role: string;
  depth?: number;
  root?: string;
  caller?: string;
  delegated_by?: string;
}

export interface PolicyRequest {
  agent: PolicyAgent;
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
  | { kind: 'error'; policies: string[]; failures: PolicyFailure[] };

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
interface Subset {
  id: string;
  policies: ScopedPolicy[];
  /** What the policies that can apply to one action and resource mention, by `action\0type\0id`. */
  scoped: Map<string, (name: string) => boolean>;
}

/** A policy's text and the action and resource its scope admits (null: any, or a form not narrowed here). */
interface ScopedPolicy {
  text: string;
  action: string | null;
  resource: { type: string; id: string } | null;
}

type ScopeJson = { op: string; entity?: { type: string; id: string } };

/** The one entity an `==` scope admits; anything else (`All`, `in`, `is`, slots) is treated as admitting every entity. */
function exactEntity(scope: ScopeJson | undefined): { type: string; id: string } | null {
  return scope?.op === '==' && scope.entity ? scope.entity : null;
}

const MAX_CACHED_ENTITIES = 100_000;
const MAX_CACHED_SCOPES = 100_000;
/** Cedar answers kept by their exact input; the oldest goes first beyond it. */
const MAX_CACHED_ANSWERS = 10_000;

/** A verdict the caller may keep or change without touching the one kept for the next identical request. */
function copyVerdict(v: PolicyVerdict): PolicyVerdict {
  switch (v.kind) {
    case 'error':
      return { kind: 'error', policies: v.policies.slice(), failures: v.failures.slice() };
    case 'escalate':
      return { kind: 'escalate', policies: v.policies.slice(), reasons: v.reasons.slice() };
    case 'no_permit':
      return { kind: 'no_permit', policies: [] };
    default:
      return { kind: v.kind, policies: v.policies.slice() };
  }
}

export class PolicyEngine {
  private readonly shared: Record<string, string> = {};
  private readonly byAgent = new Map<string, Record<string, string>>();
  private readonly parsed = new Map<string, Subset>();
  /** Request entities by agent, role and capability: built once, reused for every call. */
  private readonly entities = new Map<string, EntityJson[]>();
  /**
   * Cedar's verdicts by the exact request it was given (ADR-037). Cedar is a
   * pure function of the pre-parsed set, the entities and the context, and
   * this engine's set never changes (a reload builds a new engine), so a
   * request identical to one already answered gets the same verdict without
   * the wasm call. The key is the JSON text of everything Cedar sees, so any
   * difference in a value Cedar could read is a different key.
   */
  private readonly answers = new Map<string, PolicyVerdict>();

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

  /** The pre-parsed set of this agent's subset (files + its own contract), and the names its policies mention. */
  private setFor(agent: string): Subset {
    // Agents without a contract share one key, so the cache is bounded by the contracts.
    const key = this.byAgent.has(agent) ? agent : '';
    const known = this.parsed.get(key);
    if (known) return known;
    const id = `mandate-${this.set.hash}-${key || '(none)'}`;
    const policies = { ...this.shared, ...(this.byAgent.get(key) ?? {}) };
    const parsed = cedar.preparsePolicySet(id, { staticPolicies: policies });
    if (parsed.type === 'failure') throw new Error(`policy set failed to parse: ${parsed.errors.map((e) => e.message).join('; ')}`);
    const subset: Subset = { id, policies: Object.values(policies).map(scoped), scoped: new Map() };
    this.parsed.set(key, subset);
    return subset;
  }

  /**
   * Whether a name appears in a policy of the subset that can apply to this
   * action and resource. A policy whose scope names another action or
   * resource is not satisfied whatever its conditions say, and Cedar never
   * evaluates those conditions, so what only such policies read need not be
   * passed (the payments policies' `context.values` is not converted for a
   * call to another capability).
   */
  private mentionsFor(subset: Subset, action: string, resource: { type: string; id: string }): (name: string) => boolean {
    const key = `${action}\0${resource.type}\0${resource.id}`;
    const known = subset.scoped.get(key);
    if (known) return known;
    // Plain loops on this path: array builtins with callbacks here tripped a V8 deoptimizer crash on Node 20 (docs/performance.md).
    const texts: string[] = [];
    for (const p of subset.policies) {
      if ((p.action === null || p.action === action) && (p.resource === null || (p.resource.type === resource.type && p.resource.id === resource.id))) texts.push(p.text);
    }
    const answers = new Map<string, boolean>();
    const mentions = (name: string): boolean => {
      let answer = answers.get(name);
      if (answer === undefined) {
        answer = false;
        for (const t of texts) if (t.includes(name)) answer = true;
        answers.set(name, answer);
      }
      return answer;
    };
    // Bounded by the workspace's actions × capabilities (and pinned primitives).
    if (subset.scoped.size < MAX_CACHED_SCOPES) subset.scoped.set(key, mentions);
    return mentions;
  }

  /**
   * The request's entities. Cedar converts every attribute on every call, so
   * only attributes the subset's policies can read are passed: reading one
   * (`resource.side_effect`, `resource has upstream`, `resource["id"]`) needs
   * its name in the policy text, so leaving out the others changes no answer.
   */
  private entitiesFor(key: string, agent: PolicyAgent, resource: { type: string; id: string }, attrs: Record<string, CedarValueJson>, mentions: (name: string) => boolean): EntityJson[] {
    const known = this.entities.get(key);
    if (known) return known;
    const named = (all: Record<string, CedarValueJson>) => {
      const out: Record<string, CedarValueJson> = {};
      for (const name of Object.keys(all)) if (mentions(name)) out[name] = all[name] as CedarValueJson;
      return out;
    };
    const built: EntityJson[] = [
      {
        uid: { type: AGENT_TYPE, id: agent.id },
        attrs: named({ role: agent.role, depth: agent.depth ?? 0, root: agent.root ?? agent.id, caller: agent.caller ?? agent.id, ...(agent.delegated_by ? { delegated_by: agent.delegated_by } : {}) }),
        parents: [],
      },
      { uid: resource, attrs: named(attrs), parents: [] },
    ];
    // Bounded by agents × capabilities (and pinned primitives) of the workspace.
    if (this.entities.size < MAX_CACHED_ENTITIES) this.entities.set(key, built);
    return built;
  }

  evaluate(req: PolicyRequest): PolicyVerdict {
    const c = req.capability;
    const attrs = { id: c.id, version: c.version, side_effect: c.sideEffect, ...(c.upstream ? { upstream: c.upstream } : {}) };
    return this.decide(req.agent, INVOKE_ACTION, { type: CAPABILITY_TYPE, id: c.id }, attrs, req.context);
  }

  /** The same evaluation for an upstream's other primitives, under their own action. */
  evaluateAccess(req: AccessRequest): PolicyVerdict {
    return this.decide(req.agent, ACCESS_ACTIONS[req.kind], { type: req.resource.type, id: req.resource.id }, req.resource.attrs, req.context);
  }

  private decide(agent: PolicyAgent, action: string, resource: { type: string; id: string }, attrs: Record<string, CedarValueJson>, context: Record<string, CedarValueJson>): PolicyVerdict {
    const subset = this.setFor(agent.id);
    const mentions = this.mentionsFor(subset, action, resource);
    // Likewise for the context's top-level fields (values, facts, usage, now).
    const passed: Record<string, CedarValueJson> = {};
    for (const name of Object.keys(context)) if (mentions(name)) passed[name] = context[name] as CedarValueJson;
    // The entities' key names the subset, principal, action and resource; with the context passed, it is the whole request.
    const entityKey = JSON.stringify([subset.id, agent.id, agent.role, agent.depth ?? 0, agent.root ?? agent.id, agent.caller ?? agent.id, agent.delegated_by ?? null, action, resource.type, resource.id, attrs]);
    const answerKey = `${entityKey}\0${JSON.stringify(passed)}`;
    const known = this.answers.get(answerKey);
    if (known) return copyVerdict(known);
    const verdict = this.ask(agent, action, resource, passed, this.entitiesFor(entityKey, agent, resource, attrs, mentions), subset.id);
    if (this.answers.size >= MAX_CACHED_ANSWERS) this.answers.delete(this.answers.keys().next().value as string);
    this.answers.set(answerKey, verdict);
    return copyVerdict(verdict);
  }

  /** Cedar's answer, read as a verdict. */
  private ask(agent: PolicyAgent, action: string, resource: { type: string; id: string }, passed: Record<string, CedarValueJson>, entities: EntityJson[], setId: string): PolicyVerdict {
    const answer = cedar.statefulIsAuthorized({
      principal: { type: AGENT_TYPE, id: agent.id },
      action: { type: ACTION_TYPE, id: action },
      resource,
      context: passed,
      entities,
      preparsedPolicySetId: setId,
    });
    if (answer.type === 'failure') {
      // The request itself could not be evaluated (a malformed entity or context): no policy to name.
      return { kind: 'error', policies: [], failures: [policyFailure('(request)', answer.errors.map((e) => e.message).join('; '))] };
    }
    const { decision, diagnostics } = answer.response;
    const policies = [...diagnostics.reason].sort();
    if (diagnostics.errors.length) {
      const failures: PolicyFailure[] = [];
      for (const e of diagnostics.errors) failures.push(policyFailure(e.policyId, e.error.message));
      failures.sort((a, b) => a.policy.localeCompare(b.policy));
      return { kind: 'error', policies: failures.map((f) => f.policy), failures };
    }
    if (decision === 'deny') return policies.length ? { kind: 'forbid', policies } : { kind: 'no_permit', policies: [] };
    // An @escalate permit turns an allowed request into a pending one; on its own it allows nothing.
    const escalations: string[] = [];
    let permits = 0;
    for (const id of policies) {
      const reason = this.set.policies[id]?.escalate;
      if (reason) escalations.push(reason);
      else permits++;
    }
    if (!permits) return { kind: 'no_permit', policies: [] };
    return escalations.length ? { kind: 'escalate', policies, reasons: escalations } : { kind: 'permit', policies };
  }
}

/** A policy with the action and resource its scope admits, read from Cedar's JSON form of it. */
function scoped(text: string): ScopedPolicy {
  const json = cedar.policyToJson(text);
  if (json.type === 'failure') return { text, action: null, resource: null };
  const { action, resource } = json.json as unknown as { action?: ScopeJson; resource?: ScopeJson };
  const exactAction = exactEntity(action);
  return { text, action: exactAction && exactAction.type === ACTION_TYPE ? exactAction.id : null, resource: exactEntity(resource) };
}
