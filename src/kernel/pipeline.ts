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
import { StageChain } from './stages/chain.js';
import type { CallState } from './stages/state.js';
import { validate } from './stages/validate.js';
import { afterStep, holdPlanMode, holdToStep, routePlan } from './plans/steps.js';
import { noopTracer, type SpanAttributes, type Tracer, type TraceSpan } from '../telemetry/port.js';
import { GEN_AI_TOOL_CALL_ARGUMENTS, GEN_AI_TOOL_CALL_RESULT, outcomeAttributes } from '../telemetry/mcp-attributes.js';

/**
 * The pipeline of BRIEF.md, in order. Each stage goes on with what it learnt
 * or ends the call with an outcome; the last one always ends it. Each is
 * given the state the stages before it filled (stages/state.ts), so moving a
 * stage before one whose fields it reads does not compile. Adding a stage is
 * a file and a line.
 */
const PIPELINE = StageChain.start()
  .then(routePlan) // a step of a plan runs as the plan's sub-mandate (ADR-025)
  .then(receive) // IntentReceived (journaled) and the operator note
  .then(readAhead) // the reads below at once: one round trip on PostgreSQL (ADR-028), one read transaction on SQLite (ADR-045)
  .then(holdPlanMode) // the named plan runs; no call outside a running plan where the contract says so
  .then(checkStanding) // identity, agent and flow status
  .then(checkShape) // payload bound, intent schema, the caller's key
  .then(normalize) // free text → a proposal (ADR-006)
  .then(answerRepeats) // the idempotency key, and repeats answered from the record
  .then(holdToStep) // a plan's call is one of its steps that may run now
  .then(validate) // facts, usage, DIM
  .then(decidePolicy) // Cedar
  .then(escalateIfNeeded) // steward gates and escalations (one commit)
  .then(execute); // breaker, TOCTOU, pre-effect commit, handler, post-effect commit

/** The pipeline's stages in order (their names name the tracing spans). */
export const STAGES = PIPELINE.stages;

/**
 * Governs one call. An unexpected exception anywhere is caught here, once,
 * and becomes an INTERNAL_ERROR rejection; if the store is unavailable too,
 * the rejection is returned without a receipt.
 */
export async function govern(k: KernelCore, call: GovernedCall): Promise<Outcome> {
  // One span for the call, one child per stage (ADR-026); with tracing off these run the functions as they are.
  const tracer = k.deps.tracer ?? noopTracer;
  return tracer.span('mandate.govern', {}, (span) => run(k, call, tracer, span));
}

async function run(k: KernelCore, call: GovernedCall, tracer: Tracer, span: TraceSpan): Promise<Outcome> {
  const { world } = k.deps;
  const receivedAt = world.now();
  const { dfid } = resolveDfid(call.traceparent, world);
  const proposed = (call.intent as Partial<Intent> | undefined)?.capability;
  const flow = newFlow(k, { agent: call.agent, dfid, decisionId: call.decisionId ?? world.newId(), capability: typeof proposed === 'string' ? proposed.slice(0, 200) : null, key: null, relay: call.relay });
  // The stages add what they learn to this same object: at the end it holds what those that ran filled.
  const state: CallState = { call, flow, receivedAt };
  try {
    // With tracing off the stages run as they are: no span name, attributes or closure per stage.
    const outcome = await PIPELINE.run(k, state, tracer.enabled ? (stage, go) => tracer.span(`mandate.stage ${stage.name}`, { 'mandate.stage': stage.name }, go) : undefined);
    if ('next' in outcome) throw new Error('the pipeline ended without an outcome');
    if (flow.plan) await afterStep(k, flow, outcome, call.channel, (c) => govern(k, c));
    if (tracer.enabled) span.set(spanAttributes(k, state, outcome, tracer.recordContent));
    // The answer carries a signed receipt where the workspace signs (ADR-016).
    return observed(k, flow, withSignedReceipt(k.deps.receipts, outcome, state.requestHash || undefined));
  } catch (err) {
    flow.log.error({ err: { name: (err as Error)?.name, stack: (err as Error)?.stack }, decision_id: flow.decisionId }, 'internal error; failing closed');
    const code = err instanceof StoreUnavailableError ? 'STORE_UNAVAILABLE' : 'INTERNAL_ERROR';
    span.fail(code);
    try {
      return observed(k, flow, await reject(k, flow, [{ code, message: code === 'INTERNAL_ERROR' ? 'internal error' : 'the store is unavailable' }]));
    } catch (again) {
      const unavailable = err instanceof StoreUnavailableError || again instanceof StoreUnavailableError;
      return observed(k, flow, outcomeOf(flow, 'rejected', 'rejected', [{ code: unavailable ? 'STORE_UNAVAILABLE' : 'INTERNAL_ERROR', message: 'the store is unavailable' }]));
    }
  }
}

/**
 * The call as `mandate.*` span attributes: ids, verdict, reason codes, contract, policies and chain,
 * never a value. Argument and output values only where the operator opted in for traces
 * (`telemetry.record_content`) and the capability for its record (`audit.recordParams`/`recordOutput`).
 */
function spanAttributes(k: KernelCore, s: CallState, outcome: Outcome, recordContent: boolean): SpanAttributes {
  const audit = s.capability?.def.audit;
  return {
    ...outcomeAttributes(outcome),
    'mandate.agent': s.flow.agent,
    'mandate.contract.id': s.contract?.agent,
    'mandate.contract.version': s.contract?.version,
    'mandate.policy_set.hash': k.deps.workspace.policySet.hash,
    'mandate.delegation.chain': s.flow.chain?.length ? s.flow.chain.map((l) => l.agent) : undefined,
    'mandate.plan.id': s.flow.plan?.id,
    ...(recordContent && audit?.recordParams && s.validated ? { [GEN_AI_TOOL_CALL_ARGUMENTS]: boundedJson(s.validated.params) } : {}),
    ...(recordContent && audit?.recordOutput && outcome.output !== undefined ? { [GEN_AI_TOOL_CALL_RESULT]: boundedJson(outcome.output) } : {}),
  };
}

/** JSON of a value for a span attribute, cut at 8 KiB. */
function boundedJson(value: unknown): string {
  return (JSON.stringify(value) ?? '').slice(0, 8_192);
}
