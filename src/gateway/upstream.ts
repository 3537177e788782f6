/**
 * One supervised upstream MCP server (ADR-008): started lazily on first
 * need, restarted with backoff after a crash, at most `max_concurrency` calls
 * at once with a bounded queue (call-slots.ts), over the transport its
 * configuration names (upstream-transport.ts). A crash or a hang of the upstream never takes
 * Mandate down: it becomes UPSTREAM_UNAVAILABLE (or DEADLINE_EXCEEDED) for
 * the calls concerned, and the upstream is started again later.
 */
import type { Client } from '@modelcontextprotocol/client';
import { CallToolResultSchema, EmptyResultSchema } from '@modelcontextprotocol/core';
import type { CallToolResult, Tool } from '@modelcontextprotocol/sdk/types.js';
import type { ZodType } from 'zod';
import { CapabilityError, type CapabilityContext } from '../capabilities/manifest.js';
import type { UpstreamConfig } from '../config/workspace-schema.js';
import type { Logger } from '../core/log.js';
import { newSpanId } from '../core/world.js';
import type { CallRelay } from '../core/types.js';
import { CallRouting } from './call-routing.js';
import { CallSlots } from './call-slots.js';
import { LIST_KINDS, listUpstream, liveSignatures, type ListKind, type LivePrimitive, type LiveTool } from './listing.js';
import { ResourceListens } from './resource-listens.js';
import type { Environment } from './secrets.js';
import { upstreamTransport } from './upstream-transport.js';
import { answeredError, capabilityMissing, connectUpstream, failureOf, InputNotRelayed, invalidAnswer, listenForChanges, notRelayed, requestCapabilities, requestViaTask, upstreamClient, withoutEnvelope } from './upstream-client.js';
import { noopTracer, type Tracer, type TraceSpan } from '../telemetry/port.js';
import { upstreamSpanAttributes, upstreamSpanName } from '../telemetry/mcp-attributes.js';

export type UpstreamState = 'idle' | 'starting' | 'ready' | 'backoff' | 'failed' | 'closed';

export type StartResult = { ok: true } | { ok: false; message: string };

export interface UpstreamDeps {
  name: string;
  config: UpstreamConfig;
  workspaceDir: string;
  env: Environment;
  log: Logger;
  /** Wall clock for backoff (supervision is not decision code). */
  now?: () => number;
  /** Deadline of one tool call, for the SDK's own request timeout (the kernel's engine enforces it too). */
  deadlineMs: number;
  /** Largest message accepted from a stdio upstream (bounds the read buffer). */
  maxMessageBytes: number;
  /** What the upstream sends outside any one call (ADR-013): resource updates, list changes, and requests to route. */
  events?: UpstreamEvents | undefined;
  /** Client spans for the calls this upstream answers (ADR-026); absent: none. */
  tracer?: Tracer | undefined;
}

/** Where an upstream's messages that belong to no single call go (the gateway routes them to sessions). */
export interface UpstreamEvents {
  resourceUpdated(upstream: string, params: Record<string, unknown>): void;
  listChanged(upstream: string, kind: 'tools' | 'resources' | 'prompts'): void;
  /** A client to ask, and to send log messages to, when no call is in flight (the only session, if there is exactly one). */
  soleRelay(): { agent: string; relay: CallRelay } | null;
  /** After a (re)start: lets the gateway renew this upstream's resource subscriptions. */
  started(upstream: string): void;
}

const STDERR_TAIL = 2_048;

export class Upstream {
  state: UpstreamState = 'idle';
  /** How many times the upstream was started, and crashes (or failed starts) in a row. */
  starts = 0;
  crashes = 0;
  lastError: string | null = null;
  /** Before this wall-clock time, no restart is attempted (backoff). */
  nextStartAt = 0;
  /** The last lines the upstream wrote to stderr (for `mandate doctor`; never logged). */
  stderrTail = '';
  /** The MCP revision the running (or last) connection negotiated (ADR-027); null before the first start. */
  revision: string | null = null;

  private client: Client | null = null;
  private connecting: Promise<StartResult> | null = null;
  private closing = false;
  private live = new Map<string, LiveTool>();
  private primitives = new Map<string, LivePrimitive>();
  /** A 2026 upstream's listen streams for the resources the gateway subscribed to. */
  private readonly resourceListens = new ResourceListens();
  /** What the sessions were last told each list holds (null before the first listing). */
  private announced: Record<ListKind, string> | null = null;
  private readonly slots: CallSlots;
  private readonly calls: CallRouting;
  private readonly now: () => number;

  constructor(private readonly deps: UpstreamDeps) {
    this.now = deps.now ?? Date.now;
    this.calls = new CallRouting(deps.name, deps.log, () => deps.events?.soleRelay() ?? null);
    this.slots = new CallSlots(deps.name, () => this.deps.config);
  }

