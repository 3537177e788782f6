/**
 * Upstream prompts and completions on the 2026-07-28 wire (ADR-024): the same
 * governed functions as the 2025-era session (governed-access.ts), so a prompt
 * is listed by the same grants, decided by the same contract and Cedar
 * policies, quarantined by the same pins and recorded the same way. Only the
 * wire differs: no session, so an upstream's progress goes on the request's
 * own stream, and an upstream's sampling or elicitation during a get holds the
 * get and answers the agent `input_required` (no server-sent requests on this
 * revision; held like a tool call, ADR-034, ADR-038); errors are spelt in SDK v2's
 * ProtocolError with the same codes, messages and reasons. The SDK adds
 * `resultType`, `serverInfo` and, on prompts/list, `ttlMs` and `cacheScope`.
 */
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { ProtocolError, ProtocolErrorCode, type CompleteResult, type GetPromptResult, type InputRequiredResult, type Prompt, type Server, type ServerContext } from '@modelcontextprotocol/server';
import type { ServerIdentity } from '../../gateway/definition.js';
import type { Gateway } from '../../gateway/gateway.js';
import type { Kernel } from '../../kernel/kernel.js';
import { governedAccess, type AccessRelay, type CompleteParams } from '../governed-access.js';
import { refusal } from '../proxy-errors.js';
import { clientAsk } from '../proxy-relay.js';
import { callHash, declaredCapabilities } from './approval.js';
import { InputInbox } from './held-calls.js';
import { continueHeld, firstEvent, nextAnswer, type Rounds } from './input-rounds.js';
import { isHeldInputState, type RoundState } from './request-state.js';

/** How long a client may reuse a prompt or resource list: it differs per agent (private) and changes with a re-pin. */
export const LIST_TTL_MS = 60_000;

/** What the gateway's upstreams offer, from their pinned identities: Mandate declares prompts or completions only then. */
export function upstreamsOffer(gateway: Gateway | undefined, capability: 'prompts' | 'completions' | 'resources'): boolean {
  if (!gateway?.upstreams.size) return false;
  return gateway.primitives('server').some((p) => gateway.upstreams.has(p.server) && (p.definition as ServerIdentity).capabilities?.[capability] !== undefined);
}

/**
 * Registers prompts/list and prompts/get (declared `prompts`) and completion/complete (declared `completions`). A
 * get whose upstream asks for input is held like a tool call (ADR-034, ADR-038): answered `input_required`, and
 * continued by the retry that carries the answers.
 */
export function registerUpstreamPrompts(server: Server, kernel: Kernel, agent: string, gateway: Gateway, declared: { prompts: boolean; completions: boolean }, rounds: Rounds): void {
  const access = governedAccess(kernel, agent, gateway);
  if (declared.prompts) {
    server.setRequestHandler('prompts/list', () => ({ prompts: access.listPrompts() as Prompt[], ttlMs: LIST_TTL_MS, cacheScope: 'private' as const }));
    server.setRequestHandler('prompts/get', (request, ctx) => v2Errors(() => heldGet(access, kernel, agent, rounds, request.params, ctx)));
  }
  if (declared.completions) {
    server.setRequestHandler('completion/complete', (request, ctx) => v2Errors(() => access.complete(request.params as CompleteParams, ctx.mcpReq.signal)) as Promise<CompleteResult>);
  }
}

/**
 * One prompts/get: a retry with a held get's state continues it; otherwise the get is governed, and held if its
 * upstream asks for input first. A held get is no decision of the kernel's, so once it has ended a retry has no
 * outcome to replay: it is refused INPUT_ROUND_NOT_HELD, and the agent asks for the prompt again.
 */
async function heldGet(
  access: ReturnType<typeof governedAccess>,
  kernel: Kernel,
  agent: string,
  rounds: Rounds,
  params: { name: string; arguments?: Record<string, string> | undefined },
  ctx: ServerContext,
): Promise<GetPromptResult | InputRequiredResult> {
  const args = params.arguments ?? {};
  const hash = callHash(`prompts/get ${params.name}`, args);
  const state = ctx.mcpReq.requestState<RoundState>();
  if (state !== undefined) {
    if (!isHeldInputState(state)) throw new ProtocolError(ProtocolErrorCode.InvalidParams, 'requestState was not minted for a prompts/get');
    const refuse = (details: Parameters<typeof refusal>[0]): never => {
      // Nothing is recorded for it, like the tool path's plain rejection: a fresh trace id, and the held get it names.
      throw refusal(details, kernel.deps.world.newTraceId(), state.decision_id);
    };
    return continueHeld<GetPromptResult>(rounds, state, hash, ctx, { resultFor: () => refuse([{ code: 'INPUT_ROUND_NOT_HELD', message: 'the get has ended' }]), refused: refuse });
  }
  const inbox = new InputInbox();
  // The get runs on past this request when it is held: its own signal, which the request's end stops only before it is held.
  const abort = new AbortController();
  const cancel = () => abort.abort(ctx.mcpReq.signal.reason);
  ctx.mcpReq.signal.addEventListener('abort', cancel, { once: true });
  const wire: AccessRelay = {
    notify: (n) => ctx.mcpReq.notify(n as Parameters<typeof ctx.mcpReq.notify>[0]),
    ask: clientAsk(() => declaredCapabilities(ctx), kernel, agent, inbox.send),
    askable: () => declaredCapabilities(ctx),
  };
  const get = access.getPrompt({ ...params, arguments: args, _meta: ctx.mcpReq._meta as Record<string, unknown> | undefined }, abort.signal, wire);
  try {
    const first = await firstEvent(get, inbox, undefined);
    if (first.kind === 'done') return first.result as GetPromptResult;
    ctx.mcpReq.signal.removeEventListener('abort', cancel);
    return await nextAnswer<GetPromptResult>(rounds, rounds.held.hold(agent, hash, kernel.deps.world.newId(), get, inbox), ctx);
  } finally {
    ctx.mcpReq.signal.removeEventListener('abort', cancel);
  }
}

/** The shared functions speak SDK v1's McpError (a refusal, or the upstream's own error): re-spelt for SDK v2, code, message and data unchanged. */
export async function v2Errors<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof McpError) throw new ProtocolError(err.code, err.message, err.data);
    throw err;
  }
}
