/**
 * Upstream prompts and completions on the 2026-07-28 wire (ADR-024): the same
 * governed functions as the 2025-era session (governed-access.ts), so a prompt
 * is listed by the same grants, decided by the same contract and Cedar
 * policies, quarantined by the same pins and recorded the same way. Only the
 * wire differs: no session, so an upstream's progress goes on the request's
 * own stream and an upstream's sampling or elicitation during a get is refused
 * (no server-sent requests on this revision); errors are spelt in SDK v2's
 * ProtocolError with the same codes, messages and reasons. The SDK adds
 * `resultType`, `serverInfo` and, on prompts/list, `ttlMs` and `cacheScope`.
 */
import { type CompleteResult, type GetPromptResult, type Prompt, type Server, type ServerContext } from '@modelcontextprotocol/server';
import type { ServerIdentity } from '../../gateway/definition.js';
import type { Gateway } from '../../gateway/gateway.js';
import type { Kernel } from '../../kernel/kernel.js';
import { governedAccess, type AccessRelay, type CompleteParams } from '../governed-access.js';

/** How long a client may reuse a prompt or resource list: it differs per agent (private) and changes with a re-pin. */
export const LIST_TTL_MS = 60_000;

/** What the gateway's upstreams offer, from their pinned identities: Mandate declares prompts or completions only then. */
export function upstreamsOffer(gateway: Gateway | undefined, capability: 'prompts' | 'completions' | 'resources'): boolean {
  if (!gateway?.upstreams.size) return false;
  return gateway.primitives('server').some((p) => gateway.upstreams.has(p.server) && (p.definition as ServerIdentity).capabilities?.[capability] !== undefined);
}

/** Registers prompts/list and prompts/get (declared `prompts`) and completion/complete (declared `completions`). */
export function registerUpstreamPrompts(server: Server, kernel: Kernel, agent: string, gateway: Gateway, declared: { prompts: boolean; completions: boolean }): void {
  const access = governedAccess(kernel, agent, gateway);
  const wire = (ctx: ServerContext): AccessRelay => ({ notify: (n) => ctx.mcpReq.notify(n as Parameters<typeof ctx.mcpReq.notify>[0]) });
  if (declared.prompts) {
    server.setRequestHandler('prompts/list', () => ({ prompts: access.listPrompts() as Prompt[], ttlMs: LIST_TTL_MS, cacheScope: 'private' as const }));
    server.setRequestHandler('prompts/get', (request, ctx) =>
      access.getPrompt({ ...request.params, _meta: ctx.mcpReq._meta as Record<string, unknown> | undefined }, ctx.mcpReq.signal, wire(ctx)) as Promise<GetPromptResult>,
    );
  }
  if (declared.completions) {
    server.setRequestHandler('completion/complete', (request, ctx) => access.complete(request.params as CompleteParams, ctx.mcpReq.signal) as Promise<CompleteResult>);
  }
}

