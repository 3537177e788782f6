import type { ServerResponse } from 'node:http';

/**
 * The closed catalogue of edge rejections: every request the HTTP edge turns
 * away gets one of these codes, its status and a one-line message. Nothing
 * behind the edge ran, so a rejection changes nothing.
 */
export const HTTP_ERRORS = {
  INVALID_REQUEST: { status: 400, message: 'the request is malformed' },
  SESSION_REQUIRED: { status: 400, message: 'send the Mcp-Session-Id header from initialize, or initialize a new session' },
  UNAUTHENTICATED: { status: 401, message: 'a credential is required: `Authorization: Bearer <API key or JWT>`' },
  INVALID_CREDENTIAL: { status: 401, message: 'the credential is unknown, revoked, expired or not valid here' },
  UNKNOWN_AGENT: { status: 403, message: 'the credential names an agent that has no contract' },
  FORBIDDEN_HOST: { status: 403, message: 'the Host header is not one this server answers to (DNS rebinding protection)' },
  FORBIDDEN_ORIGIN: { status: 403, message: 'requests from this Origin are not allowed (DNS rebinding protection)' },
  WRONG_CREDENTIAL_KIND: { status: 403, message: 'this endpoint needs a different kind of credential' },
  READ_ONLY_ROLE: { status: 403, message: 'the viewer role is read-only' },
  NOT_FOUND: { status: 404, message: 'no such resource' },
  SESSION_NOT_FOUND: { status: 404, message: 'no such session for this agent; initialize a new one' },
  METHOD_NOT_ALLOWED: { status: 405, message: 'method not allowed here' },
  NOT_ACCEPTABLE: { status: 406, message: 'the Accept header must allow text/event-stream' },
  DECISION_NOT_PENDING: { status: 409, message: 'the decision is not pending' },
  PLAN_STATE_CONFLICT: { status: 409, message: 'the plan is not in a state that allows this' },
  PAYLOAD_TOO_LARGE: { status: 413, message: 'the request body is larger than http.max_body_bytes' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'send Content-Type: application/json' },
  PROPOSED_SET_INVALID: { status: 422, message: 'the proposed contracts and policies do not load; see problems' },
  RATE_LIMITED: { status: 429, message: 'rate limit exceeded; retry after the Retry-After header' },
  SESSION_LIMIT: { status: 429, message: 'too many open MCP sessions; close one (DELETE /mcp) or wait for an idle one to expire' },
  STREAM_LIMIT: { status: 429, message: 'too many open event streams' },
  INTERNAL_ERROR: { status: 500, message: 'internal error' },
  STORE_UNAVAILABLE: { status: 503, message: 'the store did not answer; nothing was done, retry after the Retry-After header' },
} as const satisfies Record<string, { status: number; message: string }>;

export type HttpErrorCode = keyof typeof HTTP_ERRORS;

export interface ErrorOptions {
  message?: string | undefined;
  headers?: Record<string, string> | undefined;
  /** Extra fields for the body (e.g. retry_after_seconds). */
  extra?: Record<string, unknown> | undefined;
  /** Answer in a JSON-RPC envelope (the /mcp endpoint). */
  jsonRpc?: boolean | undefined;
  /** Close the connection afterwards (when the body was not read). */
  close?: boolean | undefined;
  /** JSON-RPC only: the id of the request being answered, when there is exactly one (else null). */
  id?: string | number | null | undefined;
  /** JSON-RPC only: the error code (default -32000, -32001 for SESSION_NOT_FOUND). */
  rpcCode?: number | undefined;
}

const BASE_HEADERS = { 'X-Content-Type-Options': 'nosniff', 'Cache-Control': 'no-store', 'Referrer-Policy': 'no-referrer' };

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { ...BASE_HEADERS, 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': String(Buffer.byteLength(text)), ...headers });
  res.end(text);
}

/** Writes one rejection: `{ error: { code, message } }`, or a JSON-RPC error for /mcp. */
export function sendError(res: ServerResponse, code: HttpErrorCode, opts: ErrorOptions = {}): void {
  const { status, message: fallback } = HTTP_ERRORS[code];
  const message = opts.message ?? fallback;
  const body = opts.jsonRpc
    ? { jsonrpc: '2.0', id: opts.id ?? null, error: { code: opts.rpcCode ?? (code === 'SESSION_NOT_FOUND' ? -32001 : -32000), message: `${code}: ${message}`, data: { code, ...opts.extra } } }
    : { error: { code, message, ...opts.extra } };
  sendJson(res, status, body, { ...(opts.close ? { Connection: 'close' } : {}), ...opts.headers });
}

export { BASE_HEADERS };
