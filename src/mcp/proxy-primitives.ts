/**
 * An upstream's resources, resource templates, prompts, completions and
 * logging level, proxied and governed for one agent's 2025-era session
 * (ADR-013). The governed part (decide, check the pin, ask the upstream,
 * record) is governed-access.ts, shared with the 2026-07-28 wire; this module
 * binds it to the 2025-era session's SDK v2 server: handlers, relays,
 * subscriptions, list changes. Each request's params are checked against
 * legacy-params.ts, so a malformed one gets -32602 naming the problem.
 *
 * - Lists come from the pins, filtered by the contract: a resource or
 *   template is listed when a resource grant of its upstream matches its URI
 *   (or URI template), a prompt when a prompt grant matches its name. Each
 *   entry is the pinned definition exactly as the upstream listed it; a
 *   prompt of a prefixed upstream is named `<server>_<prompt>`.
 * - A read, subscription or prompt get is decided by `decideAccess`
 *   (contract, Cedar), checked against its pin (quarantine), sent upstream
 *   with the dfid as traceparent, and recorded, content-safe, either way.
 *   A refusal is a JSON-RPC error carrying the reason codes.
 * - Completions go to the upstream of a granted prompt or template.
 * - Memory records stay resources `memory://{scope}/{key}` when Mandate's
 *   own tools are listed.
 */
import type { Server, ServerCapabilities, ServerContext } from '@modelcontextprotocol/server';
import { EmptyResultSchema } from '@modelcontextprotocol/core';
import type { CallRelay } from '../core/types.js';
import type { Gateway } from '../gateway/gateway.js';
import type { GatewaySession } from '../gateway/sessions.js';
import { resolveDfid } from '../kernel/dfid.js';
import type { Kernel } from '../kernel/kernel.js';
import { governedAccess, upstreamAnswered, type AccessRelay, type CompleteParams } from './governed-access.js';
import { isMemoryUri, memoryResources, memoryTemplates, readMemoryResource } from './memory-resources.js';
import { CompleteParamsSchema, ListParams, PromptParams, SetLevelParams, UriParams } from './legacy-params.js';
import { clientAsk } from './proxy-relay.js';

/**
 * Registers the handlers on the session's server; returns the function that
 * detaches the session from the gateway (call it when the session closes).
 */
