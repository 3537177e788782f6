/**
 * POST /mcp at revision 2026-07-28 (ADR-020): stateless, one SDK v2 server
 * per request from createModernServer, bound to the agent the credential
 * named (the edge has already checked Host, Origin, credential, rate limit
 * and body size). The SDK's createMcpHandler does the protocol: envelope and
 * version checks (-32022), `Mcp-Method`/`Mcp-Name` headers (-32020),
 * `server/discover`, `resultType`, cache fields. This only adapts node:http to
 * its fetch face. Closing the response stream aborts the request's signal,
 * which is the revision's cancellation.
 */
import { createMcpHandler, isLegacyRequest, PROTOCOL_VERSION_META_KEY, type McpHttpHandler } from '@modelcontextprotocol/server';
import type { Logger } from '../core/log.js';
import { createModernServer } from '../mcp/modern/server.js';
import { traceTransport } from '../mcp/traced-transport.js';
import { requestStateKey } from '../mcp/modern/request-state.js';
import { HeldCalls } from '../mcp/modern/held-calls.js';
import { forwardListChanges } from '../mcp/modern/list-changes.js';
import { admitListen, publishOnce } from '../mcp/modern/resource-subscriptions.js';
import type { Runtime } from '../runtime.js';
import { bearerTokenOf } from '../mcp/governed-calls.js';
import { authInfoOf } from './auth.js';
import type { RouteRequest } from './context.js';
import { clientGone, send, toRequest } from './fetch-bridge.js';

export interface ModernMcp {
  /** Serves a sessionless POST of revision 2026-07-28 and resolves true; false, having done nothing, for one of the 2025-era path. */
  serveIfModern(r: RouteRequest, body: unknown): Promise<boolean>;
  close(): Promise<void>;
}

export function createModernMcp(rt: Runtime, log: Logger): ModernMcp {
  const { key, source } = requestStateKey(rt.signingKey);
  // Calls held for an agent's answer to an upstream's input request live in this process only (ADR-034).
  const held = new HeldCalls();
  if (source === 'process') log.info('approval requestState sealed with a per-process key (no signing key): an approval round must return to this process');
  const handler: McpHttpHandler = createMcpHandler(
    ({ authInfo }) => {
      // The edge always passes the agent; without one there is nobody to govern for.
      if (!authInfo?.clientId) throw new Error('no agent for a 2026-07-28 request');
      const server = createModernServer(rt.kernel, authInfo.clientId, 'http', { stateKey: key, held, bearerToken: bearerTokenOf(authInfo) }, rt.gateway);
      if (!rt.tracer.enabled) return server;
      // The SDK makes this request's transport itself: its server span (ADR-026) starts where the server is connected to it.
      const connect = server.connect.bind(server);
      server.connect = (transport) => connect(traceTransport(transport, rt.tracer, 'tcp'));
      return server;
    },
    // 2025-era traffic never reaches this handler: mcp-route.ts keeps it on the sessionful v1 path.
    { legacy: 'reject', onerror: (err) => log.debug({ err: { name: err.name } }, 'mcp 2026-07-28 request refused or failed') },
  );
  const stopChanges = forwardListChanges(rt, handler.notify);
  // An upstream's resource update goes onto the bus once; the SDK's listen router gives it to each stream that follows the URI.
  const updated = publishOnce((uri) => handler.notify.resourceUpdated(uri));
  return {
    async serveIfModern(r, body) {
      // Only a request that claims 2026-07-28 (envelope or header) leaves the 2025 path, and then only where the SDK's own
      // classifier agrees; a malformed body with no claim keeps the 2025-era answer it always had (SESSION_REQUIRED).
      if (!claimsModern(r, body)) return false;
      const gone = clientGone(r);
      // One Web request for the classifier and the handler: making one costs an AbortSignal and a Headers copy.
      const request = toRequest(r, gone);
      if (await isLegacyRequest(request, body)) return false;
      // A listen stream's resource URIs are governed before the SDK acknowledges them; its end releases them.
      const listen = await admitListen(rt.kernel, r.principal.id, rt.gateway, body, updated, gone);
      // The client may have gone while the URIs were governed: then nobody listens.
      if (r.res.closed) {
        listen.release();
        return true;
      }
      r.res.once('close', () => listen.release());
      const response = await handler.fetch(request, { authInfo: authInfoOf(r.principal), parsedBody: listen.message });
      await send(r.res, response, gone);
      return true;
    },
    close: () => {
      stopChanges();
      return handler.close();
    },
  };
}

/** The last 2025-era revision: a later date in `MCP-Protocol-Version` is a claim of the 2026 era (revisions are dates). */
const LAST_LEGACY_REVISION = '2025-11-25';

function claimsModern(r: RouteRequest, body: unknown): boolean {
  const header = r.req.headers['mcp-protocol-version'];
  if (typeof header === 'string' && header > LAST_LEGACY_REVISION) return true;
  if (!body || typeof body !== 'object' || Array.isArray(body)) return false;
  const params = (body as { params?: unknown }).params;
  const meta = params && typeof params === 'object' ? (params as { _meta?: unknown })._meta : undefined;
  return !!meta && typeof meta === 'object' && PROTOCOL_VERSION_META_KEY in meta;
}
