import { setTimeout as sleep } from 'node:timers/promises';
import { grantFor } from '../config/contract-schema.js';
import { hashOf } from '../core/canonical.js';
import type { ReasonCode } from '../core/reasons.js';
import type { Intent, Outcome } from '../core/types.js';
import type { DecisionRecord } from '../store/port/index.js';
import type { Op } from '../store/port/index.js';
import type { KernelCore } from './context.js';
import { recheckLimits } from './dim.js';
import { performEffect } from './effect.js';
import { policyContext } from '../policy/context.js';
import { contractPeriod } from './contract-period.js';
import { usageForPolicy, usageSnapshot } from './facts.js';
import { event, finishOp, newFlow, observed, outcomeOf, type Flow } from './flow.js';
import { commitFlow, refuseBeforeEffect } from './record.js';
import { evaluatePolicy, verdictDetails } from './stages/policy.js';
import { statusCode } from './status.js';
import { withConstraints } from './stewards.js';
import { approvePlan } from './plans/approve.js';
import { PLAN_CAPABILITY } from './plans/request.js';
import { ancestorsAllow, chainHolds } from './delegation/call-checks.js';

/** get_decision's long poll: at most a minute, checking the store every 200 ms. */
export const MAX_WAIT_MS = 60_000;
const WAIT_POLL_MS = 200;
/** With pushed changes, the re-read that covers a lost push (the listener reconnecting). */
const PUSHED_REREAD_MS = 2_000;

/** An operator-facing error with a reason code (CLI and operator API only). */
export class KernelError extends Error {
  constructor(
    readonly code: ReasonCode,
    message: string,
  ) {
    super(message);
    this.name = 'KernelError';
  }
}

/** Resolves an escalation as approved and resumes the flow at the idempotency step. */
export async function approve(k: KernelCore, decisionId: string, operator: string, note: string | null): Promise<Outcome> {
  const d = await pendingOrThrow(k, decisionId);
  const flow = flowOf(k, d);
  return observed(k, flow, await approveFlow(k, d, flow, operator, note));
}

async function approveFlow(k: KernelCore, d: DecisionRecord, flow: Flow, operator: string, note: string | null): Promise<Outcome> {
  const { store, world } = k.deps;
  if (world.now() >= (d.expires_at ?? 0)) return closeEscalation(k, flow, 'expired', 'system:expiry', null);
  // Resolution and key hand-over are one commit: an approval is single-use.
  const resolved = await commitFlow(k, flow, [
    { op: 'decision.resolve', id: d.id, status: 'approved', by: operator, note, at: world.now() },
    { op: 'key.state', agent: flow.agent, key: flow.key as string, state: 'in_flight', decision_id: d.id },
    // From here the key is held for this run: a crash before the outcome is settled by crash recovery (ADR-017).
    { op: 'decision.running', id: d.id, runner: k.deps.runner ?? null, key: flow.key as string, intent: d.intent as Intent },
    event(flow, 'EscalationResolved', { reasons: ['ESCALATION_APPROVED'], data: { resolution: 'approved', by: operator, note_hash: note ? hashOf(note) : null } }),
  ]);
  if (!resolved.ok) throw new KernelError('DECISION_NOT_FOUND', 'decision is no longer pending');
  flow.log.info({ step: 'approval', decision_id: d.id, by: operator }, 'escalation approved');

  // Resume with exactly the stored request; nothing the agent sends now can change it.
  const intent = d.intent as Intent;
  // A plan's approval starts the plan it binds (ADR-025).
  if (intent.capability === PLAN_CAPABILITY) return approvePlan(k, flow, d, operator);
  const contract = k.contractOf(d.agent);
  const cap = k.deps.workspace.capabilities.get(intent.capability);
  const parsed = cap?.def.input.safeParse(intent.params);
  if (!contract || !cap || !parsed?.success || !grantFor(contract, cap.def.id)) {
    const code: ReasonCode = !contract ? 'UNKNOWN_AGENT' : !cap ? 'CAPABILITY_UNKNOWN' : !grantFor(contract, cap.def.id) ? 'CAPABILITY_NOT_GRANTED' : 'SCHEMA_INVALID';
    return refuseBeforeEffect(k, flow, [{ code, message: 'the contract or capability changed since the escalation' }], d.policies);
  }
  // A delegated caller's chain as it stands now: a revoke, an expiry or an intervention above it since the escalation wins (ADR-022).
  const chain = await k.delegations.chain(d.agent);
  if (chain && chain.length > 1) {
    flow.chain = chain;
    const held = await chainHolds(k, chain, d.agent, d.dfid, world.now());
    if (held.length) return refuseBeforeEffect(k, flow, held, d.policies);
  }
  const lapsed = contractPeriod(contract, world.now());
  if (lapsed.length) return refuseBeforeEffect(k, flow, lapsed, d.policies);
  const flowStatus = await store.agents.flowStatus(d.dfid, d.agent);
  if (flowStatus !== 'active') {
    return refuseBeforeEffect(k, flow, [{ code: flowStatus === 'paused' ? 'FLOW_PAUSED' : 'FLOW_TERMINATED', message: `flow is ${flowStatus}` }], d.policies);
  }
  const status = await store.agents.status(d.agent);
  if (status !== 'active') return refuseBeforeEffect(k, flow, [{ code: statusCode(status), message: `agent is ${status}` }], d.policies);
  const facts = d.facts ?? {};
  const values = { ...parsed.data, ...(cap.def.derive ? cap.def.derive(parsed.data, facts) : {}) };
  // Limits and budgets as they stand now: an approval never bypasses a budget or a new constraint.
  const grant = grantFor(withConstraints(contract, cap.def.id, await store.agents.constraints(d.agent, cap.def.id, world.now())), cap.def.id);
  const usage = grant ? await usageSnapshot(k, d.agent, cap.def.id, grant.limits.budgets ?? []) : {};
  const over = grant ? recheckLimits(grant, values, usage) : [];
  if (over.length) return refuseBeforeEffect(k, flow, over, d.policies);
  const above = await ancestorsAllow(k, flow.chain, cap, values);
  if (above.details.length) return refuseBeforeEffect(k, flow, above.details, d.policies);
  // Policies as they stand now: a forbid added since the escalation still wins.
  const context = policyContext(cap, values, facts, usageForPolicy(above.rootUsage ?? usage), world.now());
  if (!context.ok) return refuseBeforeEffect(k, flow, context.details, d.policies);
  const now = evaluatePolicy(k, contract, cap, context.context, flow.chain);
  if (now.kind === 'forbid' || now.kind === 'no_permit' || now.kind === 'error') {
    return refuseBeforeEffect(k, flow, verdictDetails(now, 'the policies no longer permit this request: '), now.policies);
  }
  return performEffect(k, flow, cap, { params: parsed.data, facts, values, requestHash: d.request_hash, policies: d.policies, observedVersion: intent.observed_version }, 'approved');
}

