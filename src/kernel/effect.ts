import type { Capability, Facts, Values } from '../capabilities/manifest.js';
import { grantFor, type Contract } from '../config/contract-schema.js';
import { hashOf } from '../core/canonical.js';
import type { Outcome, ReasonDetail } from '../core/types.js';
import type { Op, UnitConflict } from '../store/port/index.js';
import type { KernelCore } from './context.js';
import { driftJudgements, judgeDrift } from './drift.js';
import { revalidate } from './revalidate.js';
import { runBounded, StopSwitch, type RunResult } from './engine.js';
import { checkReady, resolveFacts, usageAdmitted, usageReturned } from './facts.js';
import { event, finishOp, mark, outcomeOf, type Flow } from './flow.js';
import { evaluateMonitors, type Breach } from './monitors.js';
import { commitFlow, commitSure, refuseBeforeEffect, repeat } from './record.js';
import { sectionKey } from './sections.js';
import { CALLS_FIELD } from '../store/port/index.js';
import { upstreamErrorDetails } from './upstream-result.js';
import { ancestors, ancestorsUsage } from './delegation/call-checks.js';
import { keyExpiry } from './stages/escalate.js';
import { stepOps } from './plans/steps.js';

const CANCELLED_BEFORE = { code: 'CANCELLED', message: 'the caller cancelled the request before the effect started; nothing ran' } as const;

/** A decided request, ready for its effect. */
export interface EffectRequest {
  params: Values;
  facts: Facts;
  values: Values;
  requestHash: string;
  policies: string[];
  /** The intent's `observed_version`, if it named one: the effect must act on that version, whatever the drift judgements. */
  observedVersion?: string | undefined;
}

/**
 * From a permit (or an approval) to the recorded outcome: the breaker and the
 * readiness check, the facts re-read and compared (TOCTOU), then the
 * pre-effect commit (key reservation, flow count, `ActionStarted`), the
 * handler under its bounds, and the post-effect commit (outcome, key state,
 * usage, decision). A read-only capability has no effect to protect and folds
 * both commits into one, after the read (ADR-010).
 */
export async function performEffect(k: KernelCore, flow: Flow, cap: Capability, req: EffectRequest, mode: 'fresh' | 'approved', signal?: AbortSignal, handlerSignal: AbortSignal | undefined = signal): Promise<Outcome> {
  const key = flow.key as string;
  const held = mode === 'fresh' ? k.inflight.claim(flow.agent, key, flow.decisionId, req.requestHash) : null;
  if (held) {
    const now = k.deps.world.now();
    return repeat(k, flow, { agent: flow.agent, key, request_hash: held.requestHash, state: 'in_flight', decision_id: held.decisionId, created_at: now, expires_at: keyExpiry(k, now) }, req.requestHash);
  }
  try {
    return await admitAndRun(k, flow, cap, req, mode, signal, handlerSignal);
  } finally {
    if (mode === 'fresh') k.inflight.unclaim(flow.agent, key, flow.decisionId);
  }
}

