import { setTimeout as sleep } from 'node:timers/promises';
import type { Capability, Facts, ReadyResult, Values } from '../capabilities/manifest.js';
import type { Contract } from '../config/contract-schema.js';
import { grantFor, windowMs } from '../config/contract-schema.js';
import type { Workspace } from '../config/load-workspace.js';
import { canonicalJson, hashOf, sha256Hex } from '../core/canonical.js';
import type { Logger } from '../core/log.js';
import type { Normalizer } from '../core/normalizer.js';
import { logName } from '../core/log-names.js';
import { withSignedReceipt, type ReceiptSigner } from '../core/receipt.js';
import type { ReasonCode } from '../core/reasons.js';
import type { CallRelay, DecisionStatus, GovernedCall, Intent, NormalizedProposal, Outcome, ReasonDetail, Receipt, TextIntent } from '../core/types.js';
import { IntentSchema, TextIntentSchema } from '../core/wire.js';
import type { World } from '../core/world.js';
import { toCedarRecord } from '../policy/cedar-values.js';
import { PolicyEngine } from '../policy/engine.js';
import type { DecisionRecord } from '../store/decisions.js';
import type { IdempotencyRecord } from '../store/idempotency.js';
import type { NewEvent } from '../store/ledger.js';
import type { Store } from '../store/store.js';
import { CALLS_FIELD } from '../store/usage.js';
import { Breakers } from './breaker.js';
import { resolveDfid } from './dfid.js';
import { recheckLimits, usageKey, validateIntent, type UsageSnapshot } from './dim.js';
import { driftBetween } from './drift.js';
import { InterventionAbort, runBounded } from './engine.js';
import { statusCode } from './status.js';
import { evaluateMonitors, type Breach } from './monitors.js';
import { forModel, parseProposal, parseReview } from './normalize.js';
import type { KernelObserver, PipelineStage } from './observer.js';
import { stewardGates, withConstraints } from './stewards.js';

export interface KernelDeps {
  workspace: Workspace;
  store: Store;
  world: World;
  log: Logger;
  /** Turns free-text intents into proposals (step 4); absent: they are refused with NORMALIZER_UNAVAILABLE. */
  normalizer?: Normalizer | undefined;
  /** Timing hooks (metrics); absent by default. */
  observer?: KernelObserver | undefined;
  /** Signs each answer's receipt (ADR-016); absent: receipts are unsigned. */
  receipts?: ReceiptSigner | undefined;
}

/** Longest challenger summary kept with a pending decision. */
const MAX_REVIEW_CHARS = 500;

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
  /** An operator's redirect note taken for delivery with this flow's outcome. */
  note?: string | undefined;
  /** For a free-text intent, once normalised: what the model proposed. */
  normalized?: NormalizedProposal | undefined;
  /** Observer clock at the flow's start and at its last stage boundary. */
  t0?: number | undefined;
  t?: number | undefined;
  /** The caller's progress/notification channel, handed to the handler (absent on an approval). */
  relay?: CallRelay | undefined;
  /** The canonical request's hash, for the signed receipt. */
  requestHash?: string | undefined;
}

/**
 * The governance kernel: one call from a neutral request to an outcome, used
 * by every transport and every capability source. Stages run in the order of
 * ADR-001; each ledger event is committed before the next stage starts.
 */
export class Kernel {
  readonly policy: PolicyEngine;
  readonly breakers: Breakers;
  /** Handlers running in this process, by decision id, so a termination can abort them. */
  private readonly inflight = new Map<string, { agent: string; dfid: string; abort: AbortController }>();
  /** Challenger calls still running (advisory; see settle()). */
  private readonly reviews = new Set<Promise<void>>();

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

  /** Capabilities this agent's contract grants, in contract order (a glob's matches sorted by id). */
  grantedCapabilities(agent: string): Capability[] {
    const contract = this.contractOf(agent);
    if (!contract) return [];
    const all = [...this.deps.workspace.capabilities.values()].sort((a, b) => a.def.id.localeCompare(b.def.id));
    const out = new Map<string, Capability>();
    for (const g of contract.grants) {
      for (const cap of all) if (!out.has(cap.def.id) && grantFor(contract, cap.def.id) === g) out.set(cap.def.id, cap);
    }
    return [...out.values()];
  }