export async function deny(k: KernelCore, decisionId: string, operator: string, note: string | null): Promise<Outcome> {
  const d = await pendingOrThrow(k, decisionId);
  const flow = flowOf(k, d);
  return observed(k, flow, await closeEscalation(k, flow, 'denied', operator, note));
}

/** Withdraws a pending escalation for its own caller (an MCP task cancelled): nothing ran, so the key is released. */
export async function withdraw(k: KernelCore, decisionId: string, by: string): Promise<Outcome> {
  const d = await pendingOrThrow(k, decisionId);
  const flow = flowOf(k, d);
  return observed(k, flow, await closeEscalation(k, flow, 'denied', by, null, 'CANCELLED'));
}

/** Expires one overdue pending decision. */
export async function expire(k: KernelCore, decisionId: string): Promise<Outcome> {
  const d = await pendingOrThrow(k, decisionId);
  const flow = flowOf(k, d);
  return observed(k, flow, await closeEscalation(k, flow, 'expired', 'system:expiry', null));
}

/** Expires every pending decision whose time has passed; returns how many. */
export async function expireOverdue(k: KernelCore): Promise<number> {
  const now = k.deps.world.now();
  let n = 0;
  for (const d of await k.deps.store.decisions.pending()) {
    if (d.expires_at !== null && d.expires_at <= now) {
      try {
        await expire(k, d.id);
        n++;
      } catch {
        // resolved concurrently by another process: nothing to do
      }
    }
  }
  return n;
}

/** The recorded outcome of a decision, if it belongs to `agent` (operators pass null). */
export async function getDecision(k: KernelCore, agent: string | null, decisionId: string): Promise<Outcome | null> {
  const d = await k.deps.store.decisions.get(decisionId);
  // An agent's plan steps run as the plan's sub-mandate, and are the agent's own decisions (ADR-025).
  if (!d || (agent !== null && d.agent !== agent && !(await isPlanOf(k, d.agent, agent)))) return null;
  if (d.status === 'pending' && d.expires_at !== null && d.expires_at <= k.deps.world.now()) {
    try {
      return await expire(k, decisionId);
    } catch {
      return (await k.deps.store.decisions.get(decisionId))?.outcome ?? null;
    }
  }
  if (d.status === 'running' && !d.outcome) {
    // Started and not yet recorded: say so rather than that it does not exist.
    return {
      verdict: 'accepted',
      reasons: ['IN_PROGRESS'],
      details: [{ code: 'IN_PROGRESS', message: 'the effect is running' }],
      dfid: d.dfid,
      decision_id: d.id,
      capability: d.capability,
      idempotency_key: d.idempotency_key,
      status: 'running',
      policies: d.policies,
      receipt: null,
    };
  }
  return d.outcome;
}

