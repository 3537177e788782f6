/**
 * The MCP adapter for one 2026-07-28 request (SDK v2, ADR-020): a fresh
 * low-level Server per request, bound to the agent the credential named.
 * Tools and calls come from governed-calls.ts, and an upstream's prompts and
 * completions from governed-access.ts, exactly as on the 2025-era wire; what differs is only the wire: no session, no server-sent requests,
 * an escalation the client's human may answer comes back as `input_required`.
 * The SDK adds `resultType`, `serverInfo`, `ttlMs`/`cacheScope` and answers
 * `server/discover`.
 */
import { ProtocolError, ProtocolErrorCode, Server, type CallToolResult, type ServerContext } from '@modelcontextprotocol/server';
import type { CallRelay, Channel, Outcome } from '../../core/types.js';
import type { Gateway } from '../../gateway/gateway.js';
import type { Kernel } from '../../kernel/kernel.js';
import { governedTools, plainRejection, readCallMeta, UnknownToolError } from '../governed-calls.js';
import { SERVER_INFO } from '../../core/server-info.js';
import { INSTRUCTIONS } from '../server-info.js';
import { toPassthroughResult, toToolResult } from '../tools.js';
import { answerApproval, askForApproval, callHash, declaredCapabilities, mayAskInBand } from './approval.js';
import { InputInbox, type HeldCalls } from './held-calls.js';
import { continueHeld, firstEvent, nextAnswer, type Rounds } from './input-rounds.js';
import { isHeldInputState, roundStateCodec, type RoundState } from './request-state.js';
import { clientAsk } from '../proxy-relay.js';
import { registerUpstreamPrompts, upstreamsOffer } from './prompts.js';
import { registerResources } from './resources.js';
import { declaredTasks, ModernTasks, TASK_AFTER_MS, TASKS_EXTENSION } from './tasks.js';
import { TASK_TOOLS } from '../tasks.js';
import type { TaskResultForm } from '../../store/port/index.js';

export interface ModernServerOptions {
  /** The HMAC key sealing approval `requestState` (request-state.ts). */
  stateKey: Uint8Array;
  /** This process's calls held for their agents' answers to an upstream's input requests (ADR-034). */
  held: HeldCalls;
  /** The delegation token this request authenticated with, if it did (ADR-022): each call of the request is authorized against it. */
  bearerToken?: string | undefined;
}

