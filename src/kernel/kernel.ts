import type { Capability, Facts, Values } from '../capabilities/manifest.js';
import type { Contract } from '../config/contract-schema.js';
import { windowMs } from '../config/contract-schema.js';
import type { Workspace } from '../config/load-workspace.js';
import { canonicalJson, hashOf } from '../core/canonical.js';
import type { Logger } from '../core/log.js';
import type { ReasonCode } from '../core/reasons.js';
import type { DecisionStatus, GovernedCall, Intent, Outcome, ReasonDetail, Receipt } from '../core/types.js';
import { IntentSchema } from '../core/wire.js';
import type { World } from '../core/world.js';
import { toCedarRecord } from '../policy/cedar-values.js';
import { PolicyEngine } from '../policy/engine.js';
import type { IdempotencyRecord } from '../store/idempotency.js';
import type { NewEvent } from '../store/ledger.js';
import type { Store } from '../store/store.js';
import { CALLS_FIELD } from '../store/usage.js';
import { Breakers } from './breaker.js';
import { resolveDfid } from './dfid.js';
import { usageKey, validateIntent, type UsageSnapshot } from './dim.js';
import { driftBetween } from './drift.js';
import { runBounded } from './engine.js';

export interface KernelDeps {
  workspace: Workspace;
  store: Store;
  world: World;
  log: Logger;
}

/** The result of reserving a key: go ahead, or why not. */
type Gate = { ok: true; mode: 'fresh' | 'approved' } | { ok: false; existing?: IdempotencyRecord; flowLimit?: boolean };

/** Everything one flow carries from stage to stage. */
interface Flow {
  agent: string;
  dfid: string;
  decisionId: string;
  capability: string | null;
  key: string | null;
  log: Logger;
}

/**
 * The governance kernel: one call from a neutral request to an outcome, used
 * by every transport and every capability source. Stages run in the order of
 * ADR-001; each ledger event is committed before the next stage starts.
 */
export class Kernel {
  readonly policy: PolicyEngine;
  readonly breakers: Breakers;

  constructor(readonly deps: KernelDeps) {
    this.policy = new PolicyEngine(deps.workspace.policySet);
    const { breaker } = deps.workspace.config;
    this.breakers = new Breakers({ failureThreshold: breaker.failure_threshold, cooldownMs: breaker.cooldown_ms });
  }

  get workspace(): Workspace {
    return this.deps.workspace;
  }

  contractOf(agent: string): Contract | undefined {
    return this.deps.workspace.contracts.get(agent);
  }

  /** Capabilities this agent's contract grants, in contract order. */
  grantedCapabilities(agent: string): Capability[] {
    const contract = this.contractOf(agent);
    if (!contract) return [];
    return contract.grants.map((g) => this.deps.workspace.capabilities.get(g.capability)).filter((c): c is Capability => !!c);
  }

  async govern(call: GovernedCall): Promise<Outcome> {
    const { world, log } = this.deps;
    const receivedAt = world.now();
    const { dfid } = resolveDfid(call.traceparent, world);
    const flow: Flow = {
      agent: call.agent,
      dfid,
      decisionId: world.newId(),
      capability: typeof call.intent?.capability === 'string' ? call.intent.capability.slice(0, 200) : null,
      key: null,
      log: log.child({ dfid, agent: call.agent }),
    };
    try {
      return await this.pipeline(call, flow, receivedAt);
    } catch (err) {
      flow.log.error({ err: { name: (err as Error)?.name, stack: (err as Error)?.stack }, decision_id: flow.decisionId }, 'internal error; failing closed');
      try {
        return this.reject(flow, 'IntentRejected', [{ code: 'INTERNAL_ERROR', message: 'internal error' }]);
      } catch {
        return this.outcome(flow, 'rejected', 'rejected', [{ code: 'INTERNAL_ERROR', message: 'internal error; the store is unavailable' }], null);
      }
    }
  }

