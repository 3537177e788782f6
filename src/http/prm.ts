import type { HttpConfig } from '../config/workspace-schema.js';
import type { HttpUrls } from './context.js';

export const PRM_PATH = '/.well-known/oauth-protected-resource';

/** Where clients reach this server, and the URLs derived from it. */
export function httpUrls(cfg: HttpConfig, host: string, port: number): HttpUrls {
  const base = cfg.public_url ?? `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return { base, resource: `${base}/mcp`, metadata: `${base}${PRM_PATH}/mcp` };
}

/**
 * OAuth 2.0 Protected Resource Metadata (RFC 9728) for /mcp: which
 * authorization servers issue tokens for it and how to present them. Served
 * at the well-known path with and without the resource's path suffix.
 */
export function protectedResourceMetadata(cfg: HttpConfig, urls: HttpUrls) {
  const servers = cfg.auth.authorization_servers.length ? cfg.auth.authorization_servers : cfg.auth.jwt ? [cfg.auth.jwt.issuer] : [];
  return {
    resource: urls.resource,
    authorization_servers: servers,
    bearer_methods_supported: ['header'],
    resource_name: 'Mandate governed tools (MCP)',
    resource_documentation: `${urls.base}/console`,
  };
}

/** The WWW-Authenticate header of a 401 (RFC 6750 with the RFC 9728 resource_metadata parameter). */
export function wwwAuthenticate(urls: HttpUrls, error?: { code: 'invalid_token'; description: string }): string {
  const parts = [`resource_metadata="${urls.metadata}"`];
  if (error) parts.push(`error="${error.code}"`, `error_description="${error.description.replace(/["\\]/g, '')}"`);
  return `Bearer ${parts.join(', ')}`;
}