  get name(): string {
    return this.deps.name;
  }

  get config(): UpstreamConfig {
    return this.deps.config;
  }

  /** The tools the running upstream lists now, with their definition hashes. */
  liveTools(): { tool: Tool; hash: string }[] {
    return [...this.live.values()];
  }

  liveHash(tool: string): string | undefined {
    return this.live.get(tool)?.hash;
  }

  /** The resources, templates and prompts the running upstream lists now, by pin key. */
  livePrimitives(): LivePrimitive[] {
    return [...this.primitives.values()];
  }

  livePrimitiveHash(key: string): string | undefined {
    return this.primitives.get(key)?.hash;
  }

  /** Whether the running upstream declared this capability (null when it is not running). */
  declares(capability: 'resources' | 'prompts' | 'completions' | 'logging' | 'subscribe'): boolean | null {
    const caps = this.client?.getServerCapabilities();
    if (!caps) return null;
    return capability === 'subscribe' ? caps.resources?.subscribe === true : caps[capability] !== undefined;
  }

  /** True when a new call would be refused: every slot taken and the queue full. */
  saturated(): boolean {
    return this.slots.saturated();
  }

  /**
   * Makes sure the upstream runs: starts it on first need, or again after a
   * crash once the backoff has passed. `force` (operator commands) ignores the
   * backoff. Never throws; a failure names the upstream.
   */
  async start(opts: { signal?: AbortSignal; force?: boolean } = {}): Promise<StartResult> {
    if (this.state === 'ready' && this.client) return { ok: true };
    if (this.closing) return { ok: false, message: `upstream \`${this.name}\` is shut down` };
    if (!this.connecting) {
      const wait = this.nextStartAt - this.now();
      if (wait > 0 && !opts.force) {
        return { ok: false, message: `upstream \`${this.name}\` is restarting after a failure (next attempt in ${wait} ms): ${this.lastError ?? 'unknown error'}` };
      }
      this.connecting = this.connect().finally(() => {
        this.connecting = null;
      });
    }
    const signal = opts.signal;
    if (!signal) return this.connecting;
    if (signal.aborted) return { ok: false, message: `start of upstream \`${this.name}\` abandoned: the call was cancelled` };
    return Promise.race([
      this.connecting,
      new Promise<StartResult>((done) => signal.addEventListener('abort', () => done({ ok: false, message: `start of upstream \`${this.name}\` abandoned: the call was cancelled` }), { once: true })),
    ]);
  }

  private async connect(): Promise<StartResult> {
    const { config, name, log } = this.deps;
    this.state = 'starting';
    const made = upstreamTransport(this.deps, (chunk) => {
      this.stderrTail = (this.stderrTail + chunk.toString('utf8')).slice(-STDERR_TAIL);
    });
    if (!made.ok) return this.failed(made.message, false);
    this.starts++;
    const events = this.deps.events;
    const client: Client = upstreamClient({
      log: (params) => this.calls.logMessage(params),
      progress: (params) => this.calls.progress(params),
      // An upstream's list_changed is passed on once per real change of that list, never for what it announces while starting.
      listChanged: (kind) => {
        void this.relist(client)
          .then(() => this.state === 'ready' && this.client === client && this.announce([kind]))
          .catch(() => undefined);
      },
      resourceUpdated: (params) => events?.resourceUpdated(name, params),
      ask: (request, signal, key) => this.calls.ask(request, signal, key),
    }, config.revision);
    client.onclose = () => this.closed(client);
    client.onerror = () => undefined; // transport errors surface as a close or a failed request
    this.client = client;
    try {
      this.revision = await connectUpstream(client, made.transport, config.start_timeout_ms);
      await this.relist(client);
    } catch (err) {
      // If the process already exited, closed() counted the crash and set the backoff.
      const counted = this.client !== client;
      this.client = null;
      void client.close().catch(() => undefined);
      const message = `upstream \`${name}\` failed to start: ${describe(err)}`;
      if (!counted) return this.failed(message, true);
      this.state = 'failed';
      this.lastError = message;
      return { ok: false, message };
    }
    if (this.client !== client) return { ok: false, message: `upstream \`${name}\` exited while starting` };
    // A 2026 upstream's list changes come on a listen stream; without one they are seen at its next start or re-pin, as before.
    // Not awaited: an upstream slow to acknowledge it must not hold up the call that started it.
    void listenForChanges(client, config.start_timeout_ms).then(
      (honored) => honored && log.debug({ upstream: name, honored }, 'listening for list changes'),
      (err: unknown) => log.warn({ upstream: name, err: { name: (err as Error)?.name, message: describe(err) } }, 'upstream refused subscriptions/listen: its list changes are seen at its next start or re-pin'),
    );
    this.state = 'ready';
    // The first listing is the baseline; after a restart, only lists that differ from before are announced.
    this.announce(LIST_KINDS);
    this.lastError = null;
    log.info({ upstream: name, revision: this.revision, tools: this.live.size, primitives: this.primitives.size, starts: this.starts }, 'upstream started');
    events?.started(name);
    return { ok: true };
  }

