/**
 * The agents' sessions the gateway serves, for what an upstream sends
 * outside a single call (ADR-013): resource updates go to the sessions that
 * subscribed to that URI, list changes to every session (and to the 2026
 * wire's listen streams, which have none; their resource subscriptions come
 * as sessions of their own, ADR-039), and requests or log
 * messages with no call in flight to the only session, if there is just one.
 * Subscriptions are counted: the upstream is subscribed once per URI, while
 * any session wants it, and again after it restarts.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from '../core/log.js';
import type { CallRelay } from '../core/types.js';
import type { Upstream, UpstreamEvents } from './upstream.js';

export interface GatewaySession {
  agent: string;
  /** Notifications to this session, and requests to its client (sampling, elicitation, roots). */
  relay: CallRelay;
  /** A resource this session subscribed to changed upstream. */
  resourceUpdated(upstream: string, params: Record<string, unknown>): void;
  /** An upstream's list of tools, resources or prompts changed. */
  listChanged(upstream: string, kind: 'tools' | 'resources' | 'prompts'): void;
}

export interface SubscribeContext {
  signal: AbortSignal;
  dfid: string;
}

const RESUBSCRIBE_TIMEOUT_MS = 10_000;
const key = (server: string, uri: string) => `${server}\u0000${uri}`;

export class GatewaySessions implements UpstreamEvents {
  private readonly sessions = new Set<GatewaySession>();
  private readonly subscribers = new Map<string, Set<GatewaySession>>();
  /** Hearers of list changes that are not sessions: the 2026-07-28 wire's listen streams, which have no session. */
  private readonly listWatchers = new Set<(upstream: string, kind: 'tools' | 'resources' | 'prompts') => void>();

  constructor(
    private readonly upstreams: Map<string, Upstream>,
    private readonly log: Logger,
  ) {}

  /** Registers a session; the returned function forgets it and drops its subscriptions. */
  attach(session: GatewaySession): () => void {
    this.sessions.add(session);
    return () => {
      this.sessions.delete(session);
      for (const [k, set] of this.subscribers) {
        if (!set.delete(session) || set.size) continue;
        this.subscribers.delete(k);
        const [server, uri] = k.split('\u0000') as [string, string];
        void this.upstreamRequest(server, 'resources/unsubscribe', uri, { signal: AbortSignal.timeout(RESUBSCRIBE_TIMEOUT_MS), dfid: traceId() }, session.agent).catch(() => undefined);
      }
    };
  }

  /** Subscribes a session to an upstream resource; the upstream is asked only for the first subscriber. */
  async subscribe(session: GatewaySession, server: string, uri: string, ctx: SubscribeContext): Promise<void> {
    const k = key(server, uri);
    const set = this.subscribers.get(k);
    if (set?.size) {
      set.add(session);
      return;
    }
    await this.upstreamRequest(server, 'resources/subscribe', uri, ctx, session.agent);
    this.subscribers.set(k, (this.subscribers.get(k) ?? new Set()).add(session));
  }

  /** Unsubscribes a session; the upstream is told once nobody wants the resource any more. */
  async unsubscribe(session: GatewaySession, server: string, uri: string, ctx: SubscribeContext): Promise<void> {
    const k = key(server, uri);
    const set = this.subscribers.get(k);
    if (!set?.delete(session) || set.size) return;
    this.subscribers.delete(k);
    await this.upstreamRequest(server, 'resources/unsubscribe', uri, ctx, session.agent);
  }

  private async upstreamRequest(server: string, method: 'resources/subscribe' | 'resources/unsubscribe', uri: string, ctx: SubscribeContext, agent: string): Promise<void> {
    const upstream = this.upstreams.get(server);
    if (!upstream) throw new Error(`no upstream \`${server}\``);
    await (method === 'resources/subscribe' ? upstream.subscribeResource(uri, { ...ctx, agent }) : upstream.unsubscribeResource(uri, { ...ctx, agent }));
  }

  resourceUpdated(server: string, params: Record<string, unknown>): void {
    const set = this.subscribers.get(key(server, String(params['uri'])));
    for (const s of set ?? []) s.resourceUpdated(server, params);
  }

  listChanged(server: string, kind: 'tools' | 'resources' | 'prompts'): void {
    for (const s of this.sessions) s.listChanged(server, kind);
    for (const w of this.listWatchers) w(server, kind);
  }

  /** Hears every upstream's list changes until the returned function is called. */
  watchLists(listener: (upstream: string, kind: 'tools' | 'resources' | 'prompts') => void): () => void {
    this.listWatchers.add(listener);
    return () => this.listWatchers.delete(listener);
  }

  soleRelay(): { agent: string; relay: CallRelay } | null {
    if (this.sessions.size !== 1) return null;
    const [only] = this.sessions;
    return only ? { agent: only.agent, relay: only.relay } : null;
  }

  /** After a restart the upstream has forgotten its subscriptions: renew each one still wanted. */
  started(server: string): void {
    for (const [k, set] of this.subscribers) {
      const [s, uri] = k.split('\u0000') as [string, string];
      const agent = [...set][0]?.agent;
      if (s !== server || !agent) continue;
      this.upstreamRequest(server, 'resources/subscribe', uri, { signal: AbortSignal.timeout(RESUBSCRIBE_TIMEOUT_MS), dfid: traceId() }, agent).catch(() =>
        this.log.warn({ upstream: server }, 'could not renew a resource subscription after a restart'),
      );
    }
  }
}

function traceId(): string {
  return randomBytes(16).toString('hex');
}
