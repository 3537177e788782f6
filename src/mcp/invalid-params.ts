import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';

type Handler = (request: unknown, extra: unknown) => Promise<unknown>;

interface ZodLikeError {
  name: string;
  issues: { path: PropertyKey[]; message: string }[];
}

function isZodError(err: unknown): err is ZodLikeError {
  return typeof err === 'object' && err !== null && /ZodError$/.test(String((err as { name?: unknown }).name)) && Array.isArray((err as { issues?: unknown }).issues);
}

/**
 * The SDK checks each request against its schema before the handler runs,
 * and answers a mismatch (a tools/call without a name, a resources/read
 * without a uri, a bad log level) with -32603 Internal error and the whole
 * zod dump as the message. Wrapped here, such a request gets -32602 Invalid
 * params with one line naming the first problem. Call after every handler is
 * registered; the SDK keeps them in a private map, so a changed SDK fails
 * loudly here instead of quietly answering -32603 again.
 */
export function refuseInvalidParams(server: Server): void {
  const handlers = (server as unknown as { _requestHandlers?: unknown })._requestHandlers;
  if (!(handlers instanceof Map)) throw new Error('MCP SDK internals changed: no request handler map to guard');
  for (const [method, handler] of handlers as Map<string, Handler>) {
    handlers.set(method, async (request: unknown, extra: unknown) => {
      try {
        return await handler(request, extra);
      } catch (err) {
        if (!isZodError(err)) throw err;
        const first = err.issues[0];
        const at = first?.path.map(String).join('.') || '(request)';
        throw new McpError(ErrorCode.InvalidParams, `invalid params for ${method.slice(0, 64)}: \`${at.slice(0, 200)}\` ${first?.message ?? 'does not match the schema'}`);
      }
    });
  }
}