  private async pipeline(call: GovernedCall, flow: Flow, receivedAt: number): Promise<Outcome> {
    const { store, world, workspace } = this.deps;
    const limits = workspace.config.limits;

    // 1. Record receipt of the intent: hashes only.
    const rawText = safeCanonical(call.intent);
    const requestHash = hashOf({ agent: call.agent, capability: call.intent?.capability ?? null, params: call.intent?.params ?? null });
    store.ledger.append(
      {
        dfid: flow.dfid,
        agent: flow.agent,
        type: 'IntentReceived',
        decision_id: flow.decisionId,
        data: { capability: flow.capability, channel: call.channel, request_hash: requestHash, intent_hash: rawText ? hashOf(call.intent) : null },
      },
      () =>
        store.decisions.open({
          id: flow.decisionId,
          dfid: flow.dfid,
          agent: flow.agent,
          capability: flow.capability,
          request_hash: requestHash,
          idempotency_key: null,
          created_at: receivedAt,
        }),
    );
    flow.log.debug({ step: 'received', decision_id: flow.decisionId, capability: flow.capability }, 'intent received');

    // 2. Identity and 3. intervention check, before anything else.
    const contract = this.contractOf(call.agent);
    if (!contract) return this.reject(flow, 'IntentRejected', [{ code: 'UNKNOWN_AGENT', message: 'no contract for this agent' }]);
    const status = store.agents.status(call.agent);
    if (status === 'paused') return this.reject(flow, 'IntentRejected', [{ code: 'AGENT_PAUSED', message: 'agent is paused' }]);
    if (status === 'terminated') return this.reject(flow, 'IntentRejected', [{ code: 'AGENT_TERMINATED', message: 'agent is terminated' }]);

    // Bounded input, then the intent's own shape.
    if (rawText === null || Buffer.byteLength(rawText) > limits.max_payload_bytes) {
      return this.reject(flow, 'IntentRejected', [{ code: 'PAYLOAD_TOO_LARGE', message: `intent exceeds ${limits.max_payload_bytes} bytes` }]);
    }
    const shape = IntentSchema.safeParse(call.intent);
    if (!shape.success) {
      return this.reject(
        flow,
        'IntentRejected',
        shape.error.issues.map((i) => ({ code: 'SCHEMA_INVALID' as const, message: i.message, path: i.path.map(String).join('.') || '(intent)' })),
      );
    }
    const intent: Intent = shape.data;
    const keyResult = IntentSchema.shape.idempotency_key.safeParse(intent.idempotency_key ?? call.metaIdempotencyKey);
    if (!keyResult.success) {
      return this.reject(flow, 'IntentRejected', [{ code: 'SCHEMA_INVALID', message: 'invalid idempotency key in _meta', path: '_meta.idempotency_key' }]);
    }
    flow.key = keyResult.data ?? `derived:${requestHash}`;

    // A repeat of a known key answers from the record and runs nothing.
    const seen = store.idempotency.peek(flow.agent, flow.key, world.now());
    if (seen) return this.repeat(flow, seen, requestHash);

    // 5. DIM.
    const capability = workspace.capabilities.get(intent.capability);
    const granted = !!capability && contract.grants.some((g) => g.capability === capability.def.id);
    const params = capability && granted ? capability.def.input.safeParse(intent.params) : undefined;
    const facts = params?.success && capability ? await this.resolveFacts(capability, params.data, flow, call.signal) : undefined;
    const grant = capability ? contract.grants.find((g) => g.capability === capability.def.id) : undefined;
    const usage = grant && capability ? this.usageSnapshot(flow.agent, capability.def.id, grant.limits.budgets ?? []) : {};
    const dim = validateIntent({ intent, contract, capability, params, facts, usage, receivedAt, now: world.now() });
    if (!dim.ok) return this.reject(flow, 'IntentRejected', dim.details);
    const cap = capability as Capability;
    const factsHash = hashOf(dim.facts);
    store.ledger.append({
      ...this.event(flow, 'IntentValidated'),
      data: {
        capability: cap.def.id,
        capability_version: cap.def.version,
        values_hash: hashOf(dim.values),
        facts_hash: factsHash,
        rationale_hash: intent.rationale ? hashOf(intent.rationale) : null,
        ...(cap.def.audit?.recordParams ? { params: dim.params } : {}),
      },
    });
    flow.log.info({ step: 'dim', decision_id: flow.decisionId, capability: cap.def.id }, 'intent validated');

    // 6. Policy.
    const verdict = this.policy.evaluate({
      agent: { id: contract.agent, role: contract.role },
      capability: { id: cap.def.id, version: cap.def.version, sideEffect: cap.def.sideEffect },
      context: {
        values: toCedarRecord(dim.values),
        facts: toCedarRecord(dim.facts),
        usage: toCedarRecord(usageForPolicy(usage)),
        now: Math.floor(world.now() / 1000),
      },
    });
    const policyReasons: ReasonCode[] =
      verdict.kind === 'forbid' ? ['POLICY_FORBID'] : verdict.kind === 'no_permit' ? ['POLICY_NO_PERMIT'] : verdict.kind === 'error' ? ['POLICY_ERROR'] : verdict.kind === 'escalate' ? ['ESCALATION_REQUIRED'] : [];
    const policyEvent: NewEvent = {
      ...this.event(flow, 'PolicyDecided'),
      reasons: policyReasons,
      data: { decision: verdict.kind, policies: verdict.policies, policy_set_hash: this.policy.set.hash },
    };
    flow.log.info({ step: 'policy', decision_id: flow.decisionId, decision: verdict.kind, policies: verdict.policies, reasons: policyReasons }, 'policy decided');
    if (verdict.kind === 'forbid' || verdict.kind === 'no_permit' || verdict.kind === 'error') {
      const details: ReasonDetail[] = [
        {
          code: policyReasons[0] as ReasonCode,
          message: verdict.kind === 'forbid' ? `forbidden by ${verdict.policies.join(', ')}` : verdict.kind === 'error' ? 'a policy failed to evaluate' : 'no policy permits this request',
        },
      ];
      return this.finishRejected(flow, policyEvent, details, verdict.policies);
    }
    if (verdict.kind === 'escalate') {
      store.ledger.append(policyEvent);
      return this.escalate(flow, intent, requestHash, dim.facts, factsHash, verdict.policies, verdict.reasons, contract);
    }

    // 7. Idempotency: the key is reserved atomically with the policy decision's record.
    let gate: Gate = { ok: false };
    store.ledger.append(policyEvent, () => {
      gate = this.reserve(flow, requestHash, 'fresh');
    });
    // 8.–9. Bounded engine and ledger.
    return this.execute(flow, cap, { params: dim.params, facts: dim.facts, values: dim.values, requestHash, policies: verdict.policies }, gate, call.signal);
  }

