/**
 * Approval as an `input_required` result (2026-07-28, ADR-020). An escalated
 * call from a client that declared elicitation, under a contract that lets
 * the client's human approve, is answered with an elicitation stating the
 * exact call and a sealed `requestState` naming the pending decision and a
 * hash of the call. The retry carries the answer: it resolves that decision
 * (single-use, in the kernel) and is never governed as a new request.
 */
import { acceptedContent, CLIENT_CAPABILITIES_META_KEY, inputRequired, inputResponse, type InputRequiredResult, type RequestStateCodec, type ServerContext } from '@modelcontextprotocol/server';
import { hashOf } from '../../core/canonical.js';
import type { Outcome, ReasonDetail } from '../../core/types.js';
import type { Kernel } from '../../kernel/kernel.js';
import { APPROVAL_FORM, ApprovalAnswer, applyApproval, approvalQuestion, clientMayApprove } from '../client-approval.js';
import type { ApprovalState, RoundState } from './request-state.js';

/** The key of the one embedded request an approval round carries. */
export const APPROVAL_INPUT = 'mandate_approval';

/** The call an approval state is bound to: the tool and its arguments exactly as sent. */
export function callHash(tool: string, args: unknown): string {
  return hashOf({ tool, arguments: args ?? {} });
}

/** The client capabilities this request declared in its envelope (2026-07-28 has no session to remember them). */
export function declaredCapabilities(ctx: ServerContext): { roots?: object; sampling?: object; elicitation?: Record<string, unknown> } {
  const envelope = ctx.mcpReq.envelope as Record<string, unknown> | undefined;
  const caps = envelope?.[CLIENT_CAPABILITIES_META_KEY];
  return caps && typeof caps === 'object' && !Array.isArray(caps) ? (caps as ReturnType<typeof declaredCapabilities>) : {};
}

export function declaredElicitation(ctx: ServerContext): boolean {
  const caps = declaredCapabilities(ctx);
  // A bare `elicitation: {}` means form support (the pre-mode meaning, as in the SDK's own gate).
  return !!caps?.elicitation && (Object.keys(caps.elicitation).length === 0 || 'form' in caps.elicitation);
}

/** Whether this escalation may be asked of the client's human on this request. */
export function mayAskInBand(kernel: Kernel, agent: string, ctx: ServerContext): boolean {
  return clientMayApprove(kernel, agent) && declaredElicitation(ctx);
}

/** The `input_required` answer to an escalated call; null when the decision has nothing to show. */
export async function askForApproval(kernel: Kernel, agent: string, codec: RequestStateCodec<RoundState>, outcome: Outcome, hash: string, ctx: ServerContext): Promise<InputRequiredResult | null> {
  const message = await approvalQuestion(kernel, agent, outcome);
  if (message === null) return null;
  const requestState = await codec.mint({ v: 1, decision_id: outcome.decision_id, request_hash: hash }, ctx);
  return inputRequired({ inputRequests: { [APPROVAL_INPUT]: inputRequired.elicit({ mode: 'form', message, requestedSchema: APPROVAL_FORM }) }, requestState });
}

export type RetryAnswer =
  | { kind: 'resolved'; outcome: Outcome }
  | { kind: 'ask-again'; outcome: Outcome }
  | { kind: 'refused'; details: ReasonDetail[] };

/**
 * The retry of an approval round, its state already verified by the codec
 * (seal, binding, expiry). The state must name this exact call; a declined
 * or cancelled elicitation leaves the decision pending for an operator, as on
 * 2025-era clients; a missing or malformed answer asks again.
 */
export async function answerApproval(kernel: Kernel, agent: string, state: ApprovalState, hash: string, ctx: ServerContext): Promise<RetryAnswer> {
  if (state.v !== 1 || state.request_hash !== hash) {
    return { kind: 'refused', details: [{ code: 'SCHEMA_INVALID', message: 'requestState was minted for a different call; send the original call without it to start again', path: 'requestState' }] };
  }
  const current = await kernel.getDecision(agent, state.decision_id);
  if (!current) return { kind: 'refused', details: [{ code: 'DECISION_NOT_FOUND', message: `no decision \`${state.decision_id}\` of yours` }] };
  // Resolved meanwhile (an operator, or this answer replayed): its outcome, never a second resolution.
  if (current.status !== 'pending') return { kind: 'resolved', outcome: current };
  const view = inputResponse(ctx.mcpReq.inputResponses, APPROVAL_INPUT);
  if (view.kind === 'elicit' && view.action !== 'accept') return { kind: 'resolved', outcome: current };
  const answer = acceptedContent(ctx.mcpReq.inputResponses, APPROVAL_INPUT, ApprovalAnswer);
  if (!answer) return { kind: 'ask-again', outcome: current };
  return { kind: 'resolved', outcome: (await applyApproval(kernel, agent, state.decision_id, answer)) ?? current };
}
