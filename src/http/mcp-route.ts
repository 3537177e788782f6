import { randomUUID } from 'node:crypto';
import { isInitializeRequest, ProtocolErrorCode, WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/server';
import { createMcpServer } from '../mcp/server.js';
import { authInfoOf } from './auth.js';
import { traceTransport } from '../mcp/traced-transport.js';
import { parseJson, readBody } from './body.js';
import type { HttpContext, RouteRequest } from './context.js';
import { clientGone, send, toRequest } from './fetch-bridge.js';
import { sendError } from './errors.js';
import { SessionEventStore } from './event-store.js';
import type { Session } from './sessions.js';

/** How long a client waits before it reconnects a dropped 2025-era SSE stream, to resume from its last event id. */
const SSE_RETRY_MS = 1_000;

/**
 * POST/GET/DELETE /mcp: Streamable HTTP, stateful. Each session gets its own
 * SDK server from createMcpServer, bound at initialize to the agent the
 * credential names; later requests of the session must carry a credential
 * of the same agent. SDK v2's Web-standard Streamable HTTP transport does the
 * protocol (sessions, SSE streams, resumability from the event store);
 * this only routes, and bridges node:http to it (ADR-036).
 */
export async function handleMcp(ctx: HttpContext, r: RouteRequest): Promise<void> {
  const { req, res, principal } = r;
  const agent = principal.id;
  const method = req.method ?? 'GET';
  if (method !== 'POST' && method !== 'GET' && method !== 'DELETE') return sendError(res, 'METHOD_NOT_ALLOWED', { jsonRpc: true, headers: { Allow: 'GET, POST, DELETE' } });

  let body: unknown;
  if (method === 'POST') {
    const read = await readBody(req, ctx.cfg.max_body_bytes);
    if (!read.ok) return reject(ctx, r, read.code, { close: true });
    const parsed = parseJson(read.body);
    if (!parsed.ok) return reject(ctx, r, 'INVALID_REQUEST', { message: 'the body is not valid JSON' });
    body = parsed.value;
  }

  const sessionId = req.headers['mcp-session-id'];
  // A request that claims revision 2026-07-28 in its own `_meta` is served per request, with no session (ADR-020).
  if (method === 'POST' && typeof sessionId !== 'string' && (await ctx.modern.serveIfModern(r, body))) return;
  if (typeof sessionId === 'string') {
    const session = ctx.sessions.get(sessionId, agent);
    if (!session) return reject(ctx, r, 'SESSION_NOT_FOUND');
    return serve(session, r, body);
  }
  const initializing = method === 'POST' && (Array.isArray(body) ? body.some((m) => isInitializeRequest(m)) : isInitializeRequest(body));
  if (!initializing) {
    const id = requestId(body);
    // A draft-protocol probe (`server/discover`, sent first by e.g. the Vercel AI SDK): answer as a
    // server of the 2025 revisions does over stdio, "method not found", so the client falls back to initialize.
    if (isRpcRequest(body) && body.method === 'server/discover') {
      return reject(ctx, r, 'SESSION_REQUIRED', { id, rpcCode: ProtocolErrorCode.MethodNotFound, message: 'method not found: `server/discover`; this server speaks MCP 2025-11-25 and earlier, send initialize' });
    }
    return reject(ctx, r, 'SESSION_REQUIRED', { id });
  }
  if (!ctx.sessions.admits(agent)) {
    return reject(ctx, r, 'SESSION_LIMIT', { message: `agent \`${agent}\` has ${ctx.sessions.countFor(agent)} open sessions (http.sessions.max_per_agent ${ctx.cfg.sessions.max_per_agent}, max_total ${ctx.cfg.sessions.max_total})` });
  }
  const session = await openSession(ctx, agent);
  await serve(session, r, body);
  // An initialize the SDK refused (bad version, bad shape) leaves no session behind.
  if (session.transport.sessionId !== session.id) await session.transport.close().catch(() => undefined);
}

function isRpcRequest(body: unknown): body is { method: string; id: string | number } {
  if (!body || typeof body !== 'object' || Array.isArray(body)) return false;
  const m = body as Record<string, unknown>;
  return typeof m['method'] === 'string' && (typeof m['id'] === 'string' || (typeof m['id'] === 'number' && Number.isFinite(m['id'])));
}

/** The id of a single JSON-RPC request, so that an error answers it; null for batches, notifications and junk. */
function requestId(body: unknown): string | number | null {
  return isRpcRequest(body) ? body.id : null;
}

function reject(ctx: HttpContext, r: RouteRequest, code: Parameters<typeof sendError>[1], opts: Parameters<typeof sendError>[2] = {}): void {
  ctx.metrics.rejected(code);
  sendError(r.res, code, { ...opts, jsonRpc: true });
}

async function serve(session: Session, r: RouteRequest, body: unknown): Promise<void> {
  // A session with a request or stream open is not idle, however long it lasts.
  session.active++;
  session.lastSeen = Date.now();
  r.res.once('close', () => {
    session.active--;
    session.lastSeen = Date.now();
  });
  const gone = clientGone(r);
  // The SDK hands `authInfo` to each handler of this request only: a delegation token credential reaches its calls (ADR-022).
  const response = await session.transport.handleRequest(toRequest(r, gone), { authInfo: authInfoOf(r.principal), ...(body !== undefined ? { parsedBody: body } : {}) });
  await send(r.res, response, gone);
}

async function openSession(ctx: HttpContext, agent: string): Promise<Session> {
  const id = randomUUID();
  const { cfg, rt, log } = ctx;
  const events = cfg.json_response ? null : new SessionEventStore(rt.store.mcpEvents, id, { keep: cfg.sessions.max_events, now: () => Date.now() });
  const transport = new WebStandardStreamableHTTPServerTransport({
    sessionIdGenerator: () => id,
    enableJsonResponse: cfg.json_response,
    // With resumability, a stream's priming event tells the client how soon to reconnect after it drops (SSE `retry`).
    ...(events ? { eventStore: events, retryInterval: SSE_RETRY_MS } : {}),
  });
  const server = createMcpServer(rt.kernel, agent, 'http', rt.gateway);
  const session: Session = { id, agent, server, transport, events, createdAt: Date.now(), lastSeen: Date.now(), active: 0 };
  ctx.sessions.add(session);
  server.onclose = () => {
    if (!ctx.sessions.remove(id)) return;
    try {
      events?.drop();
    } catch (err) {
      log.warn({ err: { name: (err as Error).name }, session: id }, 'could not drop session events');
    }
    log.info({ agent, session: id }, 'mcp session closed');
  };
  // A server span per request of the session (ADR-026); with tracing off this is the transport itself.
  await server.connect(traceTransport(transport, rt.tracer, 'tcp'));
  log.info({ agent, session: id }, 'mcp session opened');
  return session;
}