  /**
   * Reserves the key (or moves an approved one to in-flight) and counts the
   * flow's invocation. Runs inside the caller's ledger transaction.
   */
  private reserve(flow: Flow, requestHash: string, mode: 'fresh' | 'approved'): Gate {
    const { store, world, workspace } = this.deps;
    const key = flow.key as string;
    const now = world.now();
    if (mode === 'fresh') {
      const r = store.idempotency.reserve(
        { agent: flow.agent, key, request_hash: requestHash, state: 'in_flight', decision_id: flow.decisionId, created_at: now, expires_at: this.keyExpiry(now) },
        now,
      );
      if (!r.reserved) return { ok: false, existing: r.existing };
    } else {
      store.idempotency.setState(flow.agent, key, 'in_flight', flow.decisionId);
    }
    if (store.flows.bump(flow.dfid) > workspace.config.limits.max_invocations_per_flow) return { ok: false, flowLimit: true };
    return { ok: true, mode };
  }

  /** Answers a repeated key from its record. */
  private repeat(flow: Flow, seen: IdempotencyRecord, requestHash: string): Outcome {
    const { store } = this.deps;
    if (seen.request_hash !== requestHash) {
      return this.reject(flow, 'IntentRejected', [{ code: 'IDEMPOTENCY_CONFLICT', message: 'this idempotency key was used with a different request', path: 'idempotency_key' }]);
    }
    const original = store.decisions.get(seen.decision_id);
    let outcome: Outcome;
    let reasons: ReasonCode[];
    if (seen.state === 'in_flight' || !original?.outcome) {
      reasons = ['IN_PROGRESS'];
      outcome = { ...this.outcome(flow, 'rejected', 'rejected', [{ code: 'IN_PROGRESS', message: 'the first request with this key is still running' }], null), replay_of: seen.decision_id };
    } else {
      const recorded = original.outcome;
      reasons = [...recorded.reasons, seen.state === 'pending_approval' ? 'IN_PROGRESS' : 'IDEMPOTENT_REPLAY'];
      outcome = { ...recorded, reasons, dfid: flow.dfid, decision_id: flow.decisionId, receipt: null, replay_of: seen.decision_id };
    }
    store.ledger.append({ ...this.event(flow, 'IntentReplayed'), reasons, data: { replay_of: seen.decision_id, state: seen.state } }, (receipt) => {
      outcome.receipt = receipt;
      store.decisions.finish(flow.decisionId, outcome);
    });
    flow.log.info({ step: 'idempotency', decision_id: flow.decisionId, replay_of: seen.decision_id, reasons }, 'repeat answered from record');
    return outcome;
  }