async function admitAndRun(k: KernelCore, flow: Flow, cap: Capability, req: EffectRequest, mode: 'fresh' | 'approved', signal: AbortSignal | undefined, handlerSignal: AbortSignal | undefined): Promise<Outcome> {
  const { world, workspace } = k.deps;
  const limits = workspace.config.limits;

  // Tools of one upstream share one circuit; a module capability has its own.
  const circuit = cap.circuit ?? cap.def.id;
  const admitted = k.breakers.admit(circuit, world.now());
  if (admitted.transition) flow.journal.push(circuitEvent(flow, circuit, admitted.transition.from, admitted.transition.to));
  if (!admitted.allowed) return refuseBeforeEffect(k, flow, [{ code: 'CIRCUIT_OPEN', message: `circuit \`${circuit}\` is open` }], req.policies);

  // Can it run now? (The gateway starts its upstream lazily here and refuses a quarantined tool.)
  if (cap.ready) {
    const ready = await checkReady(cap, signal);
    if (!ready.ok) {
      // An upstream that cannot start counts against its circuit; a quarantined tool or a full queue says nothing of its health.
      if (ready.code === 'UPSTREAM_UNAVAILABLE' && !ready.load) {
        const t = k.breakers.report(circuit, false, world.now());
        if (t) flow.journal.push(circuitEvent(flow, circuit, t.from, t.to));
      } else k.breakers.release(circuit);
      return refuseBeforeEffect(k, flow, [{ code: ready.code, message: ready.message }], req.policies);
    }
  }
  // An approval's key was handed over at its resolution; its admission counts as pre-effect time.
  if (mode === 'fresh') mark(k, flow, 'reserve');

  // One call at a time per resource, from the facts re-read to the end of the effect; waiting counts against the deadline.
  const deadlineMs = cap.def.limits?.deadlineMs ?? limits.default_deadline_ms;
  const section = sectionKey(cap, req.params);
  const waitFrom = world.now();
  const release = section ? await k.sections.acquire(section, deadlineMs, signal) : () => undefined;
  if (!release) {
    k.breakers.release(circuit);
    if (signal?.aborted) return refuseBeforeEffect(k, flow, [CANCELLED_BEFORE], req.policies);
    return refuseBeforeEffect(k, flow, [{ code: 'DEADLINE_EXCEEDED', message: `waited ${deadlineMs} ms for another call on the same resource; nothing ran` }], req.policies);
  }
  let span: Span;
  try {
    span = await effectSpan(k, flow, cap, req, mode, circuit, Math.max(deadlineMs - (world.now() - waitFrom), 1), signal, handlerSignal);
  } finally {
    release();
  }
  // The section ended with the effect; the call answers once its record is committed (ADR-041).
  await span.recorded;
  if (!span.monitored) return span.outcome;
  for (const [agent, breaches] of await span.monitored) if (breaches.length) await suspend(k, flow, breaches, agent);
  return span.outcome;
}

/** What an effect section's span leaves: the outcome, its record on its way to the store, and the monitors' verdict (absent when nothing ran). */
interface Span {
  outcome: Outcome;
  /** Settles once the post-effect commit has committed (or failed); awaited after the section is released. */
  recorded?: Promise<void>;
  monitored?: Promise<[string, Breach[]][]>;
}

/**
 * The span an effect section covers: the facts re-read and drift check
 * (TOCTOU), the pre-effect commit and the handler. The post-effect commit is
 * submitted inside it, so it takes its place in chain order before the next
 * call's pre-effect commit, and is awaited outside it (ADR-041): the next call
 * on the resource re-reads facts the effect already changed, and its
 * pre-effect commit can share a transaction with this call's record.
 */
