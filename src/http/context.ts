import type { IncomingMessage, ServerResponse } from 'node:http';
import type { HttpConfig } from '../config/workspace-schema.js';
import type { Logger } from '../core/log.js';
import type { Runtime } from '../runtime.js';
import type { Authenticator, HttpPrincipal } from './auth.js';
import type { OriginGuard } from './guard.js';
import type { ModernMcp } from './mcp-modern.js';
import type { Metrics } from './metrics.js';
import type { Limiter } from './rate-limit.js';
import type { SessionRegistry } from './sessions.js';

/** Everything the HTTP routes share; built once by `startHttpServer`. */
export interface HttpContext {
  rt: Runtime;
  cfg: HttpConfig;
  log: Logger;
  auth: Authenticator;
  limiter: Limiter;
  sessions: SessionRegistry;
  /** POST /mcp at revision 2026-07-28: stateless, per request (ADR-020). */
  modern: ModernMcp;
  metrics: Metrics;
  guard: OriginGuard;
  urls: HttpUrls;
  /** Open GET /events streams. */
  streams: { open: number };
  /** Aborted when the server shuts down: long-lived streams end. */
  shutdown: AbortSignal;
}

export interface HttpUrls {
  /** Where clients reach this server (public_url, else the listen address). */
  base: string;
  /** The protected resource: `<base>/mcp`. */
  resource: string;
  /** Its OAuth protected resource metadata (RFC 9728). */
  metadata: string;
}

/** One request as a route sees it: parsed URL and, on authenticated routes, the principal. */
export interface RouteRequest {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  principal: HttpPrincipal;
}