  private escalate(
    flow: Flow,
    intent: Intent,
    requestHash: string,
    facts: Facts,
    factsHash: string,
    policies: string[],
    reasons: string[],
    contract: Contract,
  ): Outcome {
    const { store, world, workspace } = this.deps;
    const now = world.now();
    const expiresAt = now + (contract.escalation.expiry_minutes ?? workspace.config.limits.escalation_expiry_minutes) * 60_000;
    const key = flow.key as string;
    const outcome: Outcome = {
      ...this.outcome(flow, 'escalated', 'pending', [{ code: 'ESCALATION_REQUIRED', message: reasons.join('; ') }], null),
      policies,
      expires_at: new Date(expiresAt).toISOString(),
    };
    let lost: IdempotencyRecord | null = null;
    try {
      store.ledger.append(
        {
          ...this.event(flow, 'EscalationOpened'),
          reasons: ['ESCALATION_REQUIRED'],
          data: { policies, request_hash: requestHash, facts_hash: factsHash, expires_at: outcome.expires_at, reason_hashes: reasons.map((r) => hashOf(r)) },
        },
        (receipt) => {
          const r = store.idempotency.reserve(
            { agent: flow.agent, key, request_hash: requestHash, state: 'pending_approval', decision_id: flow.decisionId, created_at: now, expires_at: this.keyExpiry(now) },
            now,
          );
          if (!r.reserved) {
            lost = r.existing;
            throw new LostReservation();
          }
          outcome.receipt = receipt;
          // The exact request and the facts it was decided on, kept for the approver.
          store.decisions.finish(flow.decisionId, outcome, { intent, facts, facts_hash: factsHash, expires_at: expiresAt });
        },
      );
    } catch (err) {
      // Another call with this key got there first; answer as a repeat.
      if (err instanceof LostReservation && lost) return this.repeat(flow, lost, requestHash);
      throw err;
    }
    flow.log.info({ step: 'escalation', decision_id: flow.decisionId, policies }, 'escalated; awaiting a human');
    return outcome;
  }

