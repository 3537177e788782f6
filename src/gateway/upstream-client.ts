/**
 * The gateway's MCP client to one upstream (ADR-008, ADR-013, ADR-027): SDK
 * v2's `Client` in `versionNegotiation: auto`, so each upstream is spoken to
 * in the revision it speaks. It probes with `server/discover` on the
 * connection itself (our stdio transport is not the SDK's own, and HTTP
 * probes in place anyway): an upstream that answers it is served at
 * 2026-07-28, any other falls back to the plain 2025 `initialize` handshake on
 * the same connection, so a 2025 upstream is still started once.
 *
 * What this module adds to the SDK: the requests an upstream sends back
 * (2025) or asks for in an `input_required` result (2026, fulfilled by the
 * SDK through the same handlers) go to the gateway's routing; errors reach
 * the rest of Mandate as the SDK's `ProtocolError` (an answer) or `SdkError`; and a
 * 2025 task-augmented call, which v2 no longer drives, is driven here.
 */
import { CLIENT_CAPABILITIES_META_KEY, Client, ProtocolError, ProtocolErrorCode, SdkError, SdkErrorCode, SERVER_INFO_META_KEY, type Transport } from '@modelcontextprotocol/client';
import { CancelTaskResultSchema, CreateTaskResultSchema, GetTaskResultSchema } from '@modelcontextprotocol/core';
import type { ZodType } from 'zod';
import { CapabilityError } from '../capabilities/manifest.js';
import type { AskableCapabilities, RelayNotification } from '../core/types.js';

export const CLIENT_INFO = { name: 'mandate-gateway', version: '0.1.0' };
/** What Mandate's client offers an upstream: it relays these to the agent's own client (ADR-013). */
const CLIENT_CAPABILITIES = { sampling: {}, elicitation: { form: {}, url: {} }, roots: { listChanged: true } };

export interface UpstreamHandlers {
  log(params: Record<string, unknown>): void;
  progress(params: Record<string, unknown>): void;
  listChanged(kind: 'tools' | 'resources' | 'prompts'): void;
  resourceUpdated(params: Record<string, unknown>): void;
  /** A request for the agent's client: sampling, elicitation, roots; `key` is a 2026 upstream's own name for it in its round. */
  ask(request: RelayNotification, signal: AbortSignal, key?: string): Promise<Record<string, unknown>>;
}

/** How the client picks the upstream's revision: the operator's `revision:` (auto, or one revision only). */
function negotiation(revision: 'auto' | '2025-11-25' | '2026-07-28') {
  if (revision === 'auto') return { versionNegotiation: { mode: 'auto' as const } };
  // Without a negotiation mode the v2 client speaks the 2025 handshake only, byte for byte.
  return revision === '2025-11-25' ? {} : { versionNegotiation: { mode: { pin: revision } } };
}

/** A v2 client with Mandate's handlers; `connect` negotiates the revision. */
export function upstreamClient(handlers: UpstreamHandlers, revision: 'auto' | '2025-11-25' | '2026-07-28' = 'auto'): Client {
  const client = new Client(CLIENT_INFO, {
    capabilities: CLIENT_CAPABILITIES,
    ...negotiation(revision),
    // A 2026 upstream's `input_required` is answered through the handlers below, a round at a time; a few rounds at most.
    inputRequired: { autoFulfill: true, maxRounds: 4 },
  });
  client.setNotificationHandler('notifications/message', (n) => handlers.log(n.params as Record<string, unknown>));
  // Our own progress routing (not the SDK's per-request onprogress): the SDK forgets a request's progress
  // handler as soon as its response arrives, which loses a last progress sent just before the response.
  client.setNotificationHandler('notifications/progress', (n) => handlers.progress(n.params as Record<string, unknown>));
  client.setNotificationHandler('notifications/tools/list_changed', () => handlers.listChanged('tools'));
  client.setNotificationHandler('notifications/resources/list_changed', () => handlers.listChanged('resources'));
  client.setNotificationHandler('notifications/prompts/list_changed', () => handlers.listChanged('prompts'));
  client.setNotificationHandler('notifications/resources/updated', (n) => handlers.resourceUpdated(n.params as Record<string, unknown>));
  // Requests the upstream sends back (2025) or embeds in an input_required result (2026) go to the agent's own client, governed there.
  for (const method of ['sampling/createMessage', 'elicitation/create', 'roots/list'] as const) {
    client.setRequestHandler(method, async (r, ctx) => {
      // On 2026-07-28 the request came embedded in an `input_required` round, and the SDK names it by the upstream's key.
      const key = client.getProtocolEra() === 'modern' ? String(ctx.mcpReq.id) : undefined;
      try {
        return (await handlers.ask({ method: r.method, params: (r.params ?? {}) as Record<string, unknown> }, ctx.mcpReq.signal, key)) as never;
      } catch (err) {
        // On 2026-07-28 a refusal never reaches the upstream (the SDK stops its input rounds): it ends the call, for a reason of Mandate's.
        if (client.getProtocolEra() === 'modern') throw new InputNotRelayed(r.method, err);
        throw err;
      }
    });
  }
  return client;
}