  async govern(call: GovernedCall): Promise<Outcome> {
    const { world, log } = this.deps;
    const receivedAt = world.now();
    const { dfid } = resolveDfid(call.traceparent, world);
    const proposed = (call.intent as Partial<Intent> | undefined)?.capability;
    const flow: Flow = {
      agent: call.agent,
      dfid,
      decisionId: world.newId(),
      capability: typeof proposed === 'string' ? proposed.slice(0, 200) : null,
      key: null,
      log: log.child({ dfid, agent: call.agent }),
      relay: call.relay,
    };
    this.startTiming(flow);
    try {
      return this.observed(flow, withSignedReceipt(this.deps.receipts, await this.pipeline(call, flow, receivedAt), flow.requestHash));
    } catch (err) {
      flow.log.error({ err: { name: (err as Error)?.name, stack: (err as Error)?.stack }, decision_id: flow.decisionId }, 'internal error; failing closed');
      try {
        return this.observed(flow, this.reject(flow, 'IntentRejected', [{ code: 'INTERNAL_ERROR', message: 'internal error' }]));
      } catch {
        return this.observed(flow, this.outcome(flow, 'rejected', 'rejected', [{ code: 'INTERNAL_ERROR', message: 'internal error; the store is unavailable' }], null));
      }
    }
  }

  // The observer only watches: whatever it does (or throws) never changes a decision.
  private startTiming(flow: Flow): void {
    const o = this.deps.observer;
    if (!o) return;
    try {
      flow.t0 = flow.t = o.now();
    } catch {
      flow.t0 = flow.t = undefined;
    }
  }

  /** Tells the observer how long the stage that ends now took. */
  private mark(flow: Flow, stage: PipelineStage): void {
    const o = this.deps.observer;
    if (!o || flow.t === undefined) return;
    try {
      const now = o.now();
      o.stage(stage, now - flow.t);
      flow.t = now;
    } catch {
      // ignored: see above
    }
  }

  /** Tells the observer a decision was answered; returns the outcome. */
  private observed(flow: Flow, outcome: Outcome): Outcome {
    const o = this.deps.observer;
    if (!o || flow.t0 === undefined) return outcome;
    try {
      o.decision(outcome, o.now() - flow.t0);
    } catch {
      // ignored: see above
    }
    return outcome;
  }