  /**
   * Steps 8–9, after the key is reserved: check the flow cap and the breaker,
   * re-read the facts, run the handler under its bounds, and record the
   * outcome. `gate` is the result of the reservation.
   */
  private async execute(
    flow: Flow,
    cap: Capability,
    req: { params: Values; facts: Facts; values: Values; requestHash: string; policies: string[] },
    gate: Gate,
    signal?: AbortSignal,
  ): Promise<Outcome> {
    const { store, world, workspace } = this.deps;
    const limits = workspace.config.limits;
    const { params, facts, values, requestHash } = req;
    const key = flow.key as string;
    if (!gate.ok && gate.existing) return this.repeat(flow, gate.existing, requestHash);
    if (!gate.ok) {
      return this.rejectAfterReserve(flow, [{ code: 'FLOW_LIMIT_EXCEEDED', message: `more than ${limits.max_invocations_per_flow} invocations in this flow` }], req.policies);
    }

    const admitted = this.breakers.admit(cap.def.id, world.now());
    if (admitted.transition) this.recordCircuit(flow, admitted.transition.from, admitted.transition.to);
    if (!admitted.allowed) {
      return this.rejectAfterReserve(flow, [{ code: 'CIRCUIT_OPEN', message: `circuit for \`${cap.def.id}\` is open` }], req.policies);
    }

    // TOCTOU: the state must still be what the decision saw.
    const fresh = await this.resolveFacts(cap, params, flow, signal);
    if (!fresh.ok) {
      this.breakers.release(cap.def.id); // the handler did not run: neither a success nor a failure
      return this.rejectAfterReserve(flow, [{ code: 'FACTS_UNAVAILABLE', message: fresh.message }], req.policies);
    }
    const moved = driftBetween(facts, fresh.facts, cap.def.driftTolerance ?? {});
    if (moved.length) {
      this.breakers.release(cap.def.id);
      return this.rejectAfterReserve(flow, moved.map((field) => ({ code: 'STATE_DRIFT' as const, message: `\`${field}\` changed before the effect`, path: `facts.${field}` })), req.policies);
    }

    store.ledger.append({ ...this.event(flow, 'ActionStarted'), data: { capability: cap.def.id, facts_hash: hashOf(fresh.facts) } });
    const started = world.now();
    const result = await runBounded(
      cap,
      params,
      fresh.facts,
      { dfid: flow.dfid, agent: flow.agent, workspaceDir: workspace.dir, now: started },
      { deadlineMs: cap.def.limits?.deadlineMs ?? limits.default_deadline_ms, maxOutputBytes: cap.def.limits?.maxOutputBytes ?? limits.default_max_output_bytes },
      signal,
    );
    const durationMs = world.now() - started;
    const transition = this.breakers.report(cap.def.id, result.ok, world.now());

    const grant = this.contractOf(flow.agent)?.grants.find((g) => g.capability === cap.def.id);
    const outcome: Outcome = result.ok
      ? { ...this.outcome(flow, 'accepted', gate.mode === 'approved' ? 'approved' : 'accepted', [], null), output: result.output }
      : this.outcome(flow, 'rejected', 'failed', [{ code: result.code, message: result.message }], null);
    outcome.policies = req.policies;
    store.ledger.append(
      {
        ...this.event(flow, 'ActionOutcome'),
        reasons: outcome.reasons,
        data: {
          capability: cap.def.id,
          ok: result.ok,
          duration_ms: durationMs,
          ...(result.ok ? { output_hash: hashOf(result.output ?? null), output_bytes: result.bytes } : {}),
          ...(result.ok && cap.def.audit?.recordOutput ? { output: result.output } : {}),
        },
      },
      (receipt) => {
        outcome.receipt = receipt;
        store.idempotency.setState(flow.agent, key, result.ok ? 'done' : 'failed', flow.decisionId);
        if (result.ok) this.addUsage(flow.agent, cap.def.id, values, grant?.limits.budgets ?? [], started);
        store.decisions.finish(flow.decisionId, outcome);
      },
    );
    if (transition) this.recordCircuit(flow, transition.from, transition.to);
    flow.log.info({ step: 'engine', decision_id: flow.decisionId, ok: result.ok, reasons: outcome.reasons, duration_ms: durationMs }, 'action finished');
    return outcome;
  }

