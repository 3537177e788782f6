import { grantFor } from '../../config/contract-schema.js';
import { hashOf } from '../../core/canonical.js';
import { readsOf } from '../read-ahead.js';
import { repeat } from '../record.js';
import type { KernelCore } from '../context.js';
import { extend, next, type BoundState, type IntentState, type Stage } from './state.js';

/**
 * Fixes the idempotency key (the caller's, else derived from the canonical
 * request with the params as the capability reads them), and answers a
 * repeat of a known key from its record. This runs before DIM on purpose: a
 * retry of a request that is done must return the recorded outcome even if
 * the state has moved since (ADR-001).
 */
export const answerRepeats: Stage<IntentState, BoundState> = async (k, intended) => {
  const s = bindCapability(k, intended);
  const { flow } = s;
  // A read has no effect to protect: without the caller's key it is answered afresh every time.
  const derived = s.capability?.def.sideEffect === 'read' ? `fresh:${flow.decisionId}` : `derived:${s.keyHash}`;
  flow.key = s.callerKey ?? derived;
  if (flow.key.startsWith('fresh:')) return next(s);
  const seen = await readsOf(k, s).peek(flow.agent, flow.key, k.deps.world.now());
  return seen ? repeat(k, flow, seen, s.keyHash) : next(s);
};

/** The capability the intent names and its params as it reads them (granted only), and the key's request identity. */
export function bindCapability(k: KernelCore, s: IntentState): BoundState {
  const { intent, contract } = s;
  const capability = k.deps.workspace.capabilities.get(intent.capability);
  const granted = !!capability && !!grantFor(contract, capability.def.id);
  const params = capability && granted ? capability.def.input.safeParse(intent.params) : undefined;
  const keyHash = params?.success ? hashOf({ agent: s.call.agent, capability: intent.capability, params: params.data }) : s.requestHash;
  return extend(s, { capability, params, keyHash });
}