  private async pipeline(call: GovernedCall, flow: Flow, receivedAt: number): Promise<Outcome> {
    const { store, world, workspace } = this.deps;
    const limits = workspace.config.limits;

    // 1. Record receipt of the intent: hashes only.
    const rawText = safeCanonical(call.intent);
    const raw = (call.intent ?? {}) as Partial<Intent> & Partial<TextIntent>;
    // A free-text intent is one that has `text`; the model proposes its capability and params in step 4.
    const isText = typeof call.intent === 'object' && call.intent !== null && 'text' in call.intent;
    const requestHash = isText ? hashOf({ agent: call.agent, text: raw.text ?? null }) : hashOf({ agent: call.agent, capability: raw.capability ?? null, params: raw.params ?? null });
    flow.requestHash = requestHash;
    store.ledger.append(
      {
        dfid: flow.dfid,
        agent: flow.agent,
        type: 'IntentReceived',
        decision_id: flow.decisionId,
        data: { capability: flow.capability, channel: call.channel, request_hash: requestHash, intent_hash: rawText ? hashOf(call.intent) : null, ...(isText ? { form: 'text' } : {}) },
      },
      () => {
        store.decisions.open({
          id: flow.decisionId,
          dfid: flow.dfid,
          agent: flow.agent,
          capability: flow.capability,
          request_hash: requestHash,
          idempotency_key: null,
          created_at: receivedAt,
        });
        flow.note = store.agents.takeNote(flow.agent, receivedAt)?.note;
      },
    );
    flow.log.debug({ step: 'received', decision_id: flow.decisionId, capability: logName(flow.capability, workspace.capabilities.has(flow.capability ?? '')) }, 'intent received');
    this.mark(flow, 'received');

    // 2. Identity and 3. intervention check, before anything else.
    const contract = this.contractOf(call.agent);
    if (!contract) return this.reject(flow, 'IntentRejected', [{ code: 'UNKNOWN_AGENT', message: 'no contract for this agent' }]);
    const status = store.agents.status(call.agent);
    if (status !== 'active') return this.reject(flow, 'IntentRejected', [{ code: statusCode(status), message: `agent is ${status}` }]);
    const flowStatus = store.agents.flowStatus(flow.dfid, flow.agent);
    if (flowStatus !== 'active') {
      return this.reject(flow, 'IntentRejected', [{ code: flowStatus === 'paused' ? 'FLOW_PAUSED' : 'FLOW_TERMINATED', message: `flow is ${flowStatus}` }]);
    }

    // Bounded input, then the intent's own shape.
    if (rawText === null || Buffer.byteLength(rawText) > limits.max_payload_bytes) {
      return this.reject(flow, 'IntentRejected', [{ code: 'PAYLOAD_TOO_LARGE', message: `intent exceeds ${limits.max_payload_bytes} bytes` }]);
    }
    if (isText && ('capability' in raw || 'params' in raw)) {
      return this.reject(flow, 'IntentRejected', [{ code: 'SCHEMA_INVALID', message: 'pass either capability and params, or text, not both', path: '(intent)' }]);
    }
    const shape = isText ? TextIntentSchema.safeParse(call.intent) : IntentSchema.safeParse(call.intent);
    if (!shape.success) {
      return this.reject(
        flow,
        'IntentRejected',
        shape.error.issues.map((i) => ({ code: 'SCHEMA_INVALID' as const, message: i.message, path: i.path.map(String).join('.') || '(intent)' })),
      );
    }
    if (call.argumentIssues?.length) {
      return this.reject(flow, 'IntentRejected', call.argumentIssues.map((i) => ({ code: 'SCHEMA_INVALID' as const, message: i.message, path: i.path })));
    }
    const keyResult = IntentSchema.shape.idempotency_key.safeParse(shape.data.idempotency_key ?? call.metaIdempotencyKey);
    if (!keyResult.success) {
      return this.reject(flow, 'IntentRejected', [{ code: 'SCHEMA_INVALID', message: 'invalid idempotency key in _meta', path: '_meta.idempotency_key' }]);
    }

    // 4. Normalisation, for free text only: the model's proposal becomes the intent, then everything below judges it.
    let intent: Intent;
    if ('text' in shape.data) {
      const normalized = await this.normalizeText(flow, shape.data, call.signal);
      if (!normalized.ok) return normalized.outcome;
      intent = normalized.intent;
    } else {
      intent = shape.data;
    }
    const capability = workspace.capabilities.get(intent.capability);
    const granted = !!capability && !!grantFor(contract, capability.def.id);
    const params = capability && granted ? capability.def.input.safeParse(intent.params) : undefined;
    // The key's request identity uses the params as the capability reads them (defaults applied).
    const keyHash = params?.success ? hashOf({ agent: call.agent, capability: intent.capability, params: params.data }) : requestHash;
    // A read has no effect to protect: without the caller's key it is answered afresh every time.
    const derived = capability?.def.sideEffect === 'read' ? `fresh:${flow.decisionId}` : `derived:${keyHash}`;
    flow.key = keyResult.data ?? derived;

    // A repeat of a known key answers from the record and runs nothing.
    const seen = store.idempotency.peek(flow.agent, flow.key, world.now());
    if (seen) return this.repeat(flow, seen, keyHash);

    // 5. DIM.
    this.mark(flow, 'checks');
    const facts = params?.success && capability ? await this.resolveFacts(capability, params.data, flow, call.signal) : undefined;
    this.mark(flow, 'facts');
    const grant = capability ? grantFor(contract, capability.def.id) : undefined;
    const usage = grant && capability ? this.usageSnapshot(flow.agent, capability.def.id, grant.limits.budgets ?? []) : {};
    const effective = capability ? withConstraints(contract, capability.def.id, store.agents.constraints(flow.agent, capability.def.id, world.now())) : contract;
    const dim = validateIntent({ intent, contract: effective, capability, params, facts, usage, receivedAt, now: world.now() });
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
    this.mark(flow, 'dim');

    // 6. Policy.
    const verdict = this.policy.evaluate({
      agent: { id: contract.agent, role: contract.role },
      capability: { id: cap.def.id, version: cap.def.version, sideEffect: cap.def.sideEffect, upstream: cap.upstream?.server },
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
    this.mark(flow, 'policy');
    if (verdict.kind === 'forbid' || verdict.kind === 'no_permit' || verdict.kind === 'error') {
      const details: ReasonDetail[] = [
        {
          code: policyReasons[0] as ReasonCode,
          message: verdict.kind === 'forbid' ? `forbidden by ${verdict.policies.join(', ')}` : verdict.kind === 'error' ? 'a policy failed to evaluate' : 'no policy permits this request',
        },
      ];
      return this.finishRejected(flow, policyEvent, details, verdict.policies);
    }
    // Steward gates turn a permit into a human decision.
    const gates = verdict.kind === 'permit' ? stewardGates(contract, cap, this.deps.store.monitors.executed(flow.agent), (window, field) => this.deps.store.usage.sum(flow.agent, cap.def.id, field, windowMs(window), world.now()), dim.values) : [];
    if (verdict.kind === 'escalate' || gates.length) {
      const policies = [...verdict.policies, ...gates.map((g) => g.id)];
      const reasons = verdict.kind === 'escalate' ? [...verdict.reasons, ...gates.map((g) => g.reason)] : gates.map((g) => g.reason);
      store.ledger.append(gates.length ? { ...policyEvent, reasons: ['ESCALATION_REQUIRED'], data: { ...policyEvent.data, decision: 'escalate', steward_gates: gates.map((g) => g.id) } } : policyEvent);
      const escalated = this.escalate(flow, intent, keyHash, dim.facts, factsHash, policies, reasons, contract);
      if (escalated.status === 'pending' && !escalated.replay_of) this.challenge(flow, cap, dim.params, reasons, 'text' in shape.data ? shape.data.text : undefined);
      return escalated;
    }

    // 7. Idempotency: the key is reserved atomically with the policy decision's record.
    let gate: Gate = { ok: false };
    store.ledger.append(policyEvent, () => {
      gate = this.reserve(flow, keyHash, 'fresh');
    });
    this.mark(flow, 'reserve');
    // 8.–9. Bounded engine and ledger.
    return this.execute(flow, cap, { params: dim.params, facts: dim.facts, values: dim.values, requestHash: keyHash, policies: verdict.policies }, gate, call.signal);
  }

  /**
   * Step 4: asks the normalizer for a proposal and checks it. The model sees
   * only the capabilities this contract grants, and its output is parsed and
   * validated here; the caller's envelope (key, TTL, rationale, observed
   * version) never comes from the model. Records `IntentNormalized` for every
   * model call: model, route, prompt and output hashes, latency; never text.
   */
  private async normalizeText(flow: Flow, t: TextIntent, signal?: AbortSignal): Promise<{ ok: true; intent: Intent } | { ok: false; outcome: Outcome }> {
    const { normalizer, workspace, store } = this.deps;
    const cfg = workspace.config.normalizer;
    const refuse = (details: ReasonDetail[]) => ({ ok: false as const, outcome: this.reject(flow, 'IntentRejected', details) });
    if (!normalizer || !cfg) {
      return refuse([{ code: 'NORMALIZER_UNAVAILABLE', message: 'free-text intents are not enabled here (no `normalizer:` in mandate.yaml); pass capability and params instead' }]);
    }
    const bytes = Buffer.byteLength(t.text);
    if (bytes > cfg.max_text_bytes) {
      return refuse([{ code: 'INPUT_TOO_LARGE', message: `text is ${bytes} bytes; normalizer.max_text_bytes is ${cfg.max_text_bytes}`, path: 'text' }]);
    }
    const granted = this.grantedCapabilities(flow.agent);
    if (!granted.length) return refuse([{ code: 'NORMALIZATION_FAILED', message: 'your contract grants no capability to propose', path: 'normalized' }]);

    const reply = await normalizer.normalize({ text: t.text, capabilities: granted.map(forModel), signal });
    const parsed = reply.ok ? parseProposal(reply.content, granted, { truncated: reply.truncated, maxBytes: workspace.config.limits.max_payload_bytes }) : null;
    const details: ReasonDetail[] = !reply.ok ? [{ code: 'NORMALIZER_UNAVAILABLE', message: reply.message }] : parsed && !parsed.ok ? parsed.details : [];
    const reasons = [...new Set(details.map((d) => d.code))];
    const proposed = parsed?.ok ? parsed : null;
    store.ledger.append({
      ...this.event(flow, 'IntentNormalized'),
      reasons,
      data: {
        model: reply.model,
        route: reply.route,
        prompt_hash: reply.prompt_hash,
        output_hash: reply.ok ? sha256Hex(reply.content) : null,
        output_bytes: reply.ok ? Buffer.byteLength(reply.content) : null,
        latency_ms: reply.latency_ms,
        capability: proposed?.capability.def.id ?? null,
      },
    });
    flow.log.info({ step: 'normalize', decision_id: flow.decisionId, model: reply.model, route: reply.route, latency_ms: reply.latency_ms, capability: proposed?.capability.def.id ?? null, reasons }, reasons.length ? 'normalisation failed' : 'text normalised');
    if (!proposed) return refuse(details);

    flow.capability = proposed.capability.def.id;
    flow.normalized = { capability: proposed.capability.def.id, params: proposed.params, model: reply.model, route: reply.route };
    const { text: _text, ...envelope } = t;
    return { ok: true, intent: { ...envelope, capability: proposed.capability.def.id, params: proposed.params } };
  }

  /**
   * The optional challenger: one more model call writes a short risk summary
   * of a fresh escalation for the human approver. It runs after the escalated
   * outcome is recorded and returned, never changes it, and its failure is
   * logged and otherwise ignored. `settle()` waits for running ones.
   */
  private challenge(flow: Flow, cap: Capability, params: Values, reasons: string[], text: string | undefined): void {
    const { normalizer, workspace, store, world } = this.deps;
    if (!normalizer || !workspace.config.normalizer?.challenger.enabled) return;
    const run = (async () => {
      try {
        const reply = await normalizer.challenge({ capability: forModel(cap), params, reasons, text });
        const review = reply.ok ? parseReview(reply.content, MAX_REVIEW_CHARS) : null;
        const code: ReasonCode | null = !reply.ok ? 'NORMALIZER_UNAVAILABLE' : review ? null : 'NORMALIZATION_FAILED';
        let attached = false;
        store.ledger.append(
          {
            ...this.event(flow, 'EscalationChallenged'),
            reasons: code ? [code] : [],
            data: {
              model: reply.model,
              route: reply.route,
              prompt_hash: reply.prompt_hash,
              output_hash: reply.ok ? sha256Hex(reply.content) : null,
              latency_ms: reply.latency_ms,
            },
          },
          () => {
            if (review) attached = store.decisions.setReview(flow.decisionId, { ...review, model: reply.model, route: reply.route, at: world.now() });
          },
        );
        flow.log.info({ step: 'challenger', decision_id: flow.decisionId, model: reply.model, latency_ms: reply.latency_ms, reasons: code ? [code] : [], attached }, code ? 'challenger failed; ignored' : 'risk summary attached');
      } catch (err) {
        flow.log.warn({ step: 'challenger', decision_id: flow.decisionId, err: { name: (err as Error)?.name } }, 'challenger failed; ignored');
      }
    })();
    this.reviews.add(run);
    void run.finally(() => this.reviews.delete(run));
  }

  /** Waits for running challenger calls (tests, and a server before it closes its store). */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.reviews]);
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
      // The recorded outcome, but this call's own note and proposal (not an earlier call's).
      const { operator_note: _old, normalized: _oldProposal, ...rest } = recorded;
      outcome = {
        ...rest,
        reasons,
        dfid: flow.dfid,
        decision_id: flow.decisionId,
        receipt: null,
        replay_of: seen.decision_id,
        ...(flow.note ? { operator_note: flow.note } : {}),
        ...(flow.normalized ? { normalized: flow.normalized } : {}),
      };
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
    this.mark(flow, 'escalate');
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