  /** Resolves an escalation as approved and resumes the flow at the idempotency step. */
  async approve(decisionId: string, operator: string, note: string | null): Promise<Outcome> {
    const { store, world, log } = this.deps;
    const d = this.pendingOrThrow(decisionId);
    const flow: Flow = { agent: d.agent, dfid: d.dfid, decisionId, capability: d.capability, key: d.idempotency_key, log: log.child({ dfid: d.dfid, agent: d.agent }) };
    flow.key = this.keyOfDecision(d);
    if (world.now() >= (d.expires_at ?? 0)) return this.expire(decisionId);
    // Resolution and key hand-over are one transaction: an approval is single-use.
    let gate: Gate = { ok: false };
    store.ledger.append(
      { ...this.event(flow, 'EscalationResolved'), reasons: ['ESCALATION_APPROVED'], data: { resolution: 'approved', by: operator, note_hash: note ? hashOf(note) : null } },
      () => {
        if (!store.decisions.resolve(decisionId, 'approved', operator, note, world.now())) throw new KernelError('DECISION_NOT_FOUND', 'decision is no longer pending');
        gate = this.reserve(flow, d.request_hash, 'approved');
      },
    );
    flow.log.info({ step: 'approval', decision_id: decisionId, by: operator }, 'escalation approved');

    // Resume with exactly the stored request; nothing the agent sends now can change it.
    const intent = d.intent as Intent;
    const contract = this.contractOf(d.agent);
    const cap = this.deps.workspace.capabilities.get(intent.capability);
    const status = store.agents.status(d.agent);
    const parsed = cap?.def.input.safeParse(intent.params);
    if (!contract || !cap || !parsed?.success || !contract.grants.some((g) => g.capability === cap.def.id)) {
      return this.rejectAfterReserve(flow, [{ code: !contract ? 'UNKNOWN_AGENT' : !cap ? 'CAPABILITY_UNKNOWN' : 'CAPABILITY_NOT_GRANTED', message: 'the contract or capability changed since the escalation' }], d.policies);
    }
    if (status !== 'active') {
      return this.rejectAfterReserve(flow, [{ code: status === 'paused' ? 'AGENT_PAUSED' : 'AGENT_TERMINATED', message: `agent is ${status}` }], d.policies);
    }
    const facts = d.facts ?? {};
    const values = { ...parsed.data, ...(cap.def.derive ? cap.def.derive(parsed.data, facts) : {}) };
    return this.execute(flow, cap, { params: parsed.data, facts, values, requestHash: d.request_hash, policies: d.policies }, gate);
  }

  deny(decisionId: string, operator: string, note: string | null): Outcome {
    const { store, world, log } = this.deps;
    const d = this.pendingOrThrow(decisionId);
    const flow: Flow = { agent: d.agent, dfid: d.dfid, decisionId, capability: d.capability, key: null, log: log.child({ dfid: d.dfid, agent: d.agent }) };
    flow.key = this.keyOfDecision(d);
    return this.closeEscalation(flow, 'denied', operator, note, world.now(), store);
  }

  /** Expires one overdue pending decision. */
  expire(decisionId: string): Outcome {
    const { store, world, log } = this.deps;
    const d = this.pendingOrThrow(decisionId);
    const flow: Flow = { agent: d.agent, dfid: d.dfid, decisionId, capability: d.capability, key: null, log: log.child({ dfid: d.dfid, agent: d.agent }) };
    flow.key = this.keyOfDecision(d);
    return this.closeEscalation(flow, 'expired', 'system:expiry', null, world.now(), store);
  }

  /** Expires every pending decision whose time has passed; returns how many. */
  expireOverdue(): number {
    const now = this.deps.world.now();
    let n = 0;
    for (const d of this.deps.store.decisions.pending()) {
      if (d.expires_at !== null && d.expires_at <= now) {
        try {
          this.expire(d.id);
          n++;
        } catch {
          // resolved concurrently by another process: nothing to do
        }
      }
    }
    return n;
  }