export function createModernServer(kernel: Kernel, agent: string, channel: Channel, opts: ModernServerOptions, gateway?: Gateway): Server {
  const codec = roundStateCodec(opts.stateKey, agent);
  const rounds: Rounds = { kernel, agent, codec, held: opts.held };
  // Tools, memory resources, and the upstreams' resources (and their subscriptions), prompts and completions.
  const memory = kernel.workspace.config.tools.mandate_tools;
  // Tasks are the extension on this revision (ADR-024): declared here, never per tool (no `execution.taskSupport`).
  const extensions = { [TASKS_EXTENSION]: {} };
  // Resources, prompts and completions of upstreams are declared only when an upstream offers them (its pinned identity says so).
  const upstream = { prompts: upstreamsOffer(gateway, 'prompts'), completions: upstreamsOffer(gateway, 'completions'), resources: upstreamsOffer(gateway, 'resources') };
  // Lists change with a reload or a re-pin: `subscriptions/listen` streams hear of it (list-changes.ts).
  const capabilities = {
    tools: { listChanged: true },
    // An upstream's resources may be followed: `subscriptions/listen` names them, each governed (resource-subscriptions.ts).
    ...(memory || upstream.resources ? { resources: { listChanged: true, ...(upstream.resources ? { subscribe: true } : {}) } } : {}),
    ...(upstream.prompts ? { prompts: { listChanged: true } } : {}),
    ...(upstream.completions ? { completions: {} } : {}),
    extensions,
  };
  const server = new Server(SERVER_INFO, { capabilities, instructions: INSTRUCTIONS, requestState: { verify: codec.verify } });
  if (memory || upstream.resources) registerResources(server, kernel, agent, gateway, { memory, upstream: upstream.resources });
  if (gateway && (upstream.prompts || upstream.completions)) registerUpstreamPrompts(server, kernel, agent, gateway, upstream, rounds);
  const tasks = new ModernTasks(kernel, agent, opts.held);
  tasks.register(server);
  const governed = governedTools(kernel, agent, channel);
  server.setRequestHandler('tools/list', () => ({ tools: [...governed.fixed, ...governed.capabilityTools().map((t) => t.tool)] as never }));

  /** The wire form of an outcome for the tool that was called: an upstream tool passes the upstream's own result through. */
  const resultFor = (name: string, outcome: Outcome) =>
    (governed.capabilityTools().find((t) => t.tool.name === name)?.passthrough ? toPassthroughResult(outcome) : toToolResult(outcome)) as CallToolResult;
  /** Which tools may answer with a task, and how its result looks: the governed calls only, as on the 2025 wire. */
  const taskForm = (name: string): TaskResultForm | null => {
    if (TASK_TOOLS.has(name)) return 'outcome';
    const target = governed.capabilityTools().find((t) => t.tool.name === name);
    return target ? (target.passthrough ? 'passthrough' : 'outcome') : null;
  };

  server.setRequestHandler('tools/call', async (request, ctx: ServerContext) => {
    const { name } = request.params;
    const args = request.params.arguments ?? {};
    const hash = callHash(name, args);
    const state = ctx.mcpReq.requestState<RoundState>();
    if (state !== undefined && isHeldInputState(state)) {
      // A retry with the answer to an upstream's request: it continues the held call (ADR-034).
      return continueHeld(rounds, state, hash, ctx, { resultFor: (outcome) => resultFor(name, outcome), refused: (details) => toToolResult(plainRejection(kernel, details)) as CallToolResult });
    }
    if (state !== undefined) {
      // A retry of an approval round: the answer resolves the pending decision; nothing is governed anew.
      const retry = await answerApproval(kernel, agent, state, hash, ctx);
      if (retry.kind === 'refused') return toToolResult(plainRejection(kernel, retry.details)) as CallToolResult;
      if (retry.kind === 'ask-again') return (await askForApproval(kernel, agent, codec, retry.outcome, hash, ctx)) ?? resultFor(name, retry.outcome);
      return resultFor(name, retry.outcome);
    }
    const meta = readCallMeta(ctx.mcpReq._meta as Record<string, unknown> | undefined);
    // A request that declared the tasks extension may be answered with a task: the call then runs on past its request.
    const form = declaredTasks(ctx) ? taskForm(name) : null;
    // Named here, so that a held call's state and a task can name the decision before it is recorded.
    const decisionId = kernel.deps.world.newId();
    // `abort`: tasks/cancel, and on stdio the request's own cancel (ADR-014). Over HTTP, closing the response stream
    // stops the call only before its effect starts; after that it runs to its end and is recorded (ADR-024).
    const abort = new AbortController();
    const stream = channel === 'http' ? new AbortController() : abort;
    const cancel = () => stream.abort(ctx.mcpReq.signal.reason);
    if (ctx.mcpReq.signal.aborted) cancel();
    else ctx.mcpReq.signal.addEventListener('abort', cancel, { once: true });
    let answered = false;
    let taskId: string | undefined;
    const inbox = new InputInbox();
    const relay: CallRelay = {
      progressToken: ctx.mcpReq._meta?.progressToken,
      // Notifications go on the request's own stream while it is open; a task's progress goes into its status message.
      notify: (n) => (answered ? Promise.resolve() : ctx.mcpReq.notify(n as Parameters<typeof ctx.mcpReq.notify>[0])),
      ...(form ? { onProgress: (u) => taskId && tasks.progress(taskId, u) } : {}),
      // An upstream's sampling, elicitation or roots request, once its governance lets it through, waits in the inbox: the call is
      // then held and this request answered `input_required` (ADR-034). What the client can be asked is what this request declared.
      ask: clientAsk(() => declaredCapabilities(ctx), kernel, agent, inbox.send),
      // A 2026 upstream is told, for this call, what this request declared (a transparent proxy declares its client's capabilities).
      askable: () => declaredCapabilities(ctx),
    };
    let escalated: Outcome | null = null;
    const call = governed.call(name, args, {
      signal: abort.signal,
      cancelBeforeEffect: stream === abort ? undefined : stream.signal,
      relay,
      decisionId,
      traceparent: meta.traceparent,
      idempotencyKey: meta.idempotencyKey,
      planId: meta.planId,
      delegationToken: meta.delegationToken,
      bearerToken: opts.bearerToken,
      onEscalated: async (outcome) => {
        escalated = outcome;
        return outcome;
      },
    });
    try {
      const first = await firstEvent(call, inbox, form ? TASK_AFTER_MS : undefined);
      if (first.kind === 'input') {
        // The upstream asked for input: the call is held in this process, and lives on past this request until the retry.
        answered = true;
        ctx.mcpReq.signal.removeEventListener('abort', cancel);
        return await nextAnswer(rounds, opts.held.hold(agent, hash, decisionId, call, inbox), ctx);
      }
      const early = first.kind === 'done' ? { result: first.result } : undefined;
      // A plan that runs (or waits for its approval) outlives the call: it is answered as a task that follows it step by step.
      if (early && !escalated && !(name === 'submit_plan' && livePlan(early.result))) return early.result as CallToolResult;
      // An approval the client's own human may give is asked now, before any task (SEP-2663: input rounds first).
      if (early && escalated && mayAskInBand(kernel, agent, ctx)) return (await askForApproval(kernel, agent, codec, escalated, hash, ctx)) ?? (early.result as CallToolResult);
      if (!form) return (early as { result: unknown }).result as CallToolResult;
      // Still running, or waiting for an operator: a task, which the request's end no longer cancels (tasks/cancel does).
      answered = true;
      ctx.mcpReq.signal.removeEventListener('abort', cancel);
      // A task's later input requests wait in its held inbox: tasks/get shows them and tasks/update answers them (ADR-034).
      opts.held.hold(agent, hash, decisionId, call, inbox);
      const task = await tasks.adopt(decisionId, form, call, abort);
      taskId = task.taskId;
      return task.result as CallToolResult;
    } catch (err) {
      if (err instanceof UnknownToolError) throw new ProtocolError(ProtocolErrorCode.InvalidParams, err.message);
      throw err;
    } finally {
      if (!answered) ctx.mcpReq.signal.removeEventListener('abort', cancel);
    }
  });
  return server;
}

/** Whether a submit_plan result is a plan that runs or waits for its approval (not a refusal). */
function livePlan(result: unknown): boolean {
  const o = (result as { structuredContent?: { verdict?: unknown; output?: { status?: unknown } } } | undefined)?.structuredContent;
  return o?.verdict !== 'rejected' && (o?.output?.status === 'running' || o?.output?.status === 'pending_approval');
}
