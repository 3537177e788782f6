/**
 * The MCP adapter for one 2026-07-28 request (SDK v2, ADR-020): a fresh
 * low-level Server per request, bound to the agent the credential named.
 * Tools and calls come from governed-calls.ts, exactly as on the 2025-era
 * wire; what differs is only the wire: no session, no server-sent requests,
 * an escalation the client's human may answer comes back as `input_required`.
 * The SDK adds `resultType`, `serverInfo`, `ttlMs`/`cacheScope` and answers
 * `server/discover`.
 */
import { ProtocolError, ProtocolErrorCode, Server, type CallToolResult, type ServerContext } from '@modelcontextprotocol/server';
import type { CallRelay, Channel, Outcome } from '../../core/types.js';
import type { Kernel } from '../../kernel/kernel.js';
import { governedTools, plainRejection, readCallMeta, UnknownToolError } from '../governed-calls.js';
import { INSTRUCTIONS, SERVER_INFO } from '../server-info.js';
import { toPassthroughResult, toToolResult } from '../tools.js';
import { answerApproval, askForApproval, callHash, mayAskInBand } from './approval.js';
import { approvalStateCodec, type ApprovalState } from './request-state.js';
import { registerMemoryResources } from './resources.js';

export interface ModernServerOptions {
  /** The HMAC key sealing approval `requestState` (request-state.ts). */
  stateKey: Uint8Array;
}

export function createModernServer(kernel: Kernel, agent: string, channel: Channel, opts: ModernServerOptions): Server {
  const codec = approvalStateCodec(opts.stateKey, agent);
  // Tools and memory resources; prompts, completions and upstream primitives stay on the 2025-era wire for now (ADR-020).
  const memory = kernel.workspace.config.tools.mandate_tools;
  const capabilities = memory ? { tools: {}, resources: {} } : { tools: {} };
  const server = new Server(SERVER_INFO, { capabilities, instructions: INSTRUCTIONS, requestState: { verify: codec.verify } });
  if (memory) registerMemoryResources(server, kernel, agent);
  const governed = governedTools(kernel, agent, channel);
  // Tasks are not served on this wire yet, so no tool advertises `execution.taskSupport`.
  server.setRequestHandler('tools/list', () => ({ tools: [...governed.fixed, ...governed.capabilityTools().map((t) => t.tool)] as never }));

  /** The wire form of an outcome for the tool that was called: an upstream tool passes the upstream's own result through. */
  const resultFor = (name: string, outcome: Outcome) =>
    (governed.capabilityTools().find((t) => t.tool.name === name)?.passthrough ? toPassthroughResult(outcome) : toToolResult(outcome)) as CallToolResult;

  server.setRequestHandler('tools/call', async (request, ctx: ServerContext) => {
    const { name } = request.params;
    const args = request.params.arguments ?? {};
    const hash = callHash(name, args);
    const state = ctx.mcpReq.requestState<ApprovalState>();
    if (state !== undefined) {
      // A retry of an approval round: the answer resolves the pending decision; nothing is governed anew.
      const retry = await answerApproval(kernel, agent, state, hash, ctx);
      if (retry.kind === 'refused') return toToolResult(plainRejection(kernel, retry.details)) as CallToolResult;
      if (retry.kind === 'ask-again') return (await askForApproval(kernel, agent, codec, retry.outcome, hash, ctx)) ?? resultFor(name, retry.outcome);
      return resultFor(name, retry.outcome);
    }
    const meta = readCallMeta(ctx.mcpReq._meta as Record<string, unknown> | undefined);
    const relay: CallRelay = {
      progressToken: ctx.mcpReq._meta?.progressToken,
      notify: (n) => ctx.mcpReq.notify(n as Parameters<typeof ctx.mcpReq.notify>[0]),
      // No `ask`: this revision has no server-sent requests, so an upstream's sampling or elicitation is refused (gateway bridging: issue 19).
    };
    let escalated: Outcome | null = null;
    try {
      const result = await governed.call(name, args, {
        signal: ctx.mcpReq.signal,
        relay,
        traceparent: meta.traceparent,
        idempotencyKey: meta.idempotencyKey,
        planId: meta.planId,
        delegationToken: meta.delegationToken,
        onEscalated: async (outcome) => {
          escalated = outcome;
          return outcome;
        },
      });
      if (escalated && mayAskInBand(kernel, agent, ctx)) return (await askForApproval(kernel, agent, codec, escalated, hash, ctx)) ?? (result as CallToolResult);
      return result as CallToolResult;
    } catch (err) {
      if (err instanceof UnknownToolError) throw new ProtocolError(ProtocolErrorCode.InvalidParams, err.message);
      throw err;
    }
  });
  return server;
}
