/**
 * Resource subscriptions of a 2026-07-28 agent (ADR-039). The revision asks
 * for updates of a resource in `subscriptions/listen`'s
 * `notifications.resourceSubscriptions`; each URI is governed exactly as a
 * 2025 session's `resources/subscribe` (governed-access.ts: contract, Cedar,
 * pin, record), and the gateway subscribes upstream once per URI however many
 * agents want it (GatewaySessions). A URI refused is left out of the filter
 * the SDK acknowledges, which is how the revision tells a client what a
 * server will not send; the refusal and its reasons are in the ledger. The
 * stream's end releases its subscriptions.
 */
import type { CallRelay } from '../../core/types.js';
import type { Gateway } from '../../gateway/gateway.js';
import type { GatewaySession } from '../../gateway/sessions.js';
import { resolveDfid } from '../../kernel/dfid.js';
import type { Kernel } from '../../kernel/kernel.js';
import { governedAccess, upstreamAnswered } from '../governed-access.js';

/** A listen request, with only the URIs this agent may follow left in it, and the function that ends their subscriptions. */
export interface AdmittedListen {
  message: unknown;
  release: () => void;
}

const UNSUBSCRIBE_TIMEOUT_MS = 10_000;
const quiet: CallRelay = { notify: async () => undefined };

/** The URIs a `subscriptions/listen` request asks to follow; null for any other message, or a malformed list (the SDK refuses it). */
export function requestedResources(message: unknown): string[] | null {
  if (!message || typeof message !== 'object' || (message as { method?: unknown }).method !== 'subscriptions/listen') return null;
  const params = (message as { params?: { notifications?: { resourceSubscriptions?: unknown } } }).params;
  const uris = params?.notifications?.resourceSubscriptions;
  return Array.isArray(uris) && uris.length > 0 && uris.every((u) => typeof u === 'string') ? (uris as string[]) : null;
}

/**
 * Tells of an upstream's resource update once, however many listen streams
 * subscribed to it: the SDK's listen router then delivers it to every stream
 * whose acknowledged filter names the URI.
 */
export function publishOnce(publish: (uri: string) => void): (params: Record<string, unknown>) => void {
  const told = new WeakSet<object>();
  return (params) => {
    if (told.has(params)) return;
    told.add(params);
    publish(String(params['uri']));
  };
}

/** Governs the URIs of one listen request for `agent`; any other message passes unchanged. */
export async function admitListen(
  kernel: Kernel,
  agent: string,
  gateway: Gateway | undefined,
  message: unknown,
  updated: (params: Record<string, unknown>) => void,
  signal: AbortSignal,
): Promise<AdmittedListen> {
  const uris = requestedResources(message);
  if (!uris || !gateway) return { message, release: () => undefined };
  const access = governedAccess(kernel, agent, gateway);
  const session: GatewaySession = { agent, relay: quiet, resourceUpdated: (_upstream, params) => updated(params), listChanged: () => undefined };
  const meta = (message as { params: { _meta?: Record<string, unknown> } }).params._meta;
  const held: { server: string; uri: string }[] = [];
  for (const uri of new Set(uris)) {
    const owner = access.ownerOf(uri);
    const req = { kind: 'resource', event: 'ResourceAccessed', operation: 'subscribe', server: owner?.server ?? null, target: uri, pin: owner?.pin ?? null, context: { uri } } as const;
    // A refusal is recorded by admit (and thrown): the URI is simply not followed.
    const admitted = await access.admit(req, meta, signal).catch(() => null);
    if (!admitted) continue;
    try {
      await gateway.sessions.subscribe(session, admitted.server, uri, { signal, dfid: admitted.dfid });
    } catch (err) {
      if (upstreamAnswered(err)) await admitted.record([{ code: 'HANDLER_FAILED', message: 'the upstream answered with an error' }], { allowed: true, error_code: err.code });
      else await admitted.refuse([{ code: 'UPSTREAM_UNAVAILABLE', message: `upstream \`${admitted.server}\` did not agree to send updates` }]);
      continue;
    }
    await admitted.record([], { allowed: true });
    held.push({ server: admitted.server, uri });
  }
  const m = message as { params: { notifications: Record<string, unknown> } };
  const { resourceSubscriptions: _asked, ...others } = m.params.notifications;
  const notifications = held.length ? { ...others, resourceSubscriptions: held.map((h) => h.uri) } : others;
  let released = false;
  return {
    message: { ...m, params: { ...m.params, notifications } },
    release: () => {
      if (released) return;
      released = true;
      for (const { server, uri } of held) {
        void gateway.sessions.unsubscribe(session, server, uri, { signal: AbortSignal.timeout(UNSUBSCRIBE_TIMEOUT_MS), dfid: resolveDfid(undefined, kernel.deps.world).dfid }).catch(() => undefined);
      }
    },
  };
}