    // Tools of one upstream share one circuit; a module capability has its own.
    const circuit = cap.circuit ?? cap.def.id;
    const admitted = this.breakers.admit(circuit, world.now());
    if (admitted.transition) this.recordCircuit(flow, circuit, admitted.transition.from, admitted.transition.to);
    if (!admitted.allowed) {
      return this.rejectAfterReserve(flow, [{ code: 'CIRCUIT_OPEN', message: `circuit \`${circuit}\` is open` }], req.policies);
    }

    // Can it run now? (The gateway starts its upstream lazily here and refuses a quarantined tool.)
    if (cap.ready) {
      const ready = await this.checkReady(cap, signal);
      if (!ready.ok) {
        // An upstream that cannot start counts against its circuit; a quarantined tool or a full queue says nothing of its health.
        if (ready.code === 'UPSTREAM_UNAVAILABLE' && !ready.load) {
          const t = this.breakers.report(circuit, false, world.now());
          if (t) this.recordCircuit(flow, circuit, t.from, t.to);
        } else this.breakers.release(circuit);
        return this.rejectAfterReserve(flow, [{ code: ready.code, message: ready.message }], req.policies);
      }
    }

    // TOCTOU: the state must still be what the decision saw.
    const fresh = await this.resolveFacts(cap, params, flow, signal);
    if (!fresh.ok) {
      this.breakers.release(circuit); // the handler did not run: neither a success nor a failure
      return this.rejectAfterReserve(flow, [{ code: 'FACTS_UNAVAILABLE', message: fresh.message }], req.policies);
    }
    const moved = driftBetween(facts, fresh.facts, cap.def.driftTolerance ?? {});
    if (moved.length) {
      this.breakers.release(circuit);
      return this.rejectAfterReserve(flow, moved.map((field) => ({ code: 'STATE_DRIFT' as const, message: `\`${field}\` changed before the effect`, path: `facts.${field}` })), req.policies);
    }

