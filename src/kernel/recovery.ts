import { hostname } from 'node:os';
import { processAlive } from '../core/process.js';
import type { Capability, ReconcileResult, Values } from '../capabilities/manifest.js';
import { hashOf } from '../core/canonical.js';
import type { Outcome } from '../core/types.js';
import type { DecisionRecord } from '../store/port/index.js';
import type { RunnerRow } from '../store/port/index.js';
import type { Op } from '../store/port/index.js';
import { KernelError } from './approvals.js';
import type { KernelCore } from './context.js';
import { event, finishOp, newFlow, outcomeOf, type Flow } from './flow.js';
import { followSettled } from './plans/steps.js';
import { grantFor } from '../config/contract-schema.js';
import { usageReturned } from './facts.js';
import { ancestorsUsage } from './delegation/call-checks.js';

export { processAlive };

/** A runner on another host counts as gone once its heartbeat is this old. */
export const RUNNER_STALE_MS = 30_000;
/** How long a capability's reconcile may take. */
const RECONCILE_MS = 10_000;

/** Whether a runner is still there: on this host, its process; elsewhere, its heartbeat. */
export function runnerAlive(r: RunnerRow, now: number, here = hostname(), pidAlive = processAlive): boolean {
  return r.host === here ? pidAlive(r.pid) : now - r.heartbeat_at < RUNNER_STALE_MS;
}


/**
 * Crash recovery (ADR-017). Every decision whose effect started and has no
 * outcome, and whose runner is gone, is marked outcome-unknown in the ledger;
 * then its capability's `reconcile` is asked whether the effect happened.
 * Applied: the outcome is recorded and a retry replays it. Not applied: the
 * key is released and a retry runs. Unknown (or no reconcile): it waits for
 * an operator (`mandate decisions settle`). Returns how many were settled
 * or marked.
 */
export async function recoverStarted(k: KernelCore, selfRunner: string | undefined, opts: { retryUnknown: boolean }): Promise<number> {
  const { store, world } = k.deps;
  const started = await store.decisions.started();
  if (!started.length) return 0;
  const now = world.now();
  const live = new Set((await store.runners.list()).filter((r) => r.id === selfRunner || runnerAlive(r, now)).map((r) => r.id));
  let n = 0;
  for (const d of started) {
    if (d.status === 'running' && d.runner !== null && live.has(d.runner)) continue;
    // Ones already unknown are asked again only at start, not on every sweep.
    if (d.status === 'outcome_unknown' && !opts.retryUnknown) continue;
    try {
      if (d.status === 'running' && !(await markUnknown(k, d))) continue;
      n++;
      const result = await reconcile(k, d);
      if (result.status !== 'unknown') await settleDecision(k, d.id, result, 'system:reconcile', null);
    } catch (err) {
      k.deps.log.error({ step: 'recovery', decision_id: d.id, err: { name: (err as Error)?.name } }, 'crash recovery of a decision failed; it stays as it was');
    }
  }
  return n;
}

async function markUnknown(k: KernelCore, d: DecisionRecord): Promise<boolean> {
  const flow = flowOf(k, d);
  const outcome = { ...outcomeOf(flow, 'accepted', 'outcome_unknown', [{ code: 'OUTCOME_UNKNOWN', message: 'a crash cut the effect short; whether it happened is not known yet' }], d.policies) };
  const r = await k.deps.store.commit([
    { op: 'decision.transition', id: d.id, from: 'running', to: 'outcome_unknown' },
    { op: 'key.state', agent: d.agent, key: flow.key as string, state: 'outcome_unknown', decision_id: d.id },
    event(flow, 'ActionOutcomeUnknown', { reasons: ['OUTCOME_UNKNOWN'], data: { capability: d.capability, runner: d.runner } }),
    finishOp(flow, outcome),
  ]);
  if (r.ok) flow.log.warn({ step: 'recovery', decision_id: d.id }, 'effect cut short by a crash: outcome unknown');
  return r.ok;
}

