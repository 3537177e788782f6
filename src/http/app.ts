import { loadedSetHash } from '../kernel/loaded-set.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { principalKey, type HttpPrincipal } from './auth.js';
import { serveConsole, type ConsoleAssets } from './console.js';
import type { HttpContext, RouteRequest } from './context.js';
import { StoreUnavailableError } from '../store/port/index.js';
import { HTTP_ERRORS, sendError, sendJson, type ErrorOptions, type HttpErrorCode } from './errors.js';
import { handleEvents } from './events.js';
import { handleMcp } from './mcp-route.js';
import { handleApi } from './operator-api.js';
import { PRM_PATH, protectedResourceMetadata, wwwAuthenticate } from './prm.js';

type Route = 'healthz' | 'readyz' | 'prm' | 'root' | 'console' | 'metrics' | 'mcp' | 'events' | 'api' | 'unknown';

function routeOf(path: string): Route {
  if (path === '/healthz') return 'healthz';
  if (path === '/readyz') return 'readyz';
  if (path === PRM_PATH || path === `${PRM_PATH}/mcp`) return 'prm';
  if (path === '/') return 'root';
  if (path === '/console' || path.startsWith('/console/')) return 'console';
  if (path === '/metrics') return 'metrics';
  if (path === '/mcp') return 'mcp';
  if (path === '/events') return 'events';
  if (path.startsWith('/api/')) return 'api';
  return 'unknown';
}

/** Which kind of credential each authenticated route takes. */
const NEEDS: Partial<Record<Route, 'agent' | 'operator'>> = { mcp: 'agent', events: 'operator', api: 'operator', metrics: 'operator' };

/**
 * The request handler: the edge checks in a fixed order (Host and Origin,
 * credential, rate limit; the body limit is applied where a body is read),
 * then the route. Each check answers its own clear JSON rejection; nothing
 * behind a rejected check runs.
 */
export function createRequestHandler(ctx: HttpContext, assets: ConsoleAssets): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    handle(ctx, assets, req, res).catch((err: unknown) => {
      ctx.log.error({ err: { name: (err as Error)?.name, stack: (err as Error)?.stack }, path: req.url?.slice(0, 200) }, 'http handler failed');
      if (res.headersSent) res.end();
      else if (err instanceof StoreUnavailableError) sendError(res, 'STORE_UNAVAILABLE', { headers: { 'Retry-After': '1' }, close: true });
      else sendError(res, 'INTERNAL_ERROR');
    });
  };
}

async function handle(ctx: HttpContext, assets: ConsoleAssets, req: IncomingMessage, res: ServerResponse): Promise<void> {
  let url: URL;
  try {
    url = new URL(req.url ?? '/', 'http://mandate.invalid');
  } catch {
    return sendError(res, 'INVALID_REQUEST', { message: 'the request target is not a valid URL' });
  }
  const route = routeOf(url.pathname);
  res.once('finish', () => ctx.metrics.answered(route, res.statusCode));
  const jsonRpc = route === 'mcp';
  const reject = (code: HttpErrorCode, opts: ErrorOptions = {}) => {
    ctx.metrics.rejected(code);
    sendError(res, code, { jsonRpc, ...opts });
  };

  // Liveness and readiness answer any Host, so that probes by IP work.
  if (route === 'healthz') return sendJson(res, 200, { status: 'ok' });
  if (route === 'readyz') return readiness(ctx, res);

  if (!ctx.guard.hostAllowed(req.headers.host)) return reject('FORBIDDEN_HOST', { close: true });
  const origin = req.headers.origin;
  if (!ctx.guard.originAllowed(origin)) return reject('FORBIDDEN_ORIGIN', { close: true });

  switch (route) {
    case 'prm':
      if (req.method !== 'GET' && req.method !== 'HEAD') return reject('METHOD_NOT_ALLOWED', { headers: { Allow: 'GET' } });
      return sendJson(res, 200, protectedResourceMetadata(ctx.cfg, ctx.urls));
    case 'root':
      res.writeHead(302, { Location: '/console' });
      return void res.end();
    case 'console':
      if (req.method !== 'GET' && req.method !== 'HEAD') return reject('METHOD_NOT_ALLOWED', { headers: { Allow: 'GET' } });
      if (!serveConsole(assets, req, res, url.pathname)) reject('NOT_FOUND');
      return;
    case 'unknown':
      return reject('NOT_FOUND');
    case 'metrics':
      if (!ctx.cfg.metrics.require_auth) return metrics(ctx, res);
      break;
  }

  const principal = await authenticate(ctx, req, res, route, reject);
  if (!principal) return;
  if (route === 'metrics') return metrics(ctx, res);
  const r: RouteRequest = { req, res, url, principal };
  if (route === 'mcp') return handleMcp(ctx, r);
  if (principal.kind !== 'operator') throw new Error('unreachable: operator routes take operator credentials');
  if (route === 'events') return handleEvents(ctx, r);
  return handleApi(ctx, r as RouteRequest & { principal: typeof principal });
}