  /** The recorded outcome of a decision, if it belongs to `agent` (operators pass null). */
  getDecision(agent: string | null, decisionId: string): Outcome | null {
    const d = this.deps.store.decisions.get(decisionId);
    if (!d || (agent !== null && d.agent !== agent)) return null;
    if (d.status === 'pending' && d.expires_at !== null && d.expires_at <= this.deps.world.now()) {
      try {
        return this.expire(decisionId);
      } catch {
        return this.deps.store.decisions.get(decisionId)?.outcome ?? null;
      }
    }
    return d.outcome;
  }

  private closeEscalation(flow: Flow, status: 'denied' | 'expired', by: string, note: string | null, at: number, store: Store): Outcome {
    const code: ReasonCode = status === 'denied' ? 'ESCALATION_DENIED' : 'ESCALATION_EXPIRED';
    const prior = store.decisions.get(flow.decisionId);
    const outcome = { ...this.outcome(flow, 'rejected', status, [{ code, message: status === 'denied' ? `denied by ${by}` : 'nobody decided before the expiry' }], null), policies: prior?.policies ?? [] };
    store.ledger.append(
      { ...this.event(flow, 'EscalationResolved'), reasons: [code], data: { resolution: status, by, note_hash: note ? hashOf(note) : null } },
      (receipt) => {
        if (!store.decisions.resolve(flow.decisionId, status, by, note, at)) throw new KernelError('DECISION_NOT_FOUND', 'decision is no longer pending');
        if (flow.key) store.idempotency.setState(flow.agent, flow.key, 'failed', flow.decisionId);
        outcome.receipt = receipt;
        store.decisions.finish(flow.decisionId, outcome);
      },
    );
    flow.log.info({ step: 'approval', decision_id: flow.decisionId, resolution: status }, 'escalation closed');
    return outcome;
  }

  private pendingOrThrow(decisionId: string) {
    const d = this.deps.store.decisions.get(decisionId);
    if (!d) throw new KernelError('DECISION_NOT_FOUND', `no decision \`${decisionId}\``);
    if (d.status !== 'pending') throw new KernelError('DECISION_NOT_FOUND', `decision \`${decisionId}\` is ${d.status}, not pending`);
    return d;
  }

  private keyOfDecision(d: { idempotency_key: string | null; request_hash: string }): string {
    return d.idempotency_key ?? `derived:${d.request_hash}`;
  }

