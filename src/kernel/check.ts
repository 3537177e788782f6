import type { Facts, Values } from '../capabilities/manifest.js';
import type { Contract } from '../config/contract-schema.js';
import { hashOf } from '../core/canonical.js';
import type { ReasonCode } from '../core/reasons.js';
import type { Outcome, ReasonDetail, Receipt } from '../core/types.js';
import type { World } from '../core/world.js';
import type { StorePort } from '../store/port/index.js';
import type { KernelCore } from './context.js';
import { newFlow, outcomeOf } from './flow.js';
import { gatesFor } from './stages/escalate.js';
import { bindCapability } from './stages/idempotency.js';
import { checkShape, checkStanding, receive } from './stages/intake.js';
import { normalize } from './stages/normalize.js';
import { decidePolicy } from './stages/policy.js';
import { StageChain } from './stages/chain.js';
import { next, type CallState } from './stages/state.js';
import { validate } from './stages/validate.js';

export interface CheckRequest {
  agent: string;
  capability: string;
  params: unknown;
  /** The state version the agent would say it observed (TOCTOU), if any. */
  observed_version?: string | number | undefined;
  /** Judge as of this time (epoch ms); default: now. */
  at?: number | undefined;
  /** Who asked (an operator's name), for the record. */
  by: string;
}

/** Who would decide an escalation: any operator, the supervisors whose contracts approve this agent, and the user's client where the contract allows it. */
export interface WouldEscalate {
  reasons: string[];
  /** The policies and steward gates that escalate. */
  by: string[];
  approvers: { operators: true; supervisors: string[]; client: boolean };
  expires_in_minutes: number;
}

/** "Would this call be allowed?", answered by the pipeline up to the effect. */
export interface CheckResult {
  check_id: string;
  agent: string;
  capability: string | null;
  /** The time the call was judged as of (ISO 8601). */
  as_of: string;
  verdict: Outcome['verdict'];
  reasons: ReasonCode[];
  details: ReasonDetail[];
  /** The policies that matched (permit, forbid, escalate, or failed to evaluate) and the steward gates that apply. */
  policies: string[];
  /** The params as the capability reads them, with its derived values (present once DIM ran). */
  values?: Values | undefined;
  /** The authoritative facts the decision used (present once DIM ran). */
  facts?: Facts | undefined;
  escalation?: WouldEscalate | undefined;
  policy_set_hash: string;
  /** The receipt of the `PolicyChecked` event that records this check. */
  receipt: Receipt | null;
}

/**
 * The stages of a governed call up to the decision. Not the key stage: no
 * key is reserved or even looked up (a repeat would answer from the record,
 * which says nothing about now), and nothing after the decision runs.
 */
const CHECK_STAGES = StageChain.start()
  .then(receive)
  .then(checkStanding)
  .then(checkShape)
  .then(normalize) // a check names capability and params: this only takes them as the intent
  .then((k, s) => next(bindCapability(k, s)))
  .then(validate)
  .then(decidePolicy);

/**
 * Answers whether a call would be allowed, by running the real stages on a
 * view of the kernel whose store reads as usual but whose commits are
 * dropped: no decision, key, usage or note is written, and no effect runs.
 * The check itself is recorded as one `PolicyChecked` event (hashes, the
 * verdict and the policies, never a value).
 */
