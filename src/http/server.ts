import { createServer, type Server as NodeServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HttpConfig } from '../config/workspace-schema.js';
import type { Logger } from '../core/log.js';
import type { Runtime } from '../runtime.js';
import { isPgPort } from '../store/pg/port.js';
import { createRequestHandler } from './app.js';
import { Authenticator } from './auth.js';
import { loadConsoleAssets } from './console.js';
import type { HttpContext } from './context.js';
import { createOriginGuard } from './guard.js';
import { createJwtVerifier } from './jwt.js';
import type { Metrics } from './metrics.js';
import { httpUrls } from './prm.js';
import { FleetRateLimiter } from './fleet-rate-limit.js';
import { RateLimiter, type Limiter } from './rate-limit.js';
import { SessionRegistry } from './sessions.js';
import { createModernMcp } from './mcp-modern.js';

export interface HttpOverrides {
  host?: string | undefined;
  port?: number | undefined;
  jsonResponse?: boolean | undefined;
}

export interface HttpServerHandle {
  /** The base URL clients reach (public_url, else the listen address). */
  url: string;
  /** The address actually bound (with the real port when 0 was asked for). */
  listening: { host: string; port: number };
  ctx: HttpContext;
  close(): Promise<void>;
}

const SWEEP_MS = 1_000;

/** Over PostgreSQL the limits hold for every replica together; over SQLite, per process (ADR-015). */
function limiterFor(rt: Runtime, limits: { perPrincipal: number; overall: number }): Limiter {
  return isPgPort(rt.store) ? new FleetRateLimiter(rt.store.volatilePool, limits) : new RateLimiter(limits);
}
const CLOSE_GRACE_MS = 2_000;

/**
 * Starts the HTTP edge over an open runtime: one kernel and one store for
 * every session and every operator. `metrics` must be the runtime kernel's
 * observer (see openRuntime). Configuration is read once, here.
 */
export async function startHttpServer(rt: Runtime, metrics: Metrics, log: Logger, overrides: HttpOverrides = {}): Promise<HttpServerHandle> {
  const base = rt.workspace.config.http;
  const cfg: HttpConfig = {
    ...base,
    host: overrides.host ?? base.host,
    port: overrides.port ?? base.port,
    json_response: overrides.jsonResponse ?? base.json_response,
  };
  const jwt = cfg.auth.jwt ? createJwtVerifier(cfg.auth.jwt, rt.workspace.dir) : null;
  const assets = loadConsoleAssets();
  const shutdown = new AbortController();
  const sessions = new SessionRegistry({ maxPerAgent: cfg.sessions.max_per_agent, maxTotal: cfg.sessions.max_total, idleMs: cfg.sessions.idle_timeout_seconds * 1000 });
  const ctx: HttpContext = {
    rt,
    cfg,
    log,
    // A delegation token is a credential only where the workspace has the key that signs them (ADR-022).
    auth: new Authenticator(rt.store, (agent) => rt.kernel.contractOf(agent) !== undefined, jwt, rt.kernel.deps.tokenKey ? { key: rt.kernel.deps.tokenKey, now: () => rt.kernel.deps.world.now(), load: (agent) => rt.kernel.delegations.chain(agent) } : null),
    limiter: limiterFor(rt, { perPrincipal: cfg.rate_limit.per_principal_per_second, overall: cfg.rate_limit.overall_per_second }),
    sessions,
    modern: createModernMcp(rt, log),
    metrics,
    // Set once the port is known, before the first request can arrive.
    guard: createOriginGuard({ host: cfg.host, port: cfg.port, publicUrl: cfg.public_url, allowedHosts: cfg.allowed_hosts, allowedOrigins: cfg.allowed_origins }),
    urls: httpUrls(cfg, cfg.host, cfg.port),
    streams: { open: 0 },
    shutdown: shutdown.signal,
  };
  metrics.attach({ kernel: rt.kernel, sessions: () => sessions.size, eventStreams: () => ctx.streams.open });

  const server: NodeServer = createServer(
    {
      headersTimeout: cfg.headers_timeout_ms,
      requestTimeout: cfg.request_timeout_ms,
      // Check for slow clients often enough that the timeouts above hold to about a second.
      connectionsCheckingInterval: Math.min(1_000, cfg.headers_timeout_ms),
    }, createRequestHandler(ctx, assets),
  );
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(cfg.port, cfg.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  ctx.guard = createOriginGuard({ host: cfg.host, port, publicUrl: cfg.public_url, allowedHosts: cfg.allowed_hosts, allowedOrigins: cfg.allowed_origins });
  ctx.urls = httpUrls(cfg, cfg.host, port);

  // Idle sessions close; stream events past their retention go.
  const sweep = setInterval(() => {
    try {
      const now = Date.now();
      for (const s of sessions.idle(now)) {
        log.info({ agent: s.agent, session: s.id }, 'closing idle mcp session');
        void s.transport.close().catch(() => undefined);
      }
      void rt.store.mcpEvents.dropOlderThan(now - cfg.sessions.event_retention_minutes * 60_000).catch(() => undefined);
    } catch (err) {
      log.error({ err: { name: (err as Error).name } }, 'http sweep failed');
    }
  }, Math.min(SWEEP_MS, cfg.sessions.idle_timeout_seconds * 500));
  sweep.unref();

  let closing: Promise<void> | null = null;
  return {
    url: ctx.urls.base,
    listening: { host: cfg.host, port },
    ctx,
    close() {
      closing ??= (async () => {
        clearInterval(sweep);
        shutdown.abort();
        await Promise.all(sessions.all().map((s) => s.transport.close().catch(() => undefined)));
        await ctx.modern.close().catch(() => undefined);
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        const timer = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS);
        await closed;
        clearTimeout(timer);
      })();
      return closing;
    },
  };
}