  /** A failed start: remembered, and (unless it is configuration) the next attempt waits. */
  private failed(message: string, backoff: boolean): StartResult {
    this.state = 'failed';
    this.lastError = message;
    if (backoff) {
      this.crashes++;
      this.nextStartAt = this.now() + this.backoffMs();
    }
    this.deps.log.warn({ upstream: this.name, crashes: this.crashes, next_start_in_ms: backoff ? this.backoffMs() : 0 }, 'upstream failed to start');
    return { ok: false, message };
  }

  private backoffMs(): number {
    const { initial_ms, max_ms } = this.deps.config.restart;
    return Math.min(initial_ms * 2 ** Math.max(this.crashes - 1, 0), max_ms);
  }

  /** The connection ended: a shutdown, or a crash to recover from with backoff. */
  private closed(client: Client): void {
    if (this.client !== client) return;
    this.client = null;
    this.live = new Map();
    this.primitives = new Map();
    this.resourceListens.forget();
    if (this.closing) {
      this.state = 'closed';
      return;
    }
    this.crashes++;
    this.state = 'backoff';
    this.lastError = `upstream \`${this.name}\` exited`;
    this.nextStartAt = this.now() + this.backoffMs();
    this.deps.log.warn({ upstream: this.name, crashes: this.crashes, next_start_in_ms: this.backoffMs() }, 'upstream exited; it restarts on the next call after the backoff');
  }

  /** Lists the running upstream's tools again (before pinning). */
  async refreshTools(): Promise<void> {
    if (!this.client) throw new Error(`upstream \`${this.name}\` is not running`);
    await this.relist(this.client);
  }

  /** A connection that failed under a call: dropped and counted as a crash, so the next call reconnects after the backoff. */
  private broken(client: Client): void {
    this.closed(client);
    void client.close().catch(() => undefined);
  }

  /** Tells the sessions about each of `kinds` whose live list differs from the one they were last told about. */
  private announce(kinds: readonly ListKind[]): void {
    const now = liveSignatures({ tools: this.live, primitives: this.primitives });
    const first = this.announced === null;
    const before = this.announced ?? now;
    this.announced = { ...before };
    for (const kind of kinds) {
      if (!first && now[kind] !== before[kind]) this.deps.events?.listChanged(this.name, kind);
      this.announced[kind] = now[kind];
    }
  }

  private async relist(client: Client): Promise<void> {
    const listing = await listUpstream(client, this.deps.config.start_timeout_ms);
    if (client !== this.client) return;
    this.live = listing.tools;
    this.primitives = listing.primitives;
  }

  /**
   * Calls one tool. Waits for a free slot (bounded queue), sends the dfid as
   * `traceparent` in `_meta`, forwards the upstream's progress to the caller,
   * and returns the upstream's result as it came. The caller's signal (the
   * engine's deadline, a cancel, a termination) cancels the upstream request.
   */
  async call(tool: string, args: Record<string, unknown>, ctx: CapabilityContext): Promise<CallToolResult> {
    // A tool that can only run as an MCP task is called as one, and its final result awaited (ADR-013).
    const asTask = this.live.get(tool)?.tool.execution?.taskSupport === 'required';
    return (await this.request('tools/call', { name: tool, arguments: args }, CallToolResultSchema, { ...ctx, target: tool, asTask })) as CallToolResult;
  }

  /**
   * Sends one request to the upstream on behalf of a caller: a tool call, or
   * a resource read, prompt get, completion, subscription (ADR-013). Waits
   * for a free slot (bounded queue), sends the dfid as `traceparent` in
   * `_meta`, relays the upstream's progress, log messages and requests back
   * to the caller, and returns the upstream's result as it came. The
   * caller's signal (deadline, cancel, termination) cancels the upstream request.
   */
  async request<T extends ZodType>(
    method: string,
    params: Record<string, unknown>,
    schema: T,
    ctx: { signal: AbortSignal; dfid: string; agent: string; target: string; relay?: CallRelay | undefined; asTask?: boolean },
  ): Promise<unknown> {
    // A CLIENT span per upstream request (ADR-026); its context, not the caller's, is what the upstream is sent.
    const tracer = this.deps.tracer ?? noopTracer;
    const attributes = upstreamSpanAttributes(method, ctx.target, this.deps.name, this.deps.config.url ? 'tcp' : 'pipe', ctx.dfid);
    return tracer.span(upstreamSpanName(method, ctx.target), attributes, (span) => this.send(method, params, schema, ctx, span, tracer.current()?.traceparent), 'client');
  }

