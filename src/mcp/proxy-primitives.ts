/**
 * An upstream's resources, resource templates, prompts, completions and
 * logging level, proxied and governed for one agent's session (ADR-013).
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
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import {
  CompleteRequestSchema,
  CompleteResultSchema,
  EmptyResultSchema,
  ErrorCode,
  GetPromptRequestSchema,
  GetPromptResultSchema,
  ListPromptsRequestSchema,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  McpError,
  ReadResourceRequestSchema,
  ReadResourceResultSchema,
  RootsListChangedNotificationSchema,
  SetLevelRequestSchema,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
  type Prompt,
  type Resource,
  type ResourceTemplate,
  type ServerCapabilities,
} from '@modelcontextprotocol/sdk/types.js';
import type { ZodType } from 'zod';
import { promptGrantFor, resourceGrantFor, wildcardMatches } from '../config/contract-schema.js';
import { hashOf } from '../core/canonical.js';
import type { CallRelay, ReasonDetail } from '../core/types.js';
import { exposeMode, wireName } from '../gateway/exposure.js';
import type { Gateway, PinnedPrimitive } from '../gateway/gateway.js';
import type { GatewaySession } from '../gateway/sessions.js';
import { decideAccess, recordAccess, type AccessEventType } from '../kernel/access.js';
import { resolveDfid } from '../kernel/dfid.js';
import type { Kernel } from '../kernel/kernel.js';
import { isMemoryUri, memoryResources, memoryTemplates, readMemoryResource } from './memory-resources.js';
import { refusal } from './proxy-errors.js';
import { clientAsk, type SendToClient } from './proxy-relay.js';

/** Where Mandate puts the record of a governed read or get in a result's `_meta`. */
export const ACCESS_META_KEY = 'mandate/access';

interface Extra {
  signal: AbortSignal;
  sendNotification: (n: never) => Promise<void>;
  sendRequest: (...args: never[]) => Promise<unknown>;
}

/**
 * Registers the handlers on the session's server; returns the function that
 * detaches the session from the gateway (call it when the session closes).
 */