async function effectSpan(
  k: KernelCore,
  flow: Flow,
  cap: Capability,
  req: EffectRequest,
  mode: 'fresh' | 'approved',
  circuit: string,
  deadlineMs: number,
  signal: AbortSignal | undefined,
  /** What may abort the handler once it runs: the caller's cancel, unless that cancel only counts before the effect. */
  handlerSignal: AbortSignal | undefined,
): Promise<Span> {
  const { world, workspace } = k.deps;
  const limits = workspace.config.limits;
  const fresh = await resolveFacts(k, cap, req.params, flow, signal);
  // Cancelled before the effect: nothing ran and no key is kept, so a retry runs afresh.
  if (signal?.aborted) {
    k.breakers.release(circuit);
    return { outcome: await refuseBeforeEffect(k, flow, [CANCELLED_BEFORE], req.policies) };
  }
  if (!fresh.ok) {
    k.breakers.release(circuit); // the handler did not run: neither a success nor a failure
    return { outcome: await refuseBeforeEffect(k, flow, [{ code: 'FACTS_UNAVAILABLE', message: fresh.message }], req.policies) };
  }
  const drift = judgeDrift(req.facts, fresh.facts, driftJudgements(cap.def));
  const refused: ReasonDetail[] = drift.moved.map((field) => ({ code: 'STATE_DRIFT', message: `\`${field}\` changed before the effect`, path: `facts.${field}` }));
  // Facts judged `revalidate` may move as long as the decision still holds on them (ADR-019).
  if (!refused.length && drift.revalidate.length) refused.push(...(await revalidate(k, flow, cap, req, mode, fresh.facts, drift.revalidate)));
  if (refused.length) {
    k.breakers.release(circuit);
    return { outcome: await refuseBeforeEffect(k, flow, refused, req.policies) };
  }

  // Write-ahead: nothing runs before a committed record says it may.
  const key = flow.key as string;
  const now = world.now();
  const budgets = grantFor(k.contractOf(flow.agent) ?? { grants: [] }, cap.def.id)?.limits.budgets ?? [];
  const pre: Op[] = [
    ...(mode === 'fresh'
      ? [{ op: 'key.reserve' as const, record: { agent: flow.agent, key, request_hash: req.requestHash, state: 'in_flight' as const, decision_id: flow.decisionId, created_at: now, expires_at: keyExpiry(k, now) }, now }]
      : []),
    { op: 'flow.bump', dfid: flow.dfid, max: limits.max_invocations_per_flow },
    // Budgets are admitted and their usage added in this commit, atomically in the store (ADR-019).
    ...usageAdmitted(k, flow.agent, cap.def.id, budgets, req.values, now),
    // A delegated call's usage is carved from every ancestor's budgets in the same commit (ADR-022).
    ...ancestorsUsage(k, flow.chain, cap, req.values, now),
    { op: 'decision.running', id: flow.decisionId, runner: k.deps.runner ?? null, key, intent: { capability: cap.def.id, params: req.params } },
    // A plan's step starts once, in the same commit (ADR-025).
    ...stepOps(k, flow, 'start'),
    event(flow, 'ActionStarted', { data: { capability: cap.def.id, facts_hash: hashOf(fresh.facts), ...(drift.revalidate.length ? { revalidated: drift.revalidate } : {}) } }),
  ];
  const folded = cap.def.sideEffect === 'read';
  if (!folded) {
    const r = await commitFlow(k, flow, pre);
    if (!r.ok) return { outcome: await lostPreEffect(k, flow, circuit, r.conflict, req) };
  }
  if (flow.plan) flow.plan.ran = true;
  mark(k, flow, 'pre_effect');

  const started = world.now();
  const result = await runHandler(k, flow, cap, req.params, fresh.facts, started, deadlineMs, handlerSignal);
  mark(k, flow, 'handler');
  const durationMs = world.now() - started;
  // An abort by intervention, or the caller's cancel, says nothing about the capability's health.
  const aborted = !result.ok && result.code === 'ABORTED_BY_INTERVENTION';
  const silent = aborted || (!result.ok && result.code === 'CANCELLED');
  if (silent) k.breakers.release(circuit);
  const transition = silent ? undefined : k.breakers.report(circuit, result.ok, world.now());

  const outcome: Outcome = result.ok
    ? { ...outcomeOf(flow, 'accepted', mode === 'approved' ? 'approved' : 'accepted', upstreamErrorDetails(cap, result.output), req.policies), output: result.output }
    : outcomeOf(flow, 'rejected', 'failed', [{ code: result.code, message: result.message }], req.policies);
  const post: Op[] = [
    event(flow, 'ActionOutcome', {
      reasons: outcome.reasons,
      data: {
        capability: cap.def.id,
        ok: result.ok,
        duration_ms: durationMs,
        ...(result.ok ? { output_hash: hashOf(result.output ?? null), output_bytes: result.bytes } : {}),
        // An upstream's own error result (isError) ran and is passed through; it is not a governance refusal.
        ...(result.ok && cap.upstream ? { upstream_error: (result.output as { isError?: unknown } | null)?.isError === true } : {}),
        ...(result.ok && cap.def.audit?.recordOutput ? { output: result.output } : {}),
      },
    }),
    { op: 'key.state', agent: flow.agent, key, state: result.ok ? 'done' : 'failed', decision_id: flow.decisionId },
    ...(result.ok ? [] : [...usageReturned(k, flow.agent, cap.def.id, budgets, req.values, now), ...ancestorsUsage(k, flow.chain, cap, req.values, now, true)]),
    ...stepOps(k, flow, result.ok ? 'done' : 'failed'),
    finishOp(flow, outcome),
    ...(transition ? [circuitEvent(flow, circuit, transition.from, transition.to)] : []),
  ];
  if (folded) {
    const r = await commitFlow(k, flow, [...pre, ...post]);
    if (!r.ok) return { outcome: await lostPreEffect(k, flow, circuit, r.conflict, req) };
  }
  const recorded = (folded ? Promise.resolve() : commitSure(k, flow, post)).then(() => {
    mark(k, flow, 'record');
    flow.log.info({ step: 'engine', decision_id: flow.decisionId, ok: result.ok, reasons: outcome.reasons, duration_ms: durationMs }, 'action finished');
  });
  // Drift monitors see every executed outcome (not an abort by intervention), and
  // every-N gates count it, in a unit of their own submitted after the
  // outcome's: they can never lose it.
  const monitored = aborted ? Promise.resolve([]) : observeAll(k, flow, cap, result.ok, req.values, started);
  return { outcome, recorded, monitored };
}

