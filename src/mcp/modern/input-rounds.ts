/**
 * The wire side of held calls (ADR-034): the first answer of a call whose
 * upstream asked for input, and the retries that carry the agent's answers.
 * A retry is never governed as a new call: it continues the one held call,
 * or, once that call has ended, answers its recorded outcome.
 */
import { inputRequired, type CallToolResult, type InputRequiredResult, type RequestStateCodec, type ServerContext } from '@modelcontextprotocol/server';
import type { Outcome, ReasonDetail } from '../../core/types.js';
import type { Kernel } from '../../kernel/kernel.js';
import type { HeldCall, HeldCalls, InputInbox } from './held-calls.js';
import type { HeldInputState, RoundState } from './request-state.js';

export interface Rounds {
  kernel: Kernel;
  agent: string;
  codec: RequestStateCodec<RoundState>;
  held: HeldCalls;
}

/** How this wire answers an outcome, and a refusal made here (nothing ran, nothing changed); R is the request's result (a tool call's, a prompt's). */
export interface RoundAnswers<R = CallToolResult> {
  resultFor(outcome: Outcome): R;
  refused(details: ReasonDetail[]): R;
}

/** What happens first to a call that just started: it ends, its upstream asks for input, or (for a task) it is still running after `ms`. */
export async function firstEvent<R>(call: Promise<R>, inbox: InputInbox, ms: number | undefined): Promise<{ kind: 'done'; result: R } | { kind: 'input' } | { kind: 'late' }> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const racers: Promise<{ kind: 'done'; result: R } | { kind: 'input' } | { kind: 'late' }>[] = [
    call.then((result) => ({ kind: 'done' as const, result })),
    inbox.whenAsked().then(() => ({ kind: 'input' as const })),
  ];
  if (ms !== undefined) racers.push(new Promise((resolve) => (timer = setTimeout(() => resolve({ kind: 'late' }), ms))));
  try {
    return await Promise.race(racers);
  } finally {
    clearTimeout(timer);
  }
}

/** The held call's next answer: its result once it ends, or the upstream's requests with a fresh sealed state. */
export async function nextAnswer<R = CallToolResult>(r: Rounds, entry: HeldCall<unknown>, ctx: ServerContext): Promise<R | InputRequiredResult> {
  const event = await entry.next();
  if (event.kind === 'done') return event.result as R;
  const state: HeldInputState = { v: 1, kind: 'input', decision_id: entry.decisionId, request_hash: entry.requestHash, held: entry.id, replica: r.held.replica, round: entry.round };
  return inputRequired({ inputRequests: event.requests, requestState: await r.codec.mint(state, ctx) });
}

/**
 * A retry carrying answers for a held call, its state already verified by
 * the codec (seal, agent, expiry). Answers that fit a waiting request go to
 * the upstream; with none that fits, the same requests are asked again. A
 * state from an earlier round (a retry repeated after its answer was lost)
 * applies nothing: the agent gets where the call stands now.
 */
export async function continueHeld<R = CallToolResult>(r: Rounds, state: HeldInputState, hash: string, ctx: ServerContext, answers: RoundAnswers<R>): Promise<R | InputRequiredResult> {
  if (state.request_hash !== hash) {
    return answers.refused([{ code: 'SCHEMA_INVALID', message: 'requestState was minted for a different call; send the original call without it to start again', path: 'requestState' }]);
  }
  const entry = r.held.get(state.held, r.agent);
  if (entry) {
    // Answers applied end the round at once, so a concurrent or repeated retry with the same state applies nothing more.
    if (state.round === entry.round && entry.inbox.answer(ctx.mcpReq.inputResponses as Record<string, unknown> | undefined) > 0) entry.round++;
    return nextAnswer<R>(r, entry, ctx);
  }
  // Not held here: a call that has ended answers from its record, on any process.
  const outcome = await r.kernel.getDecision(r.agent, state.decision_id);
  if (outcome && outcome.status !== 'running' && outcome.status !== 'pending') return answers.resultFor(outcome);
  const where =
    state.replica === r.held.replica
      ? 'this process no longer holds it'
      : 'it is held by another Mandate process (another replica, or a process that has since ended); only that process can continue it, so route this agent\'s retries back to it, or retry after the call has ended to get its recorded outcome';
  return answers.refused([{ code: 'INPUT_ROUND_NOT_HELD', message: `the call waiting for this answer (decision \`${state.decision_id}\`) is not held here: ${where}`, path: 'requestState' }]);
}