export async function checkCall(k: KernelCore, req: CheckRequest): Promise<CheckResult> {
  const world: World = req.at === undefined ? k.deps.world : { ...bind(k.deps.world), now: () => req.at as number };
  const view = dryView(k, world);
  const checkId = k.deps.world.newId();
  const dfid = k.deps.world.newTraceId();
  const flow = newFlow(view, { agent: req.agent, dfid, decisionId: checkId, capability: req.capability.slice(0, 200), key: null });
  flow.log = flow.log.child({ check: true });
  const intent = { capability: req.capability, params: req.params, ...(req.observed_version !== undefined ? { observed_version: req.observed_version } : {}) };
  // What the stages that ran learnt, even when one refused the call (a policy's refusal still shows the values).
  const state: CallState = { call: { agent: req.agent, intent: intent as never, channel: 'cli' }, flow, receivedAt: world.now() };
  const ended = await CHECK_STAGES.run(view, state);
  let outcome: Outcome;
  let escalation: WouldEscalate | undefined;
  let policies: string[];
  if ('next' in ended) {
    const decided = ended.next;
    const { verdict } = decided;
    policies = verdict.policies;
    const gates = verdict.kind === 'permit' ? await gatesFor(view, decided) : [];
    if (verdict.kind === 'escalate' || gates.length) {
      const reasons = [...(verdict.kind === 'escalate' ? verdict.reasons : []), ...gates.map((g) => g.reason)];
      policies = [...verdict.policies, ...gates.map((g) => g.id)];
      escalation = wouldEscalate(k, decided.contract, reasons, [...(verdict.kind === 'escalate' ? verdict.policies.filter((p) => k.policy.set.policies[p]?.escalate) : []), ...gates.map((g) => g.id)]);
      outcome = outcomeOf(flow, 'escalated', 'pending', [{ code: 'ESCALATION_REQUIRED', message: reasons.join('; ') }], policies);
    } else {
      outcome = outcomeOf(flow, 'accepted', 'accepted', [], policies);
    }
  } else {
    outcome = ended;
    policies = outcome.policies;
  }
  const asOf = new Date(state.receivedAt).toISOString();
  const r = await k.deps.store.commit([
    {
      op: 'event',
      event: {
        dfid,
        agent: req.agent,
        type: 'PolicyChecked',
        decision_id: null,
        reasons: outcome.reasons,
        data: { check_id: checkId, by: req.by, capability: flow.capability, request_hash: hashOf({ agent: req.agent, capability: req.capability, params: req.params ?? null }), verdict: outcome.verdict, policies, as_of: asOf, policy_set_hash: k.policy.set.hash },
      },
    },
  ]);
  k.deps.log.info({ step: 'check', check_id: checkId, agent: req.agent, verdict: outcome.verdict, reasons: outcome.reasons, policies }, 'call checked');
  return {
    check_id: checkId,
    agent: req.agent,
    capability: flow.capability,
    as_of: asOf,
    verdict: outcome.verdict,
    reasons: outcome.reasons,
    details: outcome.details,
    policies,
    ...(state.validated ? { values: state.validated.values, facts: state.validated.facts } : {}),
    ...(escalation ? { escalation } : {}),
    policy_set_hash: k.policy.set.hash,
    receipt: r.ok ? (r.receipts[0] ?? null) : null,
  };
}

function wouldEscalate(k: KernelCore, contract: Contract, reasons: string[], by: string[]): WouldEscalate {
  const supervisors = [...k.deps.workspace.contracts.values()].filter((c) => c.role === 'supervisor' && c.approves.includes(contract.agent)).map((c) => c.agent);
  return {
    reasons,
    by,
    approvers: { operators: true, supervisors: supervisors.sort(), client: contract.escalation.client_approval },
    expires_in_minutes: contract.escalation.expiry_minutes ?? k.deps.workspace.config.limits.escalation_expiry_minutes,
  };
}

/** The kernel as a check sees it: the same parts, the given clock, no observer, and a store whose commits write nothing. */
function dryView(k: KernelCore, world: World): KernelCore {
  return Object.create(k, { deps: { value: { ...k.deps, world, observer: undefined, store: dryStore(k.deps.store) } } }) as KernelCore;
}

function dryStore(store: StorePort): StorePort {
  const commit: StorePort['commit'] = () => Promise.resolve({ ok: true, receipts: [], note: undefined, results: new Map() });
  return new Proxy(store, {
    get(target, prop) {
      if (prop === 'commit') return commit;
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

function bind(world: World): World {
  return { now: () => world.now(), newId: () => world.newId(), newTraceId: () => world.newTraceId() };
}
