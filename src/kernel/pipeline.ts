import { withSignedReceipt } from '../core/receipt.js';
import type { GovernedCall, Intent, Outcome } from '../core/types.js';
import type { KernelCore } from './context.js';
import { newFlow, observed, outcomeOf } from './flow.js';
import { resolveDfid } from './dfid.js';
import { reject } from './record.js';
import { StoreUnavailableError } from '../store/port/index.js';
import { escalateIfNeeded } from './stages/escalate.js';
import { execute } from './stages/execute.js';
import { answerRepeats } from './stages/idempotency.js';
import { checkShape, checkStanding, receive } from './stages/intake.js';
import { normalize } from './stages/normalize.js';
import { readAhead } from './read-ahead.js';
import { decidePolicy } from './stages/policy.js';
import type { CallState, Stage } from './stages/state.js';
import { validate } from './stages/validate.js';
import { afterStep, holdPlanMode, holdToStep, routePlan } from './plans/steps.js';

/**
 * The pipeline of BRIEF.md, in order. Each stage goes on or ends the call with
 * an outcome; the last one always ends it. Adding a stage is a file and a line.
 */
export const STAGES: readonly Stage[] = [
  routePlan, // a step of a plan runs as the plan's sub-mandate (ADR-025)
  receive, // IntentReceived (journaled) and the operator note
  readAhead, // over PostgreSQL, the reads below in one round trip (ADR-028)
  holdPlanMode, // the named plan runs; no call outside a running plan where the contract says so
  checkStanding, // identity, agent and flow status
  checkShape, // payload bound, intent schema, the caller's key
  normalize, // free text → a proposal (ADR-006)
  answerRepeats, // the idempotency key, and repeats answered from the record
  holdToStep, // a plan's call is one of its steps that may run now
  validate, // facts, usage, DIM
  decidePolicy, // Cedar
  escalateIfNeeded, // steward gates and escalations (one commit)
  execute, // breaker, TOCTOU, pre-effect commit, handler, post-effect commit
];

/**
 * Governs one call. An unexpected exception anywhere is caught here, once,
 * and becomes an INTERNAL_ERROR rejection; if the store is unavailable too,
 * the rejection is returned without a receipt.
 */
export async function govern(k: KernelCore, call: GovernedCall): Promise<Outcome> {
  const { world } = k.deps;
  const receivedAt = world.now();
  const { dfid } = resolveDfid(call.traceparent, world);
  const proposed = (call.intent as Partial<Intent> | undefined)?.capability;
  const flow = newFlow(k, { agent: call.agent, dfid, decisionId: call.decisionId ?? world.newId(), capability: typeof proposed === 'string' ? proposed.slice(0, 200) : null, key: null, relay: call.relay });
  const state: CallState = { call, flow, receivedAt, rawText: null, isText: false, requestHash: '' };
  try {
    for (const stage of STAGES) {
      const outcome = await stage(k, state);
      // The answer carries a signed receipt where the workspace signs (ADR-016).
      if (outcome && flow.plan) await afterStep(k, flow, outcome, call.channel, (c) => govern(k, c));
      if (outcome) return observed(k, flow, withSignedReceipt(k.deps.receipts, outcome, state.requestHash || undefined));
    }
    throw new Error('the pipeline ended without an outcome');
  } catch (err) {
    flow.log.error({ err: { name: (err as Error)?.name, stack: (err as Error)?.stack }, decision_id: flow.decisionId }, 'internal error; failing closed');
    const code = err instanceof StoreUnavailableError ? 'STORE_UNAVAILABLE' : 'INTERNAL_ERROR';
    try {
      return observed(k, flow, await reject(k, flow, [{ code, message: code === 'INTERNAL_ERROR' ? 'internal error' : 'the store is unavailable' }]));
    } catch (again) {
      const unavailable = err instanceof StoreUnavailableError || again instanceof StoreUnavailableError;
      return observed(k, flow, outcomeOf(flow, 'rejected', 'rejected', [{ code: unavailable ? 'STORE_UNAVAILABLE' : 'INTERNAL_ERROR', message: 'the store is unavailable' }]));
    }
  }
}