export function registerUpstreamPrimitives(server: Server, kernel: Kernel, agent: string, gateway: Gateway | undefined, opts: { memory: boolean; declared: ServerCapabilities }): () => void {
  const declared = opts.declared;
  const config = kernel.workspace.config;
  // What the session's client declared at initialize: what it can be asked, and what a 2026 upstream is told (ADR-038).
  const clientCapabilities = () => server.getClientCapabilities() ?? {};
  const serverRelay: CallRelay = {
    notify: (n) => server.notification(n as Parameters<typeof server.notification>[0]),
    ask: clientAsk(clientCapabilities, kernel, agent, (r, schema, o) => server.request(r as never, schema as never, o)),
  };

  const access = governedAccess(kernel, agent, gateway);
  const { admit, ownerOf } = access;
  // Only what the server declares is served (the SDK refuses other handlers): in front of one transparent upstream, what it declared.
  if (declared.resources) {
    server.setRequestHandler('resources/list', { params: ListParams }, async () => ({ resources: [...(opts.memory ? await memoryResources(kernel, agent) : []), ...access.listResources()] as never }));
    server.setRequestHandler('resources/templates/list', { params: ListParams }, () => ({ resourceTemplates: [...(opts.memory ? memoryTemplates() : []), ...access.listTemplates()] as never }));
  }
  /** The 2025 wire's relay for a read or get: progress on the request, sampling/elicitation/roots to this client (ADR-013). */
  const wire = (ctx: ServerContext): AccessRelay => ({
    notify: (n) => ctx.mcpReq.notify(n as never),
    ask: clientAsk(clientCapabilities, kernel, agent, (r, schema, o) => ctx.mcpReq.send(r as never, schema as never, o)),
    askable: clientCapabilities,
  });

  if (declared.resources) server.setRequestHandler('resources/read', { params: UriParams }, async (params, ctx) => {
    const { uri } = params;
    // Without upstreams every URI is Mandate's own (memory), as before the gateway served resources.
    if (opts.memory && (isMemoryUri(uri) || !gateway?.upstreams.size)) return readMemoryResource(kernel, agent, uri) as never;
    return access.readResource(params, ctx.mcpReq.signal, wire(ctx)) as never;
  });

  // The session as the gateway sees it: resource updates it subscribed to, list changes, requests outside a call.
  const session: GatewaySession = {
    agent,
    relay: serverRelay,
    resourceUpdated: (_upstream, params) => void server.sendResourceUpdated(params as { uri: string }).catch(() => undefined),
    listChanged: (_upstream, kind) => {
      const send = kind === 'tools' ? server.sendToolListChanged() : kind === 'resources' ? server.sendResourceListChanged() : server.sendPromptListChanged();
      void send.catch(() => undefined);
    },
  };

  // Without upstreams the server declares no prompts, completions or subscriptions (the SDK refuses their handlers).
  if (!gateway?.upstreams.size) {
    // Logging is declared, with nothing to relay: the level is taken, its params checked first (the SDK's own handler
    // would answer a bad level -32603 with its whole zod dump).
    if (declared.logging) server.setRequestHandler('logging/setLevel', { params: SetLevelParams }, () => ({}));
    return () => undefined;
  }

  if (declared.prompts) server.setRequestHandler('prompts/list', { params: ListParams }, () => ({ prompts: access.listPrompts() as never }));

  for (const op of !declared.resources?.subscribe ? [] : (['subscribe', 'unsubscribe'] as const)) {
    server.setRequestHandler(`resources/${op}`, { params: UriParams }, async (params, ctx) => {
      const { uri } = params;
      const extra = ctx.mcpReq;
      const owner = ownerOf(uri);
      const access = { kind: 'resource', event: 'ResourceAccessed', operation: op, server: owner?.server ?? null, target: uri, pin: owner?.pin ?? null, context: { uri } } as const;
      const { dfid, record, refuse, server: name } = await admit(access, params._meta, extra.signal);
      // Counted by the gateway: the upstream hears of the first subscriber and of the last unsubscriber only.
      const sessions = gateway?.sessions;
      try {
        await (op === 'subscribe' ? sessions?.subscribe(session, name, uri, { signal: extra.signal, dfid }) : sessions?.unsubscribe(session, name, uri, { signal: extra.signal, dfid }));
      } catch (err) {
        if (upstreamAnswered(err)) {
          await record([{ code: 'HANDLER_FAILED', message: 'the upstream answered with an error' }], { allowed: true, error_code: err.code });
          throw err;
        }
        throw await refuse([{ code: 'UPSTREAM_UNAVAILABLE', message: `upstream \`${name}\` did not answer` }]);
      }
      await record([], { allowed: true });
      return {};
    });
  }

  if (declared.prompts) server.setRequestHandler('prompts/get', { params: PromptParams }, (params, ctx) => access.getPrompt(params, ctx.mcpReq.signal, wire(ctx)) as never);

  if (declared.completions) server.setRequestHandler('completion/complete', { params: CompleteParamsSchema }, (params, ctx) => access.complete(params as CompleteParams, ctx.mcpReq.signal) as never);

  // The agent's logging level goes to every running upstream that logs (an upstream is shared: the last level set wins).
  if (declared.logging) server.setRequestHandler('logging/setLevel', { params: SetLevelParams }, async (params) => {
    for (const upstream of gateway?.upstreams.values() ?? []) {
      if (!upstream.declares('logging')) continue;
      const { dfid } = resolveDfid(undefined, kernel.deps.world);
      await upstream
        .request('logging/setLevel', { level: params.level }, EmptyResultSchema, { signal: AbortSignal.timeout(config.limits.default_deadline_ms), dfid, agent, target: 'logging' })
        .catch(() => undefined);
    }
    return {};
  });

  // The agent's roots changed: the upstreams that may ask for them are told.
  server.setNotificationHandler('notifications/roots/list_changed', () => {
    for (const upstream of gateway?.upstreams.values() ?? []) void upstream.notify('notifications/roots/list_changed');
  });

  const detach = gateway.sessions.attach(session);
  const stop = gateway.onChange((changed) => {
    if (changed.has('resources')) void server.sendResourceListChanged().catch(() => undefined);
    if (changed.has('prompts')) void server.sendPromptListChanged().catch(() => undefined);
  });
  return () => {
    detach();
    stop();
  };
}
