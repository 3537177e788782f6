import type { IncomingMessage } from 'node:http';
import type { StorePort } from '../store/port/index.js';
import { hashKey, looksLikeKey } from './api-keys.js';
import type { HttpErrorCode } from './errors.js';
import type { JwtVerifier } from './jwt.js';

/** Who is calling, as the credential names them: never a header or an argument. */
export type HttpPrincipal =
  | { kind: 'agent'; id: string; via: 'api_key' | 'jwt'; credential: string | null }
  | { kind: 'operator'; id: string; role: 'operator' | 'viewer'; credential: string };

export type AuthResult = { ok: true; principal: HttpPrincipal } | { ok: false; code: Extract<HttpErrorCode, 'UNAUTHENTICATED' | 'INVALID_CREDENTIAL' | 'UNKNOWN_AGENT'>; message?: string };

const MAX_TOKEN_CHARS = 8_192;

/** The bearer token of a request: `Authorization: Bearer <t>`, or `X-API-Key: <t>`. */
export function bearerToken(req: IncomingMessage): { token: string | null; malformed: boolean } {
  const auth = req.headers.authorization;
  const apiKey = req.headers['x-api-key'];
  let token: string | null = null;
  if (auth !== undefined) {
    const m = /^Bearer[ ]+([^\s]+)\s*$/i.exec(auth);
    if (!m) return { token: null, malformed: true };
    token = m[1] as string;
  }
  if (typeof apiKey === 'string') {
    if (token !== null && token !== apiKey) return { token: null, malformed: true };
    token = apiKey;
  }
  if (token !== null && token.length > MAX_TOKEN_CHARS) return { token: null, malformed: true };
  return { token, malformed: false };
}

/**
 * Turns a request's credential into a principal: an API key (looked up by
 * its SHA-256 hash, so a revocation applies to the next request) or, when
 * configured, a JWT whose claim names the agent.
 */
export class Authenticator {
  constructor(
    private readonly store: StorePort,
    private readonly knownAgent: (agent: string) => boolean,
    private readonly jwt: JwtVerifier | null,
  ) {}

  async authenticate(req: IncomingMessage): Promise<AuthResult> {
    const { token, malformed } = bearerToken(req);
    if (malformed) return { ok: false, code: 'INVALID_CREDENTIAL', message: 'malformed Authorization header: expected `Bearer <token>`' };
    if (token === null) return { ok: false, code: 'UNAUTHENTICATED' };
    if (looksLikeKey(token)) {
      const row = await this.store.credentials.byHash(hashKey(token));
      if (!row) return { ok: false, code: 'INVALID_CREDENTIAL' };
      if (row.kind === 'agent') {
        if (!this.knownAgent(row.principal)) return { ok: false, code: 'UNKNOWN_AGENT' };
        return { ok: true, principal: { kind: 'agent', id: row.principal, via: 'api_key', credential: row.id } };
      }
      return { ok: true, principal: { kind: 'operator', id: row.principal, role: row.role === 'viewer' ? 'viewer' : 'operator', credential: row.id } };
    }
    if (this.jwt && token.split('.').length === 3) {
      const r = await this.jwt.verify(token);
      if (!r.ok) return { ok: false, code: 'INVALID_CREDENTIAL', message: r.message };
      if (!this.knownAgent(r.agent)) return { ok: false, code: 'UNKNOWN_AGENT' };
      return { ok: true, principal: { kind: 'agent', id: r.agent, via: 'jwt', credential: null } };
    }
    return { ok: false, code: 'INVALID_CREDENTIAL' };
  }
}

/** The key the rate limiter and the metrics know a principal by. */
export function principalKey(p: HttpPrincipal): string {
  return `${p.kind}:${p.id}`;
}