/** Credential, kind, then rate limit; answers the rejection itself and returns null when one fails. */
async function authenticate(ctx: HttpContext, req: IncomingMessage, res: ServerResponse, route: Route, reject: (code: HttpErrorCode, opts?: ErrorOptions) => void): Promise<HttpPrincipal | null> {
  const result = await ctx.auth.authenticate(req);
  if (!result.ok) {
    const status = HTTP_ERRORS[result.code].status;
    const header: Record<string, string> = status === 401 ? { 'WWW-Authenticate': wwwAuthenticate(ctx.urls, result.code === 'INVALID_CREDENTIAL' ? { code: 'invalid_token', description: result.message ?? HTTP_ERRORS.INVALID_CREDENTIAL.message } : undefined) } : {};
    reject(result.code, { message: result.message, headers: header, close: true });
    return null;
  }
  const p = result.principal;
  const needs = NEEDS[route];
  if (needs && p.kind !== needs) {
    reject('WRONG_CREDENTIAL_KIND', { message: needs === 'agent' ? '/mcp takes an agent credential; operators use the console and /api/v1' : 'this endpoint takes an operator or viewer credential, not an agent\'s' });
    return null;
  }
  const admitted = await ctx.limiter.take(principalKey(p));
  if (!admitted.ok) {
    ctx.metrics.rateLimitedRequest(admitted.scope, p.kind);
    reject('RATE_LIMITED', {
      message: admitted.scope === 'principal' ? `\`${p.id}\` is over http.rate_limit.per_principal_per_second` : 'the server is over http.rate_limit.overall_per_second',
      headers: { 'Retry-After': String(admitted.retryAfterSeconds) },
      extra: { retry_after_seconds: admitted.retryAfterSeconds, scope: admitted.scope },
      close: true,
    });
    return null;
  }
  return p;
}

async function metrics(ctx: HttpContext, res: ServerResponse): Promise<void> {
  const { contentType, text } = await ctx.metrics.render();
  res.writeHead(200, { 'Content-Type': contentType, 'Cache-Control': 'no-store' });
  res.end(text);
}

async function readiness(ctx: HttpContext, res: ServerResponse): Promise<void> {
  const checks: Record<string, string> = {};
  try {
    await ctx.rt.store.ping();
    checks['store'] = 'ok';
  } catch (err) {
    checks['store'] = `unreachable (${(err as Error).message.slice(0, 100)})`;
  }
  checks['policies'] = Object.keys(ctx.rt.kernel.policy.set.policies).length > 0 ? 'ok' : 'no policies loaded';
  checks['accepting'] = ctx.shutdown.aborted ? 'shutting down' : 'ok';
  const ready = Object.values(checks).every((v) => v === 'ok');
  sendJson(res, ready ? 200 : 503, { ready, checks, policy_set_hash: ctx.rt.kernel.policy.set.hash, set_hash: loadedSetHash(ctx.rt.workspace) });
}
