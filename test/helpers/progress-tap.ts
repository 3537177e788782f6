/**
 * Progress as it arrives on the wire, for one tool call.
 *
 * The SDK client forgets a request's progress handler when its answer is read,
 * and it dispatches notifications a microtask later than answers: a progress
 * notification read in the same chunk as the answer that follows it is dropped
 * as "unknown token" (modelcontextprotocol/typescript-sdk#2580), a race no
 * server can avoid. On a loaded machine the last notification of a call is
 * often lost that way. This tap reads the client transport's messages in
 * arrival order instead, so a test proves what the server controls: every
 * notification is sent, under the caller's own token, before the answer.
 */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { CallToolResult, JSONRPCMessage, Progress } from '@modelcontextprotocol/sdk/types.js';

interface Watch {
  requestId?: string | number;
  answered: boolean;
  before: Progress[];
  after: Progress[];
}

export interface TappedCall {
  result: CallToolResult;
  /** Progress read before the answer, in order. */
  progress: Progress[];
  /** Progress for this call read after its answer (a server bug: no client could show it). */
  late: Progress[];
}

const taps = new WeakMap<Client, Map<string, Watch>>();
let seq = 0;

function install(client: Client): Map<string, Watch> {
  const existing = taps.get(client);
  if (existing) return existing;
  const transport = client.transport as Transport | undefined;
  if (!transport) throw new Error('progress tap: the client is not connected');
  const watches = new Map<string, Watch>();
  const send = transport.send.bind(transport);
  transport.send = (message, options) => {
    const token = 'method' in message && 'id' in message ? (message.params?._meta as Record<string, unknown> | undefined)?.['progressToken'] : undefined;
    const watch = typeof token === 'string' ? watches.get(token) : undefined;
    if (watch && 'id' in message) watch.requestId = message.id;
    return send(message, options);
  };
  const receive = transport.onmessage;
  transport.onmessage = (message: JSONRPCMessage, extra) => {
    if ('method' in message && message.method === 'notifications/progress') {
      const { progressToken, ...progress } = (message.params ?? {}) as Record<string, unknown>;
      const watch = typeof progressToken === 'string' ? watches.get(progressToken) : undefined;
      // Our token, not the SDK's: its own progress handling would only call it unknown.
      if (watch) return void (watch.answered ? watch.after : watch.before).push(progress as Progress);
    } else if ('id' in message && !('method' in message)) {
      for (const watch of watches.values()) if (watch.requestId === message.id) watch.answered = true;
    }
    receive?.(message, extra);
  };
  taps.set(client, watches);
  return watches;
}

/** Calls a tool with a progress token of the test's own and returns what arrived for it, split at the answer. */
export async function callWithProgressTap(
  client: Client,
  params: { name: string; arguments?: Record<string, unknown>; _meta?: Record<string, unknown> },
  options?: { timeout?: number; signal?: AbortSignal },
): Promise<TappedCall> {
  const watches = install(client);
  const token = `progress-tap-${++seq}`;
  const watch: Watch = { answered: false, before: [], after: [] };
  watches.set(token, watch);
  try {
    const result = (await client.callTool({ ...params, _meta: { ...params._meta, progressToken: token } }, undefined, options)) as CallToolResult;
    // Anything the server wrote right after its answer is read within a turn or two of the event loop.
    await new Promise((r) => setTimeout(r, 50));
    return { result, progress: watch.before, late: watch.after };
  } finally {
    watches.delete(token);
  }
}