/** The pre-effect commit lost its key to another call, or the flow is over its cap: nothing ran. */
function lostPreEffect(k: KernelCore, flow: Flow, circuit: string, conflict: UnitConflict, req: EffectRequest): Promise<Outcome> {
  k.breakers.release(circuit);
  if (conflict.kind === 'key_taken') return repeat(k, flow, conflict.existing, req.requestHash);
  if (conflict.kind === 'budget_exceeded') {
    const { window, field, used, max, agent } = conflict;
    const what = field === CALLS_FIELD ? 'calls' : `\`${field}\``;
    // A carved budget names the ancestor whose budget it is (ADR-022).
    const whose = agent && agent !== flow.agent ? { prefix: `as its ancestor \`${agent}\`: `, path: `delegation.${agent}.` } : { prefix: '', path: '' };
    return refuseBeforeEffect(k, flow, [{ code: 'BUDGET_EXCEEDED', message: `${whose.prefix}${what} in ${window} would exceed ${max} (${used} already, counting calls that committed meanwhile)`, path: `${whose.path}budgets.${window}.${field === CALLS_FIELD ? 'calls' : field}` }], req.policies);
  }
  if (conflict.kind === 'plan_moved') return refuseBeforeEffect(k, flow, [{ code: 'IN_PROGRESS', message: 'another call started this plan step first' }], req.policies);
  if (conflict.kind === 'flow_limit') {
    const max = k.deps.workspace.config.limits.max_invocations_per_flow;
    return refuseBeforeEffect(k, flow, [{ code: 'FLOW_LIMIT_EXCEEDED', message: `more than ${max} invocations in this flow` }], req.policies);
  }
  throw new Error(`pre-effect commit refused by the store: ${conflict.kind}`);
}

/** Runs the handler, registered so a termination of its agent or flow can abort it. */
async function runHandler(k: KernelCore, flow: Flow, cap: Capability, params: Values, facts: Facts, started: number, deadlineMs: number, signal?: AbortSignal): Promise<RunResult> {
  const { workspace } = k.deps;
  const limits = workspace.config.limits;
  const stopper = new StopSwitch();
  k.inflight.add(flow.decisionId, { agent: flow.agent, dfid: flow.dfid, stopper });
  try {
    return await runBounded(
      cap,
      params,
      facts,
      { dfid: flow.dfid, agent: flow.agent, workspaceDir: workspace.dir, now: started, relay: flow.relay, decisionId: flow.decisionId },
      { deadlineMs, maxOutputBytes: cap.def.limits?.maxOutputBytes ?? limits.default_max_output_bytes },
      signal,
      stopper,
    );
  } finally {
    k.inflight.delete(flow.decisionId);
  }
}