/** Mandate did not give a 2026 upstream the input it asked for during a call: refused by the contract, or no client to ask. */
export class InputNotRelayed extends Error {
  constructor(
    readonly method: string,
    refusal: unknown,
  ) {
    super(`input for \`${method}\` not relayed`, { cause: refusal });
    this.name = 'InputNotRelayed';
  }
}

/**
 * The call's failure when a 2026 upstream's input request was not relayed:
 * the contract's refusal (its reason codes and message), or a client that
 * cannot be asked, as the agent's own reason code.
 */
export function notRelayed(err: InputNotRelayed, upstream: string): CapabilityError {
  const data = err.cause instanceof ProtocolError ? (err.cause.data as { reasons?: unknown } | undefined) : undefined;
  const reasons = Array.isArray(data?.reasons) ? data.reasons.map(String) : [];
  const cause = err.cause instanceof Error ? err.cause.message : String(err.cause);
  if (reasons.length && !reasons.includes('CLIENT_CAPABILITY_MISSING')) {
    return new CapabilityError('CLIENT_REQUEST_NOT_GRANTED', `upstream \`${upstream}\` asked for \`${err.method}\` during the call, and it was refused: ${cause}`);
  }
  return new CapabilityError('CLIENT_CAPABILITY_MISSING', `upstream \`${upstream}\` asked for \`${err.method}\` during the call, and the agent's client cannot be asked: ${cause}`);
}

/**
 * The per-request capabilities a 2026 upstream is sent for one call: what the
 * agent's client can be asked (and Mandate relays), not everything Mandate's
 * client could relay. The upstream then asks only for input that can reach
 * someone, and refuses with -32021 a call that needs what the agent's client
 * lacks, as it would without Mandate in between. Empty for a 2025 upstream,
 * which was told its capabilities once, at `initialize`.
 */
export function requestCapabilities(client: Client, askable: AskableCapabilities | undefined): Record<string, unknown> {
  if (!askable || client.getProtocolEra() !== 'modern') return {};
  const relayed = Object.fromEntries((['roots', 'sampling', 'elicitation'] as const).filter((k) => askable[k]).map((k) => [k, askable[k]]));
  return { [CLIENT_CAPABILITIES_META_KEY]: relayed };
}

/**
 * A 2026 upstream's -32021: the call needs input of a kind the agent's request
 * did not declare (see requestCapabilities). It ends the call for the agent's
 * own reason, as a relay that cannot ask the client does; null for any other error.
 */
export function capabilityMissing(err: unknown, upstream: string): CapabilityError | null {
  if (!(err instanceof ProtocolError) || err.code !== ProtocolErrorCode.MissingRequiredClientCapability) return null;
  const required = (err.data as { requiredCapabilities?: unknown } | undefined)?.requiredCapabilities;
  const names = required && typeof required === 'object' ? Object.keys(required).map((k) => `\`${k}\``).join(', ') : 'a capability';
  return new CapabilityError('CLIENT_CAPABILITY_MISSING', `upstream \`${upstream}\` needs the agent's client to declare ${names} for this call, and this request did not: ${err.message}`);
}

/** Connects and reports the revision the upstream speaks. */
export async function connectUpstream(client: Client, transport: Transport, timeout: number): Promise<string> {
  await client.connect(transport, { timeout });
  return client.getNegotiatedProtocolVersion() ?? 'unknown';
}

/**
 * A 2026 upstream tells of list changes only on a `subscriptions/listen`
 * stream: one is opened for the lists it declares `listChanged`, and its
 * notifications reach the handlers above, as a 2025 upstream's do. Resolves
 * to what the upstream agreed to send; `null` for a 2025 upstream or one that
 * declares nothing; throws when the upstream refuses to listen.
 */