async function reconcile(k: KernelCore, d: DecisionRecord): Promise<ReconcileResult> {
  const cap: Capability | undefined = d.intent ? k.deps.workspace.capabilities.get(d.intent.capability) : undefined;
  if (!cap?.def.reconcile || !d.intent) return { status: 'unknown' };
  const signal = AbortSignal.timeout(RECONCILE_MS);
  try {
    const result = await Promise.race([
      Promise.resolve(cap.def.reconcile(d.intent.params, { signal, dfid: d.dfid, agent: d.agent, workspaceDir: k.deps.workspace.dir, now: k.deps.world.now(), decisionId: d.id })),
      new Promise<ReconcileResult>((resolve) => signal.addEventListener('abort', () => resolve({ status: 'unknown' }), { once: true })),
    ]);
    return result.status === 'applied' || result.status === 'not_applied' ? result : { status: 'unknown' };
  } catch {
    return { status: 'unknown' };
  }
}

/**
 * Settles a decision whose outcome a crash left unknown: `applied` records the
 * outcome (a retry replays it), `not_applied` releases the key (a retry runs).
 * Recorded with who settled it and a hash of why.
 */
export async function settleDecision(k: KernelCore, decisionId: string, result: { status: 'applied'; output?: unknown } | { status: 'not_applied' }, by: string, reason: string | null): Promise<Outcome> {
  const d = await k.deps.store.decisions.get(decisionId);
  if (!d) throw new KernelError('DECISION_NOT_FOUND', `no decision \`${decisionId}\``);
  if (d.status !== 'outcome_unknown') throw new KernelError('DECISION_NOT_FOUND', `decision \`${decisionId}\` is ${d.status}; only a decision whose outcome is unknown can be settled`);
  const flow = flowOf(k, d);
  const applied = result.status === 'applied';
  const output = applied ? (result.output ?? null) : undefined;
  const outcome: Outcome = applied
    ? { ...outcomeOf(flow, 'accepted', 'accepted', [], d.policies), output }
    : outcomeOf(flow, 'rejected', 'failed', [{ code: 'OUTCOME_NOT_APPLIED', message: `the effect did not happen (settled by ${by}); a retry runs afresh` }], d.policies);
  const key = flow.key as string;
  const ops: Op[] = [
    { op: 'decision.transition', id: d.id, from: 'outcome_unknown', to: applied ? 'accepted' : 'failed' },
    // The effect did not happen: its usage goes back, as for a failed effect (a retry, a plan's step run again, is counted once).
    ...(applied ? [] : await usageOfUnapplied(k, d)),
    applied ? { op: 'key.state', agent: d.agent, key, state: 'done', decision_id: d.id } : { op: 'key.release', agent: d.agent, key, decision_id: d.id },
    event(flow, 'ActionOutcome', {
      reasons: outcome.reasons,
      data: { capability: d.capability, ok: applied, ran: applied ? true : false, settled_by: by, reason_hash: reason ? hashOf(reason) : null, ...(applied ? { output_hash: hashOf(output) } : {}) },
    }),
    finishOp(flow, outcome),
  ];
  const r = await k.deps.store.commit(ops);
  if (!r.ok) throw new KernelError('DECISION_NOT_FOUND', `decision \`${decisionId}\` was settled meanwhile`);
  flow.log.info({ step: 'recovery', decision_id: d.id, settled: result.status, by }, 'decision settled');
  // A plan's step follows its decision: the plan goes on, stops, or completes (ADR-025).
  await followSettled(k, d.agent);
  return outcome;
}

/**
 * The usage a decision's pre-effect commit added, given back for the agent and
 * every ancestor. It is given back at the decision's creation, a little
 * before it was added, so a window never counts the return without the use.
 */
async function usageOfUnapplied(k: KernelCore, d: DecisionRecord): Promise<Op[]> {
  const cap = d.intent ? k.deps.workspace.capabilities.get(d.intent.capability) : undefined;
  if (!cap || !d.intent) return [];
  const values = d.intent.params as Values;
  const budgets = grantFor(k.contractOf(d.agent) ?? { grants: [] }, cap.def.id)?.limits.budgets ?? [];
  const chain = (await k.delegations.chain(d.agent)) ?? undefined;
  return [...usageReturned(k, d.agent, cap.def.id, budgets, values, d.created_at), ...ancestorsUsage(k, chain, cap, values, d.created_at, true)];
}

function flowOf(k: KernelCore, d: DecisionRecord): Flow {
  return newFlow(k, { agent: d.agent, dfid: d.dfid, decisionId: d.id, capability: d.capability, key: d.idempotency_key ?? `derived:${d.request_hash}` });
}
