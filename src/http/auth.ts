import type { KeyObject } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { readToken, TOKEN_PREFIX } from '../kernel/delegation/token.js';
import { BEARER_TOKEN_EXTRA } from '../mcp/governed-calls.js';
import type { StorePort } from '../store/port/index.js';
import { hashKey, looksLikeKey } from './api-keys.js';
import type { HttpErrorCode } from './errors.js';
import type { JwtVerifier } from './jwt.js';

/**
 * Who is calling, as the credential names them: never a header or an argument.
 * A delegation token as the credential is kept on the principal, so every
 * governed call of the request is authorized against it (ADR-022).
 */
export type HttpPrincipal =
  | { kind: 'agent'; id: string; via: 'api_key' | 'jwt'; credential: string | null }
  | { kind: 'agent'; id: string; via: 'delegation_token'; credential: null; token: string }
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

/** What a delegation token as a credential is checked with: the workspace signing key and the kernel's clock. */
export interface TokenCredentials {
  key: KeyObject;
  now(): number;
  /** Reads the agent's chain into the kernel's registry, so a child another replica made is known at its first request. */
  load(agent: string): Promise<unknown>;
}

/**
 * Turns a request's credential into a principal: an API key (looked up by
 * its SHA-256 hash, so a revocation applies to the next request), when
 * configured a JWT whose claim names the agent, or, where the workspace has
 * a signing key, a delegation token (`mdb_…`) of a live sub-mandate.
 */
export class Authenticator {
  constructor(
    private readonly store: StorePort,
    private readonly knownAgent: (agent: string) => boolean,
    private readonly jwt: JwtVerifier | null,
    private readonly tokens: TokenCredentials | null = null,
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
    if (this.tokens && token.startsWith(TOKEN_PREFIX)) return this.delegated(token, this.tokens);
    if (this.jwt && token.split('.').length === 3) {
      const r = await this.jwt.verify(token);
      if (!r.ok) return { ok: false, code: 'INVALID_CREDENTIAL', message: r.message };
      if (!this.knownAgent(r.agent)) return { ok: false, code: 'UNKNOWN_AGENT' };
      return { ok: true, principal: { kind: 'agent', id: r.agent, via: 'jwt', credential: null } };
    }
    return { ok: false, code: 'INVALID_CREDENTIAL' };
  }

  /**
   * A delegation token as the credential: every signature of its chain from
   * the workspace key and every check no call could change (its expiry) hold
   * now, and it derives from the sub-mandate its agent holds now, live. Its
   * checks on capability and values are authorized per call, by the kernel.
   */
  private async delegated(token: string, tokens: TokenCredentials): Promise<AuthResult> {
    const now = tokens.now();
    const v = await readToken(token, tokens.key, now);
    if (!v.ok) return { ok: false, code: 'INVALID_CREDENTIAL', message: `delegation token refused: ${v.message}` };
    const row = await this.store.delegations.byChild(v.agent);
    if (!row || row.id !== v.delegationId) return { ok: false, code: 'INVALID_CREDENTIAL', message: `delegation token refused: \`${v.agent.slice(0, 64)}\` holds no sub-mandate ${v.delegationId.slice(0, 64)}` };
    if (row.status !== 'live' || now >= row.expires_at) {
      const ended = row.status === 'revoked' ? 'was revoked' : `expired at ${new Date(row.expires_at).toISOString()}`;
      return { ok: false, code: 'INVALID_CREDENTIAL', message: `delegation token refused: its sub-mandate ${row.id} ${ended}` };
    }
    if (!this.knownAgent(v.agent)) await tokens.load(v.agent);
    if (!this.knownAgent(v.agent)) return { ok: false, code: 'UNKNOWN_AGENT' };
    return { ok: true, principal: { kind: 'agent', id: v.agent, via: 'delegation_token', credential: null, token } };
  }
}

/**
 * What the MCP SDKs are told of a request's credential: the agent, and a
 * delegation token the request authenticated with (governed-calls.ts reads
 * it back per call). Never the API key or JWT itself.
 */
export function authInfoOf(p: HttpPrincipal): { token: string; clientId: string; scopes: string[]; extra?: Record<string, unknown> } {
  return { token: '', clientId: p.id, scopes: [], ...(p.kind === 'agent' && p.via === 'delegation_token' ? { extra: { [BEARER_TOKEN_EXTRA]: p.token } } : {}) };
}

/** The key the rate limiter and the metrics know a principal by. */
export function principalKey(p: HttpPrincipal): string {
  return `${p.kind}:${p.id}`;
}