    store.ledger.append({ ...this.event(flow, 'ActionStarted'), data: { capability: cap.def.id, facts_hash: hashOf(fresh.facts) } });
    this.mark(flow, 'pre_effect');
    const started = world.now();
    // Registered so a termination of the agent or the flow can abort it.
    const abort = new AbortController();
    this.inflight.set(flow.decisionId, { agent: flow.agent, dfid: flow.dfid, abort });
    let result;
    try {
      result = await runBounded(
        cap,
        params,
        fresh.facts,
        { dfid: flow.dfid, agent: flow.agent, workspaceDir: workspace.dir, now: started, relay: flow.relay },
        { deadlineMs: cap.def.limits?.deadlineMs ?? limits.default_deadline_ms, maxOutputBytes: cap.def.limits?.maxOutputBytes ?? limits.default_max_output_bytes },
        signal ? AbortSignal.any([signal, abort.signal]) : abort.signal,
      );
    } finally {
      this.inflight.delete(flow.decisionId);
    }
    this.mark(flow, 'handler');
    const durationMs = world.now() - started;
    // An abort by intervention says nothing about the capability's health.
    const aborted = !result.ok && result.code === 'ABORTED_BY_INTERVENTION';
    if (aborted) this.breakers.release(circuit);
    const transition = aborted ? undefined : this.breakers.report(circuit, result.ok, world.now());