export async function listenForChanges(client: Client, timeout: number): Promise<string[] | null> {
  if (client.getProtocolEra() !== 'modern') return null;
  const caps = client.getServerCapabilities() ?? {};
  const filter = {
    ...(caps.tools?.listChanged ? { toolsListChanged: true } : {}),
    ...(caps.resources?.listChanged ? { resourcesListChanged: true } : {}),
    ...(caps.prompts?.listChanged ? { promptsListChanged: true } : {}),
  };
  if (!Object.keys(filter).length) return null;
  const subscription = await client.listen(filter, { timeout });
  return Object.keys(subscription.honoredFilter).filter((k) => subscription.honoredFilter[k as keyof typeof subscription.honoredFilter] === true);
}

/**
 * A 2026 upstream's result without its per-hop envelope: `serverInfo` in `_meta`
 * names the upstream to Mandate, not to the agent (each wire of Mandate's
 * stamps its own). Everything else is passed on as it came.
 */
export function withoutEnvelope(result: unknown): unknown {
  if (!result || typeof result !== 'object') return result;
  const meta = (result as { _meta?: Record<string, unknown> })._meta;
  if (!meta || !(SERVER_INFO_META_KEY in meta)) return result;
  const { [SERVER_INFO_META_KEY]: _dropped, ...rest } = meta;
  const out: Record<string, unknown> = { ...(result as Record<string, unknown>) };
  if (Object.keys(rest).length) out['_meta'] = rest;
  else delete out['_meta'];
  return out;
}

/** A JSON-RPC error the upstream answered; null for anything else. */
export function answeredError(err: unknown): ProtocolError | null {
  return err instanceof ProtocolError ? err : null;
}

/**
 * An answer the SDK refused as no valid result (e.g. a 2026-07-28 result without its required `resultType`), as the
 * error the rest of Mandate reads as an answer; null for anything else. The upstream did answer: that one request fails,
 * and the connection, which other calls share, is kept.
 */
export function invalidAnswer(err: unknown, upstream: string, method: string): ProtocolError | null {
  if (!(err instanceof SdkError) || err.code !== SdkErrorCode.InvalidResult) return null;
  return new ProtocolError(ProtocolErrorCode.InternalError, `upstream \`${upstream}\` answered ${method} with an invalid result: ${err.message}`);
}

/**
 * Not an answer: `closed` when the connection closed or the request timed out
 * (the close handler, if any, already counts it), `broken` for anything else
 * (a failed send, an HTTP error), after which the connection is dropped and
 * the next call reconnects, as with the v1 client.
 */
export function failureOf(err: unknown): 'closed' | 'broken' {
  if (err instanceof SdkError && (err.code === SdkErrorCode.ConnectionClosed || err.code === SdkErrorCode.RequestTimeout)) return 'closed';
  return 'broken';
}


/**
 * A 2025 task-augmented request (ADR-013): the task is created, polled until
 * it ends or needs input, and its final result fetched with `tasks/result`
 * (which also carries the requests the upstream sends while it waits).
 */
export async function requestViaTask<T extends ZodType>(
  client: Client,
  request: { method: string; params: Record<string, unknown> },
  schema: T,
  options: { signal: AbortSignal; timeout: number },
  upstream: string,
): Promise<unknown> {
  const created = await client.request({ method: request.method, params: { ...request.params, task: {} } }, CreateTaskResultSchema, options);
  const taskId = created.task.taskId;
  let task = created.task;
  for (;;) {
    if (task.status === 'completed' || task.status === 'input_required') {
      return client.request({ method: 'tasks/result', params: { taskId } }, schema, options);
    }
    if (task.status === 'failed') throw new ProtocolError(ProtocolErrorCode.InternalError, `Task ${taskId} failed`);
    if (task.status === 'cancelled') throw new ProtocolError(ProtocolErrorCode.InternalError, `Task ${taskId} was cancelled`);
    await new Promise((done) => setTimeout(done, task.pollInterval ?? 1_000));
    if (options.signal.aborted) {
      void client.request({ method: 'tasks/cancel', params: { taskId } }, CancelTaskResultSchema, { timeout: 2_000 }).catch(() => undefined);
      throw options.signal.reason ?? new Error(`upstream \`${upstream}\` task ${taskId} abandoned`);
    }
    task = await client.request({ method: 'tasks/get', params: { taskId } }, GetTaskResultSchema, options);
  }
}
