/**
 * Resources on the 2026-07-28 wire: memory records (memory-resources.ts) and
 * an upstream's pinned resources and templates (governed-access.ts), with the
 * same contract rules, Cedar decisions, pin checks and records as on the 2025
 * wire. A refused or missing memory record is -32602 with the URI, as the
 * revision asks for a resource that is not found; an upstream read's refusal
 * keeps the 2025 wire's code, message and reasons. Lists differ per agent and
 * change with a re-pin, so they carry `ttlMs` and `cacheScope: "private"`.
 * Subscriptions come on `subscriptions/listen` (resource-subscriptions.ts, ADR-039).
 */
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { ProtocolError, ProtocolErrorCode, type ReadResourceResult, type Resource, type ResourceTemplateType, type Server, type ServerContext } from '@modelcontextprotocol/server';
import type { Gateway } from '../../gateway/gateway.js';
import type { Kernel } from '../../kernel/kernel.js';
import { governedAccess, type AccessRelay } from '../governed-access.js';
import { isMemoryUri, memoryResources, memoryTemplates, readMemoryResource } from '../memory-resources.js';
import { LIST_TTL_MS, v2Errors } from './prompts.js';

export function registerResources(server: Server, kernel: Kernel, agent: string, gateway: Gateway | undefined, serves: { memory: boolean; upstream: boolean }): void {
  const access = governedAccess(kernel, agent, gateway);
  const upstream = serves.upstream && !!gateway;
  const cache = { ttlMs: LIST_TTL_MS, cacheScope: 'private' as const };
  server.setRequestHandler('resources/list', async () => ({
    resources: [...(serves.memory ? await memoryResources(kernel, agent) : []), ...(upstream ? access.listResources() : [])] as Resource[],
    ...cache,
  }));
  server.setRequestHandler('resources/templates/list', () => ({
    resourceTemplates: [...(serves.memory ? memoryTemplates() : []), ...(upstream ? access.listTemplates() : [])] as ResourceTemplateType[],
    ...cache,
  }));
  // An upstream's progress during a read goes on the request's own stream; it cannot ask the agent anything (no server-sent requests).
  const wire = (ctx: ServerContext): AccessRelay => ({ notify: (n) => ctx.mcpReq.notify(n as Parameters<typeof ctx.mcpReq.notify>[0]) });
  server.setRequestHandler('resources/read', async (request, ctx) => {
    const { uri } = request.params;
    if (upstream && !isMemoryUri(uri)) {
      return v2Errors(() => access.readResource({ uri, _meta: ctx.mcpReq._meta as Record<string, unknown> | undefined }, ctx.mcpReq.signal, wire(ctx))) as Promise<ReadResourceResult>;
    }
    try {
      return (await readMemoryResource(kernel, agent, uri)) as ReadResourceResult;
    } catch (err) {
      // The shared reader speaks SDK v1's error; this wire answers in v2's, with the same code and reasons.
      if (err instanceof McpError) throw new ProtocolError(ProtocolErrorCode.InvalidParams, err.message, { ...(err.data && typeof err.data === 'object' ? err.data : {}), uri });
      throw err;
    }
  });
}