    const contractNow = this.contractOf(flow.agent);
    const grant = contractNow ? grantFor(contractNow, cap.def.id) : undefined;
    let breaches: Breach[] = [];
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
          // An upstream's own error result (isError) ran and is passed through; it is not a governance refusal.
          ...(result.ok && cap.upstream ? { upstream_error: (result.output as { isError?: unknown } | null)?.isError === true } : {}),
          ...(result.ok && cap.def.audit?.recordOutput ? { output: result.output } : {}),
        },
      },
      (receipt) => {
        outcome.receipt = receipt;
        store.idempotency.setState(flow.agent, key, result.ok ? 'done' : 'failed', flow.decisionId);
        if (result.ok) this.addUsage(flow.agent, cap.def.id, values, this.trackedFields(flow.agent, grant?.limits.budgets ?? []), started);
        store.decisions.finish(flow.decisionId, outcome);
      },
    );
    this.mark(flow, 'record');
    // Drift monitors see every executed outcome. They run after the outcome is
    // committed, so they can never lose it; if one cannot be evaluated, the
    // agent is suspended (fail closed) rather than left unwatched.
    if (result.ok || result.code !== 'ABORTED_BY_INTERVENTION') {
      try {
        const contract = this.contractOf(flow.agent);
        breaches = store.db.transaction(() => {
          store.monitors.countExecuted(flow.agent);
          return contract ? evaluateMonitors(contract, store.monitors, cap.def.id, result.ok, values, started) : [];
        }).immediate();
      } catch (err) {
        flow.log.error({ step: 'monitor', err: { name: (err as Error)?.name } }, 'drift monitors failed; suspending (fail closed)');
        breaches = [{ monitor: 'monitor-error', metric: Number.NaN, threshold: Number.NaN }];
      }
    }
    if (breaches.length) this.suspend(flow, breaches);
    if (transition) this.recordCircuit(flow, circuit, transition.from, transition.to);
    flow.log.info({ step: 'engine', decision_id: flow.decisionId, ok: result.ok, reasons: outcome.reasons, duration_ms: durationMs }, 'action finished');
    return outcome;
  }

  /** Aborts this process's running handlers of an agent or a flow; returns how many. */
  /** `{ dfid, agent: '*' }` aborts every agent's calls in the flow. */
  abortInflight(target: { agent: string } | { dfid: string; agent: string }, interventionId: string): number {
    let n = 0;
    for (const run of this.inflight.values()) {
      const hit = 'dfid' in target ? run.dfid === target.dfid && (target.agent === '*' || run.agent === target.agent) : run.agent === target.agent;
      if (hit && !run.abort.signal.aborted) {
        run.abort.abort(new InterventionAbort(interventionId));
        n++;
      }
    }
    return n;
  }

  /**
   * Applies terminations that another process (the CLI, another replica)
   * recorded since `since`, to this process's running handlers.
   */
  abortTerminated(since: number): void {
    const { store } = this.deps;
    // Only while the termination still holds: an operator may have revived the agent (or flow) since.
    for (const row of store.agents.terminationsSince(since, 'agent')) if (store.agents.status(row.target_agent) === 'terminated') this.abortInflight({ agent: row.target_agent }, row.id);
    for (const row of store.agents.terminationsSince(since, 'flow')) {
      if (store.agents.flowStatus(row.target, row.target_agent) === 'terminated') this.abortInflight({ dfid: row.target, agent: row.target_agent }, row.id);
    }
  }

  /** Suspends an agent whose drift monitor breached; only an operator can resume it. */
  private suspend(flow: Flow, breaches: Breach[]): void {
    const { store, world } = this.deps;
    const now = world.now();
    const id = world.newId();
    const by = `system:monitor:${breaches.map((b) => b.monitor).join(',')}`;
    store.ledger.append(
      { dfid: flow.dfid, agent: flow.agent, type: 'AgentSuspended', decision_id: flow.decisionId, reasons: ['DRIFT_MONITOR_BREACHED'], data: { breaches, intervention_id: id } },
      () => {
        store.agents.addIntervention({
          id,
          dfid: flow.dfid,
          target_kind: 'agent',
          target: flow.agent,
          target_agent: flow.agent,
          act: 'suspend',
          args: JSON.stringify({ breaches }),
          issued_by: by,
          issuer_role: 'monitor',
          state: 'applied',
          reason_hash: null,
          created_at: now,
          updated_at: now,
          expires_at: null,
        });
        store.agents.setStatus(flow.agent, 'suspended', by, null, now);
      },
    );
    flow.log.warn({ step: 'monitor', breaches: breaches.map((b) => b.monitor) }, 'drift monitor breached; agent suspended');
  }

  /** Resolves an escalation as approved and resumes the flow at the idempotency step. */
  async approve(decisionId: string, operator: string, note: string | null): Promise<Outcome> {
    const { log } = this.deps;
    const d = this.pendingOrThrow(decisionId);
    const flow: Flow = { agent: d.agent, dfid: d.dfid, decisionId, capability: d.capability, key: d.idempotency_key, log: log.child({ dfid: d.dfid, agent: d.agent }) };
    this.startTiming(flow);
    return this.observed(flow, await this.approveFlow(d, flow, operator, note));
  }

  private async approveFlow(d: DecisionRecord, flow: Flow, operator: string, note: string | null): Promise<Outcome> {
    const { store, world } = this.deps;
    const decisionId = d.id;
    flow.key = this.keyOfDecision(d);
    if (world.now() >= (d.expires_at ?? 0)) return this.closeEscalation(flow, 'expired', 'system:expiry', null, world.now(), store);
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
    if (!contract || !cap || !parsed?.success || !grantFor(contract, cap.def.id)) {
      const code: ReasonCode = !contract ? 'UNKNOWN_AGENT' : !cap ? 'CAPABILITY_UNKNOWN' : !grantFor(contract, cap.def.id) ? 'CAPABILITY_NOT_GRANTED' : 'SCHEMA_INVALID';
      return this.rejectAfterReserve(flow, [{ code, message: 'the contract or capability changed since the escalation' }], d.policies);
    }
    const flowStatus = store.agents.flowStatus(d.dfid, d.agent);
    if (flowStatus !== 'active') {
      return this.rejectAfterReserve(flow, [{ code: flowStatus === 'paused' ? 'FLOW_PAUSED' : 'FLOW_TERMINATED', message: `flow is ${flowStatus}` }], d.policies);
    }
    if (status !== 'active') {
      return this.rejectAfterReserve(flow, [{ code: statusCode(status), message: `agent is ${status}` }], d.policies);
    }
    const facts = d.facts ?? {};
    const values = { ...parsed.data, ...(cap.def.derive ? cap.def.derive(parsed.data, facts) : {}) };
    // Limits and budgets as they stand now: an approval never bypasses a budget or a new constraint.
    const grant = grantFor(withConstraints(contract, cap.def.id, store.agents.constraints(d.agent, cap.def.id, world.now())), cap.def.id);
    const usage = grant ? this.usageSnapshot(d.agent, cap.def.id, grant.limits.budgets ?? []) : {};
    const over = grant ? recheckLimits(grant, values, usage) : [];
    if (over.length) return this.rejectAfterReserve(flow, over, d.policies);
    // Policies as they stand now: a forbid added since the escalation still wins.
    const now = this.policy.evaluate({
      agent: { id: contract.agent, role: contract.role },
      capability: { id: cap.def.id, version: cap.def.version, sideEffect: cap.def.sideEffect, upstream: cap.upstream?.server },
      context: { values: toCedarRecord(values), facts: toCedarRecord(facts), usage: toCedarRecord(usageForPolicy(usage)), now: Math.floor(world.now() / 1000) },
    });
    if (now.kind === 'forbid' || now.kind === 'no_permit' || now.kind === 'error') {
      const code: ReasonCode = now.kind === 'forbid' ? 'POLICY_FORBID' : now.kind === 'error' ? 'POLICY_ERROR' : 'POLICY_NO_PERMIT';
      return this.rejectAfterReserve(flow, [{ code, message: 'the policies no longer permit this request' }], now.policies);
    }
    return this.execute(flow, cap, { params: parsed.data, facts, values, requestHash: d.request_hash, policies: d.policies }, gate);
  }

  deny(decisionId: string, operator: string, note: string | null): Outcome {
    const { store, world, log } = this.deps;
    const d = this.pendingOrThrow(decisionId);
    const flow: Flow = { agent: d.agent, dfid: d.dfid, decisionId, capability: d.capability, key: null, log: log.child({ dfid: d.dfid, agent: d.agent }) };
    flow.key = this.keyOfDecision(d);
    this.startTiming(flow);
    return this.observed(flow, this.closeEscalation(flow, 'denied', operator, note, world.now(), store));
  }

  /** Expires one overdue pending decision. */
  expire(decisionId: string): Outcome {
    const { store, world, log } = this.deps;
    const d = this.pendingOrThrow(decisionId);
    const flow: Flow = { agent: d.agent, dfid: d.dfid, decisionId, capability: d.capability, key: null, log: log.child({ dfid: d.dfid, agent: d.agent }) };
    flow.key = this.keyOfDecision(d);
    this.startTiming(flow);
    return this.observed(flow, this.closeEscalation(flow, 'expired', 'system:expiry', null, world.now(), store));
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

  /**
   * Long poll: the decision's outcome once it is no longer pending, or its
   * pending outcome when `waitMs` passes (or `signal` aborts). Polls the store,
   * so an approval from any process (CLI, another replica) is seen.
   */
  async waitForDecision(agent: string | null, decisionId: string, waitMs: number, signal?: AbortSignal): Promise<Outcome | null> {
    const until = Date.now() + Math.min(Math.max(waitMs, 0), MAX_WAIT_MS);
    for (;;) {
      const outcome = this.getDecision(agent, decisionId);
      if (!outcome || outcome.status !== 'pending' || Date.now() >= until || signal?.aborted) return outcome;
      await sleep(Math.min(WAIT_POLL_MS, Math.max(until - Date.now(), 1)));
    }
  }

  /** Expires interventions (constraints, notes) past their deadline, recording each. */
  expireInterventions(): number {
    const { store, world } = this.deps;
    const now = world.now();
    const rows = store.db.transaction(() => store.agents.expireDue(now)).immediate();
    for (const r of rows) store.ledger.append({ dfid: r.dfid, agent: r.target_agent, type: 'InterventionExpired', decision_id: r.id, data: {} });
    return rows.length;
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

  /** Fields whose rolling sums budgets or steward gates read. */
  private trackedFields(agent: string, budgets: NonNullable<Contract['grants'][number]['limits']['budgets']>): Set<string> {
    const fields = new Set<string>();
    for (const b of budgets) if (b.sum) fields.add(b.sum);
    for (const c of this.contractOf(agent)?.stewards.cumulative ?? []) fields.add(c.sum);
    return fields;
  }

  private addUsage(agent: string, capability: string, values: Values, fields: Set<string>, at: number): void {
    this.deps.store.usage.add(agent, capability, CALLS_FIELD, 1, at);
    for (const f of fields) {
      const v = values[f];
      if (typeof v === 'number' && Number.isFinite(v)) this.deps.store.usage.add(agent, capability, f, v, at);
    }
  }

  private recordCircuit(flow: Flow, circuit: string, from: string, to: string): void {
    this.deps.store.ledger.append({
      ...this.event(flow, 'CircuitStateChanged'),
      reasons: to === 'open' ? ['CIRCUIT_OPEN'] : [],
      data: { capability: flow.capability, ...(circuit !== flow.capability ? { circuit } : {}), from, to },
    });
    flow.log.warn({ step: 'breaker', capability: flow.capability, circuit, from, to }, 'circuit state changed');
  }

  /**
   * A capability's readiness check. It bounds itself (the gateway: the
   * upstream's start_timeout_ms); READY_CEILING_MS is only a safety net. A
   * throw or a timeout is UPSTREAM_UNAVAILABLE.
   */
  private async checkReady(cap: Capability, signal?: AbortSignal): Promise<ReadyResult> {
    const deadlineMs = READY_CEILING_MS;
    const controller = new AbortController();
    const onAbort = () => controller.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        (cap.ready as NonNullable<Capability['ready']>)(controller.signal),
        new Promise<ReadyResult>((resolve) => {
          timer = setTimeout(() => {
            controller.abort();
            resolve({ ok: false, code: 'UPSTREAM_UNAVAILABLE', message: `\`${cap.def.id}\` was not ready within ${deadlineMs} ms` });
          }, deadlineMs);
        }),
      ]);
    } catch {
      return { ok: false, code: 'UPSTREAM_UNAVAILABLE', message: `\`${cap.def.id}\` could not be made ready` };
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
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
      ...(flow.note ? { operator_note: flow.note } : {}),
      ...(flow.normalized ? { normalized: flow.normalized } : {}),
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

/** Longest a capability's readiness check may take (above the largest upstream start_timeout_ms). */
const READY_CEILING_MS = 130_000;

/** get_decision's long poll: at most a minute, checking the store every 200 ms. */
export const MAX_WAIT_MS = 60_000;
const WAIT_POLL_MS = 200;

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