  private async resolveFacts(cap: Capability, params: Values, flow: Flow, signal?: AbortSignal): Promise<{ ok: true; facts: Facts } | { ok: false; message: string }> {
    if (!cap.def.facts) return { ok: true, facts: {} };
    const deadlineMs = cap.def.limits?.deadlineMs ?? this.deps.workspace.config.limits.default_deadline_ms;
    const controller = new AbortController();
    const onAbort = () => controller.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    let timer: NodeJS.Timeout | undefined;
    try {
      const facts = await Promise.race([
        Promise.resolve(cap.def.facts(params, { signal: controller.signal, dfid: flow.dfid, agent: flow.agent, workspaceDir: this.deps.workspace.dir, now: this.deps.world.now() })),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => {
            controller.abort();
            reject(new Error('facts resolver timed out'));
          }, deadlineMs);
        }),
      ]);
      if (facts === null || typeof facts !== 'object' || Array.isArray(facts)) return { ok: false, message: 'facts resolver returned a non-object' };
      return { ok: true, facts: JSON.parse(JSON.stringify(facts)) as Facts };
    } catch (err) {
      return { ok: false, message: `facts resolver failed (${(err as Error)?.message === 'facts resolver timed out' ? 'timeout' : 'error'})` };
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
  }

  private usageSnapshot(agent: string, capability: string, budgets: NonNullable<Contract['grants'][number]['limits']['budgets']>): UsageSnapshot {
    const now = this.deps.world.now();
    const out: UsageSnapshot = {};
    for (const b of budgets) {
      const fields = [CALLS_FIELD, ...(b.sum ? [b.sum] : [])];
      for (const f of fields) out[usageKey(b.window, f)] = this.deps.store.usage.sum(agent, capability, f, windowMs(b.window), now);
    }
    return out;
  }

  private addUsage(agent: string, capability: string, values: Values, budgets: NonNullable<Contract['grants'][number]['limits']['budgets']>, at: number): void {
    const fields = new Set<string>();
    for (const b of budgets) if (b.sum) fields.add(b.sum);
    this.deps.store.usage.add(agent, capability, CALLS_FIELD, 1, at);
    for (const f of fields) {
      const v = values[f];
      if (typeof v === 'number' && Number.isFinite(v)) this.deps.store.usage.add(agent, capability, f, v, at);
    }
  }

  private recordCircuit(flow: Flow, from: string, to: string): void {
    this.deps.store.ledger.append({ ...this.event(flow, 'CircuitStateChanged'), reasons: to === 'open' ? ['CIRCUIT_OPEN'] : [], data: { capability: flow.capability, from, to } });
    flow.log.warn({ step: 'breaker', capability: flow.capability, from, to }, 'circuit state changed');
  }

  private keyExpiry(now: number): number {
    return now + this.deps.workspace.config.limits.idempotency_window_hours * 3_600_000;
  }

  private event(flow: Flow, type: NewEvent['type']): NewEvent {
    return { dfid: flow.dfid, agent: flow.agent, type, decision_id: flow.decisionId };
  }

  outcome(flow: Flow, verdict: Outcome['verdict'], status: DecisionStatus, details: ReasonDetail[], receipt: Receipt | null): Outcome {
    return {
      verdict,
      reasons: [...new Set(details.map((d) => d.code))],
      details,
      dfid: flow.dfid,
      decision_id: flow.decisionId,
      capability: flow.capability,
      idempotency_key: flow.key,
      status,
      policies: [],
      receipt,
    };
  }

  /** Records a rejection event and the decision, and returns the rejected outcome. */
  private reject(flow: Flow, type: 'IntentRejected', details: ReasonDetail[]): Outcome {
    const reasons = [...new Set(details.map((d) => d.code))];
    flow.log.info({ step: 'rejected', decision_id: flow.decisionId, reasons }, 'intent rejected');
    return this.finishRejected(flow, { ...this.event(flow, type), reasons, data: { capability: flow.capability } }, details, []);
  }

  /** Appends the final event of a refused flow together with the decision's outcome. */
  private finishRejected(flow: Flow, event: NewEvent, details: ReasonDetail[], policies: string[]): Outcome {
    const outcome = { ...this.outcome(flow, 'rejected', 'rejected', details, null), policies };
    this.deps.store.ledger.append(event, (receipt) => {
      outcome.receipt = receipt;
      this.deps.store.decisions.finish(flow.decisionId, outcome);
    });
    return outcome;
  }

  /** A refusal after the key was reserved but before any effect: the key is released for a retry. */
  private rejectAfterReserve(flow: Flow, details: ReasonDetail[], policies: string[]): Outcome {
    const { store } = this.deps;
    const reasons = [...new Set(details.map((d) => d.code))];
    const outcome = { ...this.outcome(flow, 'rejected', 'failed', details, null), policies };
    store.ledger.append({ ...this.event(flow, 'ActionOutcome'), reasons, data: { capability: flow.capability, ok: false, ran: false } }, (receipt) => {
      outcome.receipt = receipt;
      if (flow.key) store.idempotency.release(flow.agent, flow.key, flow.decisionId);
      store.decisions.finish(flow.decisionId, outcome);
    });
    flow.log.info({ step: 'engine', decision_id: flow.decisionId, reasons }, 'refused before the effect');
    return outcome;
  }
}

class LostReservation extends Error {}

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

function safeCanonical(value: unknown): string | null {
  try {
    return canonicalJson(value);
  } catch {
    return null;
  }
}

function usageForPolicy(usage: UsageSnapshot): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(usage)) {
    const [window, field] = k.split(':') as [string, string];
    out[`${field === CALLS_FIELD ? 'calls' : field}_${window}`] = Math.round(v);
  }
  return out;
}