/**
 * The caller's monitors, then each ancestor's: an ancestor's drift monitors
 * see its whole subtree's actions (ADR-022). An agent whose contract has
 * neither drift monitors nor an every-N steward gate has no unit: nothing
 * would read what it writes (ADR-043).
 */
async function observeAll(k: KernelCore, flow: Flow, cap: Capability, ok: boolean, values: Values, at: number): Promise<[string, Breach[]][]> {
  const out: [string, Breach[]][] = [];
  for (const agent of [flow.agent, ...ancestors(flow.chain).map((link) => link.agent)]) {
    const contract = k.contractOf(agent);
    // A missing contract is counted, as before: a gate that cannot be seen may be there.
    if (contract && !observed(contract)) continue;
    out.push([agent, await observeMonitors(k, flow, agent, contract, cap, ok, values, at)]);
  }
  return out;
}

/** Whether a contract reads what the monitors' unit writes: its drift monitors' windows, or the executed count its every-N gate reads. */
function observed(contract: Contract): boolean {
  return contract.monitors.length > 0 || contract.stewards.every_n_calls !== undefined;
}

/** Feeds the outcome to the contract's drift monitors; a monitor that cannot be evaluated counts as a breach (fail closed). */
async function observeMonitors(k: KernelCore, flow: Flow, agent: string, contract: Contract | undefined, cap: Capability, ok: boolean, values: Values, at: number): Promise<Breach[]> {
  try {
    // An agent without drift monitors has only its executed calls counted: no windows to read.
    const r = await k.deps.store.commit([
      contract?.monitors.length ? { op: 'monitors.observe', agent, evaluate: (windows) => evaluateMonitors(contract, windows, cap.def.id, ok, values, at) } : { op: 'monitors.observe', agent },
    ]);
    return r.ok ? ((r.results.get(0) as Breach[] | undefined) ?? []) : [];
  } catch (err) {
    flow.log.error({ step: 'monitor', err: { name: (err as Error)?.name } }, 'drift monitors failed; suspending (fail closed)');
    return [{ monitor: 'monitor-error', metric: Number.NaN, threshold: Number.NaN }];
  }
}

/** Suspends an agent whose drift monitor breached; only an operator can resume it. */
async function suspend(k: KernelCore, flow: Flow, breaches: Breach[], agent: string): Promise<void> {
  const { world } = k.deps;
  const now = world.now();
  const id = world.newId();
  const by = `system:monitor:${breaches.map((b) => b.monitor).join(',')}`;
  await k.deps.store.commit([
    { op: 'event', event: { dfid: flow.dfid, agent, type: 'AgentSuspended', decision_id: flow.decisionId, reasons: ['DRIFT_MONITOR_BREACHED'], data: { breaches, intervention_id: id } } },
    {
      op: 'intervention.add',
      row: {
        id,
        dfid: flow.dfid,
        target_kind: 'agent',
        target: agent,
        target_agent: agent,
        act: 'suspend',
        args: JSON.stringify({ breaches }),
        issued_by: by,
        issuer_role: 'monitor',
        state: 'applied',
        reason_hash: null,
        created_at: now,
        updated_at: now,
        expires_at: null,
      },
    },
    { op: 'agent.status', agent, status: 'suspended', by, reason_hash: null, at: now },
  ]);
  flow.log.warn({ step: 'monitor', agent, breaches: breaches.map((b) => b.monitor) }, 'drift monitor breached; agent suspended');
}

function circuitEvent(flow: Flow, circuit: string, from: string, to: string): Op {
  flow.log.warn({ step: 'breaker', capability: flow.capability, circuit, from, to }, 'circuit state changed');
  return event(flow, 'CircuitStateChanged', { reasons: to === 'open' ? ['CIRCUIT_OPEN'] : [], data: { capability: flow.capability, ...(circuit !== flow.capability ? { circuit } : {}), from, to } });
}