  private async send<T extends ZodType>(
    method: string,
    params: Record<string, unknown>,
    schema: T,
    ctx: { signal: AbortSignal; dfid: string; agent: string; target: string; relay?: CallRelay | undefined; asTask?: boolean },
    span: TraceSpan,
    traceparent: string | undefined,
  ): Promise<unknown> {
    await this.slots.acquire(ctx.signal);
    // The upstream reports progress under our token; it is re-sent to the caller under the caller's own.
    const { id, token, entry } = this.calls.open({ agent: ctx.agent, dfid: ctx.dfid, target: ctx.target, relay: ctx.relay });
    const wantsProgress = ctx.relay?.progressToken !== undefined;
    try {
      const client = this.client;
      if (!client || this.state !== 'ready') throw new CapabilityError('UPSTREAM_UNAVAILABLE', `upstream \`${this.name}\` is not running`);
      const meta = {
        traceparent: traceparent ?? traceparentOf(ctx.dfid),
        ...(wantsProgress ? { progressToken: token } : {}),
        // The SDK puts this client's own capabilities in every 2026 request's envelope; keys given here take precedence.
        ...requestCapabilities(client, ctx.relay?.askable?.()),
      };
      const request = { method, params: { ...params, _meta: meta } };
      const options = { signal: ctx.signal, timeout: this.deps.deadlineMs + 1_000 };
      const result = withoutEnvelope(ctx.asTask ? await requestViaTask(client, request, schema, options, this.name) : await client.request(request, schema, options));
      this.crashes = 0; // a healthy answer ends a crash streak
      if ((result as { isError?: unknown }).isError === true) span.fail('tool_error');
      // Progress or log messages the upstream wrote right before its answer may still be in the
      // transport's buffer: let them be read, and relayed, before the caller gets the result.
      await new Promise<void>((done) => setImmediate(done));
      await Promise.allSettled(entry.sent);
      return result;
    } catch (err) {
      if (ctx.signal.aborted || err instanceof CapabilityError) throw err;
      if (err instanceof InputNotRelayed) throw notRelayed(err, this.name);
      const missing = capabilityMissing(err, this.name);
      if (missing) throw missing;
      // A JSON-RPC error the upstream itself answered, or a result the SDK refused as invalid, is its answer (HANDLER_FAILED); anything else means
      // the connection is gone or broken (a crashed process, an HTTP server that stopped answering).
      const answered = answeredError(err) ?? invalidAnswer(err, this.name, method);
      if (answered) span.set({ 'rpc.response.status_code': String(answered.code) });
      if (answered && this.client) {
        span.fail(String(answered.code));
        throw answered;
      }
      if (!answered && this.client && failureOf(err) === 'broken') this.broken(this.client);
      throw new CapabilityError('UPSTREAM_UNAVAILABLE', `upstream \`${this.name}\` went away during the call`);
    } finally {
      this.calls.close(id);
      this.slots.release();
    }
  }

  /** Subscribes to updates of one resource in the upstream's revision: `resources/subscribe`, or a listen stream naming the URI (2026-07-28). */
  async subscribeResource(uri: string, ctx: { signal: AbortSignal; dfid: string; agent: string }): Promise<void> {
    const client = this.client;
    if (client && this.state === 'ready' && client.getProtocolEra() === 'modern') return this.resourceListens.open(client, this.name, uri, this.deps.config.start_timeout_ms);
    await this.request('resources/subscribe', { uri }, EmptyResultSchema, { ...ctx, target: 'resources/subscribe' });
  }

  /** Ends a subscription of `subscribeResource`; a 2026 upstream's stream is closed, a 2025 one is told. */
  async unsubscribeResource(uri: string, ctx: { signal: AbortSignal; dfid: string; agent: string }): Promise<void> {
    if ((await this.resourceListens.close(uri)) || this.client?.getProtocolEra() === 'modern') return;
    await this.request('resources/unsubscribe', { uri }, EmptyResultSchema, { ...ctx, target: 'resources/unsubscribe' });
  }

  /** Sends a notification to the running upstream (e.g. the agent's roots changed); dropped when it is not running. */
  async notify(method: string, params?: Record<string, unknown>): Promise<void> {
    await this.client?.notification(params ? { method, params } : { method }).catch(() => undefined);
  }

  /** Stops the upstream (and its process, for stdio); no restart follows. */
  async close(): Promise<void> {
    this.closing = true;
    this.state = 'closed';
    this.slots.refuseWaiting();
    const client = this.client;
    this.client = null;
    await client?.close().catch(() => undefined);
  }
}

/** The dfid as a W3C traceparent for the upstream: trace-id = dfid, a fresh parent id. */
function traceparentOf(dfid: string): string {
  return `00-${dfid}-${newSpanId()}-01`;
}

function describe(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split('\n')[0]?.slice(0, 300) ?? 'unknown error';
}