/**
 * Long poll: the decision's outcome once it is no longer pending, or its
 * pending outcome when `waitMs` passes (or `signal` aborts). A store that
 * pushes (PostgreSQL) wakes it when the decision changes on any replica,
 * with a slow re-read in case a push was lost; otherwise it polls the store,
 * so an approval from any process (CLI, another replica) is seen.
 */
export async function waitForDecision(k: KernelCore, agent: string | null, decisionId: string, waitMs: number, signal?: AbortSignal): Promise<Outcome | null> {
  const until = Date.now() + Math.min(Math.max(waitMs, 0), MAX_WAIT_MS);
  const pushes = k.deps.store.notifications;
  let wake: (() => void) | null = null;
  let changed = false;
  const off = pushes?.on('decision', (id) => {
    if (id !== decisionId) return;
    changed = true;
    wake?.();
  });
  try {
    for (;;) {
      changed = false;
      const outcome = await getDecision(k, agent, decisionId);
      if (!outcome || outcome.status !== 'pending' || Date.now() >= until || signal?.aborted) return outcome;
      if (changed) continue; // it moved while we read: read again
      const pause = Math.min(pushes ? PUSHED_REREAD_MS : WAIT_POLL_MS, Math.max(until - Date.now(), 1));
      const ac = new AbortController();
      const stop = () => ac.abort();
      wake = stop;
      signal?.addEventListener('abort', stop, { once: true });
      await sleep(pause, undefined, { signal: ac.signal }).catch(() => undefined);
      signal?.removeEventListener('abort', stop);
      wake = null;
    }
  } finally {
    off?.();
  }
}

async function closeEscalation(k: KernelCore, flow: Flow, status: 'denied' | 'expired', by: string, note: string | null, withdrawn?: 'CANCELLED'): Promise<Outcome> {
  const { store, world } = k.deps;
  const code: ReasonCode = withdrawn ?? (status === 'denied' ? 'ESCALATION_DENIED' : 'ESCALATION_EXPIRED');
  const prior = await store.decisions.get(flow.decisionId);
  const message = withdrawn ? `cancelled by ${by} before a human decided` : status === 'denied' ? `denied by ${by}` : 'nobody decided before the expiry';
  const outcome = outcomeOf(flow, 'rejected', status, [{ code, message }], prior?.policies ?? []);
  // A withdrawn request never ran, so its key is released; a denied or expired one keeps its answer.
  const keyOp: Op[] = !flow.key
    ? []
    : withdrawn
      ? [{ op: 'key.release', agent: flow.agent, key: flow.key, decision_id: flow.decisionId }]
      : [{ op: 'key.state', agent: flow.agent, key: flow.key, state: 'failed', decision_id: flow.decisionId }];
  const r = await commitFlow(k, flow, [
    { op: 'decision.resolve', id: flow.decisionId, status, by, note, at: world.now() },
    ...keyOp,
    event(flow, 'EscalationResolved', { reasons: [code], data: { resolution: status, by, note_hash: note ? hashOf(note) : null } }),
    finishOp(flow, outcome),
  ]);
  if (!r.ok) throw new KernelError('DECISION_NOT_FOUND', 'decision is no longer pending');
  flow.log.info({ step: 'approval', decision_id: flow.decisionId, resolution: withdrawn ? 'cancelled' : status }, 'escalation closed');
  return outcome;
}

async function isPlanOf(k: KernelCore, child: string, agent: string): Promise<boolean> {
  return child.startsWith(`${agent}/plan/`) && (await k.deps.store.plans.byChild(child))?.agent === agent;
}

async function pendingOrThrow(k: KernelCore, decisionId: string): Promise<DecisionRecord> {
  const d = await k.deps.store.decisions.get(decisionId);
  if (!d) throw new KernelError('DECISION_NOT_FOUND', `no decision \`${decisionId}\``);
  if (d.status !== 'pending') throw new KernelError('DECISION_NOT_FOUND', `decision \`${decisionId}\` is ${d.status}, not pending`);
  return d;
}

/** The flow of a stored decision, resumed under its own id and key. */
function flowOf(k: KernelCore, d: DecisionRecord): Flow {
  return newFlow(k, { agent: d.agent, dfid: d.dfid, decisionId: d.id, capability: d.capability, key: d.idempotency_key ?? `derived:${d.request_hash}` });
}