export function registerUpstreamPrimitives(server: Server, kernel: Kernel, agent: string, gateway: Gateway | undefined, opts: { memory: boolean; declared: ServerCapabilities }): () => void {
  const declared = opts.declared;
  const config = kernel.workspace.config;
  const contract = () => kernel.contractOf(agent);
  const serverRelay: CallRelay = {
    notify: (n) => server.notification(n as Parameters<typeof server.notification>[0]),
    ask: clientAsk(server, kernel, agent, (r, schema, o) => server.request(r as never, schema as never, o)),
  };

  const listedResources = (): Resource[] => {
    const c = contract();
    if (!gateway || !c) return [];
    return gateway
      .primitives('resource')
      .filter((p) => resourceGrantFor(c, p.server, p.name))
      .map((p) => p.definition as Resource);
  };
  const listedTemplates = (): ResourceTemplate[] => {
    const c = contract();
    if (!gateway || !c) return [];
    return gateway
      .primitives('template')
      .filter((p) => c.resources.some((g) => g.upstream === p.server && wildcardMatches(g.uri, p.name)))
      .map((p) => p.definition as ResourceTemplate);
  };
  /** Granted prompts, each with the name the agent sees. */
  const listedPrompts = (): { pin: PinnedPrimitive; name: string }[] => {
    const c = contract();
    if (!gateway || !c) return [];
    return gateway
      .primitives('prompt')
      .filter((p) => promptGrantFor(c, p.server, p.name))
      .map((pin) => ({ pin, name: wireName(exposeMode(config, pin.server), pin.server, pin.name) }));
  };

  // Only what the server declares is served (the SDK refuses other handlers): in front of one transparent upstream, what it declared.
  if (declared.resources) {
    server.setRequestHandler(ListResourcesRequestSchema, async () => ({ resources: [...(opts.memory ? await memoryResources(kernel, agent) : []), ...listedResources()] }));
    server.setRequestHandler(ListResourceTemplatesRequestSchema, () => ({ resourceTemplates: [...(opts.memory ? memoryTemplates() : []), ...listedTemplates()] }));
  }

  interface Access {
    kind: 'resource' | 'prompt';
    event: AccessEventType;
    operation: string;
    server: string | null;
    target: string;
    pin: PinnedPrimitive | null;
    context?: Record<string, string | number | boolean | Record<string, string>>;
    data?: Record<string, unknown>;
    unknownCode?: number;
  }

  /**
   * The governed part of a request to an upstream for this agent: decided
   * (contract, Cedar), checked against its pin, the upstream started.
   * Refusals are recorded and thrown; the caller records what follows.
   */
  const admit = async (req: Access, meta: Record<string, unknown> | undefined, signal: AbortSignal) => {
    const { world, store } = kernel.deps;
    const { dfid } = resolveDfid(typeof meta?.['traceparent'] === 'string' ? meta['traceparent'] : undefined, world);
    const decisionId = world.newId();
    const targetField = req.kind === 'resource' ? { uri_hash: hashOf(req.target) } : { prompt: req.target };
    let policies: string[] = [];
    const record = (details: ReasonDetail[], data: Record<string, unknown>) =>
      recordAccess(store, {
        type: req.event,
        dfid,
        agent,
        decision_id: decisionId,
        reasons: [...new Set(details.map((d) => d.code))],
        data: { upstream: req.server, operation: req.operation, ...targetField, ...(req.data ?? {}), ...(policies.length ? { policies } : {}), ...data },
      });
    const refuse = async (details: ReasonDetail[]) => {
      await record(details, { allowed: false });
      return refusal(details, dfid, decisionId, req.unknownCode);
    };
    if (!gateway || req.server === null) {
      throw await refuse([{ code: 'PRIMITIVE_UNKNOWN', message: req.kind === 'resource' ? 'no upstream serves this URI for you' : `no prompt \`${req.target}\`` }]);
    }
    const verdict = await decideAccess(kernel, { agent, kind: req.kind, upstream: req.server, target: req.target, operation: req.operation, context: req.context ?? {} });
    policies = verdict.policies;
    if (!verdict.ok) throw await refuse(verdict.details);
    const ready = await gateway.ready(req.server, req.pin, signal);
    if (!ready.ok) throw await refuse([{ code: ready.code, message: ready.message }]);
    const upstream = gateway.upstreams.get(req.server);
    if (!upstream) throw await refuse([{ code: 'UPSTREAM_UNAVAILABLE', message: `no upstream \`${req.server}\`` }]);
    return { dfid, decisionId, record, refuse, upstream, server: req.server };
  };

  /** A governed request answered by the upstream: its result as it came, plus Mandate's record in `_meta`. */
  const governed = async (req: Access & { method: string; params: Record<string, unknown>; schema: ZodType }, meta: Record<string, unknown> | undefined, extra: Extra): Promise<Record<string, unknown>> => {
    const { dfid, decisionId, record, refuse, upstream, server: name } = await admit(req, meta, extra.signal);
    const cfg = config.upstreams[name];
    const deadline = cfg?.deadline_ms ?? config.limits.default_deadline_ms;
    const maxBytes = cfg?.max_output_bytes ?? config.limits.default_max_output_bytes;
    // The caller's progress token: an upstream's progress during a long read or get is relayed under it.
    const progressToken = (meta?.['progressToken'] as string | number | undefined) ?? undefined;
    const relay: CallRelay = {
      progressToken,
      notify: (n) => extra.sendNotification(n as never),
      ask: clientAsk(server, kernel, agent, extra.sendRequest as unknown as SendToClient),
    };
    let result: Record<string, unknown>;
    try {
      result = (await upstream.request(req.method, req.params, req.schema, {
        signal: AbortSignal.any([extra.signal, AbortSignal.timeout(deadline)]),
        dfid,
        agent,
        // What a relayed sampling or elicitation request records as `during`: a prompt's name, never a URI.
        target: req.kind === 'resource' ? req.method : req.target,
        relay,
      })) as Record<string, unknown>;
    } catch (err) {
      // The upstream's own JSON-RPC error is its answer, passed on as it came; anything else means it is unavailable.
      const answered = err instanceof McpError && err.code !== ErrorCode.ConnectionClosed && err.code !== ErrorCode.RequestTimeout;
      if (answered) {
        await record([{ code: 'HANDLER_FAILED', message: 'the upstream answered with an error' }], { allowed: true, error_code: err.code });
        throw err;
      }
      throw await refuse([{ code: 'UPSTREAM_UNAVAILABLE', message: `upstream \`${name}\` did not answer` }]);
    }
    const bytes = Buffer.byteLength(JSON.stringify(result));
    if (bytes > maxBytes) throw await refuse([{ code: 'OUTPUT_TOO_LARGE', message: `the answer is ${bytes} bytes; the cap is ${maxBytes}` }]);
    const receipt = await record([], { allowed: true, result_hash: hashOf(result), result_bytes: bytes });
    const own = result['_meta'] && typeof result['_meta'] === 'object' ? (result['_meta'] as Record<string, unknown>) : {};
    return { ...result, _meta: { ...own, [ACCESS_META_KEY]: { dfid, decision_id: decisionId, receipt } } };
  };

  /** The upstream serving a URI for this agent, and its pin (a resource or template), or null. */
  const ownerOf = (uri: string) => {
    const c = contract();
    const candidates = c ? c.resources.filter((g) => wildcardMatches(g.uri, uri)).map((g) => g.upstream) : [];
    return gateway?.resourceOwner(uri, candidates) ?? null;
  };

  if (declared.resources) server.setRequestHandler(ReadResourceRequestSchema, async (request, extra) => {
    const { uri } = request.params;
    // Without upstreams every URI is Mandate's own (memory), as before the gateway served resources.
    if (opts.memory && (isMemoryUri(uri) || !gateway?.upstreams.size)) return readMemoryResource(kernel, agent, uri);
    const owner = ownerOf(uri);
    return governed(
      { kind: 'resource', event: 'ResourceAccessed', operation: 'read', server: owner?.server ?? null, target: uri, pin: owner?.pin ?? null, method: 'resources/read', params: { uri }, schema: ReadResourceResultSchema, context: { uri } },
      request.params._meta,
      extra as unknown as Extra,
    ) as never;
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
  if (!gateway?.upstreams.size) return () => undefined;

  if (declared.prompts) server.setRequestHandler(ListPromptsRequestSchema, () => ({
    prompts: listedPrompts().map(({ pin, name }) => ({ ...(pin.definition as Prompt), name })),
  }));

  for (const [schema, op] of !declared.resources?.subscribe ? [] : [
    [SubscribeRequestSchema, 'subscribe'],
    [UnsubscribeRequestSchema, 'unsubscribe'],
  ] as const) {
    server.setRequestHandler(schema, async (request, extra) => {
      const { uri } = request.params;
      const owner = ownerOf(uri);
      const access = { kind: 'resource', event: 'ResourceAccessed', operation: op, server: owner?.server ?? null, target: uri, pin: owner?.pin ?? null, context: { uri } } as const;
      const { dfid, record, refuse, server: name } = await admit(access, request.params._meta, extra.signal);
      // Counted by the gateway: the upstream hears of the first subscriber and of the last unsubscriber only.
      const sessions = gateway?.sessions;
      try {
        await (op === 'subscribe' ? sessions?.subscribe(session, name, uri, { signal: extra.signal, dfid }) : sessions?.unsubscribe(session, name, uri, { signal: extra.signal, dfid }));
      } catch (err) {
        if (err instanceof McpError && err.code !== ErrorCode.ConnectionClosed && err.code !== ErrorCode.RequestTimeout) {
          await record([{ code: 'HANDLER_FAILED', message: 'the upstream answered with an error' }], { allowed: true, error_code: err.code });
          throw err;
        }
        throw await refuse([{ code: 'UPSTREAM_UNAVAILABLE', message: `upstream \`${name}\` did not answer` }]);
      }
      await record([], { allowed: true });
      return {};
    });
  }

  if (declared.prompts) server.setRequestHandler(GetPromptRequestSchema, async (request, extra) => {
    const { name } = request.params;
    const args = request.params.arguments ?? {};
    const found = listedPrompts().find((p) => p.name === name) ?? null;
    // A prompt not granted is not listed: asking for it is refused as not granted when it exists, unknown otherwise.
    const pin = found?.pin ?? gateway?.primitives('prompt').find((p) => wireName(exposeMode(config, p.server), p.server, p.name) === name) ?? null;
    return governed(
      {
        kind: 'prompt',
        event: 'PromptAccessed',
        operation: 'get',
        server: pin?.server ?? null,
        target: pin?.name ?? name,
        pin,
        method: 'prompts/get',
        params: { name: pin?.name ?? name, arguments: args },
        schema: GetPromptResultSchema,
        context: { arguments: args },
        data: { arguments_hash: hashOf(args) },
        unknownCode: ErrorCode.InvalidParams,
      },
      request.params._meta,
      extra as unknown as Extra,
    ) as never;
  });

  if (declared.completions) server.setRequestHandler(CompleteRequestSchema, async (request, extra) => {
    const ref = request.params.ref as { type: string; name?: string; uri?: string };
    const c = contract();
    let target: { server: string; ref: Record<string, unknown> } | null = null;
    if (ref.type === 'ref/prompt') {
      const p = listedPrompts().find((x) => x.name === ref.name);
      if (p) target = { server: p.pin.server, ref: { type: 'ref/prompt', name: p.pin.name } };
    } else if (ref.type === 'ref/resource' && typeof ref.uri === 'string' && c) {
      const t = gateway?.primitives('template').find((x) => x.name === ref.uri && c.resources.some((g) => g.upstream === x.server && wildcardMatches(g.uri, x.name)));
      if (t) target = { server: t.server, ref: { type: 'ref/resource', uri: t.name } };
    }
    // Completion suggests values; it reads nothing the grant does not already show, so the grant suffices.
    if (!target || !gateway) throw new McpError(ErrorCode.InvalidParams, 'PRIMITIVE_UNKNOWN: no granted prompt or resource template with this reference');
    const ready = await gateway.ready(target.server, null, extra.signal);
    if (!ready.ok) throw new McpError(ErrorCode.InternalError, `${ready.code}: ${ready.message}`);
    const upstream = gateway.upstreams.get(target.server);
    if (!upstream?.declares('completions')) return { completion: { values: [] } };
    const { dfid } = resolveDfid(undefined, kernel.deps.world);
    return (await upstream.request('completion/complete', { ...request.params, ref: target.ref }, CompleteResultSchema, {
      signal: AbortSignal.any([extra.signal, AbortSignal.timeout(config.limits.default_deadline_ms)]),
      dfid,
      agent,
      target: String(target.ref['name'] ?? target.ref['uri']),
    })) as never;
  });

  // The agent's logging level goes to every running upstream that logs (an upstream is shared: the last level set wins).
  if (declared.logging) server.setRequestHandler(SetLevelRequestSchema, async (request) => {
    for (const upstream of gateway?.upstreams.values() ?? []) {
      if (!upstream.declares('logging')) continue;
      const { dfid } = resolveDfid(undefined, kernel.deps.world);
      await upstream
        .request('logging/setLevel', { level: request.params.level }, EmptyResultSchema, { signal: AbortSignal.timeout(config.limits.default_deadline_ms), dfid, agent, target: 'logging' })
        .catch(() => undefined);
    }
    return {};
  });

  // The agent's roots changed: the upstreams that may ask for them are told.
  server.setNotificationHandler(RootsListChangedNotificationSchema, () => {
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
