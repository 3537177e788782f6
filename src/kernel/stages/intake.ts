import { canonicalJson, hashOf, sha256Hex } from '../../core/canonical.js';
import { logName } from '../../core/log-names.js';
import type { Intent, TextIntent } from '../../core/types.js';
import { IntentSchema, TextIntentSchema } from '../../core/wire.js';
import { event, mark } from '../flow.js';
import { reject } from '../record.js';
import { contractPeriod } from '../contract-period.js';
import { chainHolds } from '../delegation/call-checks.js';
import { readsOf } from '../read-ahead.js';
import { statusCode } from '../status.js';
import { extend, next, type ArrivedState, type ReceivedState, type ShapedState, type Stage, type StandingState } from './state.js';

/**
 * Receipt of the intent, journaled with hashes only, so even a refused call is
 * on the record. The oldest undelivered operator note is taken in the same
 * unit; it goes out with this call's outcome, whatever the verdict.
 */
export const receive: Stage<ArrivedState, ReceivedState> = (k, s) => {
  const { call, flow } = s;
  // Canonicalised once: the intent's hash and checkShape's size bound both read this text.
  const rawText = safeCanonical(call.intent);
  const raw = (call.intent ?? {}) as Partial<Intent> & Partial<TextIntent>;
  // A free-text intent is one that has `text`; the model proposes its capability and params.
  const isText = typeof call.intent === 'object' && call.intent !== null && 'text' in call.intent;
  const requestHash = isText ? hashOf({ agent: call.agent, text: raw.text ?? null }) : hashOf({ agent: call.agent, capability: raw.capability ?? null, params: raw.params ?? null });
  flow.journal.push(
    event(flow, 'IntentReceived', {
      data: { capability: flow.capability, channel: call.channel, request_hash: requestHash, intent_hash: rawText === null ? null : sha256Hex(rawText), set_hash: k.setHash, ...(isText ? { form: 'text' } : {}) },
    }),
    { op: 'decision.open', id: flow.decisionId, dfid: flow.dfid, agent: flow.agent, capability: flow.capability, request_hash: requestHash, created_at: s.receivedAt },
    { op: 'note.take', agent: flow.agent, now: s.receivedAt },
  );
  // An agent-chosen name reaches the log only if it names a loaded capability; otherwise as a hash.
  flow.log.debug({ step: 'received', decision_id: flow.decisionId, capability: logName(flow.capability, k.deps.workspace.capabilities.has(flow.capability ?? '')) }, 'intent received');
  return next(extend(s, { rawText, isText, requestHash }));
};

/** Identity, then the intervention check: a paused, suspended or terminated agent or flow is refused before anything else. */
export const checkStanding: Stage<ReceivedState, StandingState> = async (k, received) => {
  const { flow, call } = received;
  // A delegated agent's chain is re-read from the store at every call: a revoke anywhere above counts now (ADR-022).
  const chain = await k.delegations.chain(call.agent);
  const contract = chain?.at(-1)?.contract;
  if (!chain || !contract) return reject(k, flow, [{ code: 'UNKNOWN_AGENT', message: 'no contract for this agent' }]);
  // On the state before the checks below: a refused call's trace still names its contract.
  const s = extend(received, { contract });
  if (chain.length > 1) flow.chain = chain;
  const reads = readsOf(k, s);
  const status = await reads.status(call.agent);
  if (status !== 'active') return reject(k, flow, [{ code: statusCode(status), message: `agent is ${status}` }]);
  const flowStatus = await reads.flowStatus(flow.dfid, flow.agent);
  if (flowStatus !== 'active') return reject(k, flow, [{ code: flowStatus === 'paused' ? 'FLOW_PAUSED' : 'FLOW_TERMINATED', message: `flow is ${flowStatus}` }]);
  if (flow.chain) {
    const held = await chainHolds(k, flow.chain, call.agent, flow.dfid, s.receivedAt);
    if (held.length) return reject(k, flow, held);
  }
  // Outside its effective period a contract grants nothing.
  const lapsed = contractPeriod(contract, s.receivedAt);
  if (lapsed.length) return reject(k, flow, lapsed);
  mark(k, flow, 'received');
  return next(s);
};

/** Bounded input, then the intent's own shape and the caller's key. */
export const checkShape: Stage<StandingState, ShapedState> = (k, s) => {
  const { flow, call } = s;
  const limits = k.deps.workspace.config.limits;
  if (s.rawText === null || Buffer.byteLength(s.rawText) > limits.max_payload_bytes) {
    return reject(k, flow, [{ code: 'PAYLOAD_TOO_LARGE', message: `intent exceeds ${limits.max_payload_bytes} bytes` }]);
  }
  const raw = call.intent as object;
  if (s.isText && ('capability' in raw || 'params' in raw)) {
    return reject(k, flow, [{ code: 'SCHEMA_INVALID', message: 'pass either capability and params, or text, not both', path: '(intent)' }]);
  }
  const shape = s.isText ? TextIntentSchema.safeParse(call.intent) : IntentSchema.safeParse(call.intent);
  if (!shape.success) {
    return reject(
      k,
      flow,
      shape.error.issues.map((i) => ({ code: 'SCHEMA_INVALID' as const, message: i.message, path: i.path.map(String).join('.') || '(intent)' })),
    );
  }
  if (call.argumentIssues?.length) {
    return reject(k, flow, call.argumentIssues.map((i) => ({ code: 'SCHEMA_INVALID' as const, message: i.message, path: i.path })));
  }
  // A key in the intent passed its schema above; only one from _meta is still to be read.
  let callerKey = shape.data.idempotency_key;
  if (callerKey === undefined) {
    const meta = IntentSchema.shape.idempotency_key.safeParse(call.metaIdempotencyKey);
    if (!meta.success) return reject(k, flow, [{ code: 'SCHEMA_INVALID', message: 'invalid idempotency key in _meta', path: '_meta.idempotency_key' }]);
    callerKey = meta.data;
  }
  return next(extend(s, { shaped: shape.data, callerKey }));
};

function safeCanonical(value: unknown): string | null {
  try {
    return canonicalJson(value);
  } catch {
    return null;
  }
}
