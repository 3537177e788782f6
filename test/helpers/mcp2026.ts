/**
 * SDK v2 clients and raw requests for MCP revision 2026-07-28 over HTTP:
 * a real `@modelcontextprotocol/client` 2.x pinned or auto-negotiating, and a
 * plain fetch for the wire details a client hides (headers, error codes,
 * `resultType`, cache fields, `requestState`).
 */
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import type { Outcome } from './e2e.js';

export const REVISION = '2026-07-28';
export const PROTOCOL_VERSION_KEY = 'io.modelcontextprotocol/protocolVersion';
export const CLIENT_CAPABILITIES_KEY = 'io.modelcontextprotocol/clientCapabilities';

export type Negotiation = 'pin' | 'auto' | 'legacy';

export interface V2Agent {
  client: Client;
  call(name: string, args: Record<string, unknown>): Promise<{ outcome: Outcome; isError: boolean }>;
  close(): Promise<void>;
}

/** A v2 client with the agent's key; `elicit` answers every elicitation (declares the capability). */
export async function v2Agent(url: string, key: string, negotiation: Negotiation, elicit?: (params: { message: string }) => Record<string, unknown>): Promise<V2Agent> {
  const versionNegotiation = negotiation === 'pin' ? { mode: { pin: REVISION } } : negotiation === 'auto' ? { mode: 'auto' as const } : undefined;
  const client = new Client({ name: 'mandate-test-v2', version: '1.0.0' }, { ...(versionNegotiation ? { versionNegotiation } : {}), capabilities: elicit ? { elicitation: { form: {} } } : {} });
  if (elicit) client.setRequestHandler('elicitation/create', (request) => elicit(request.params as { message: string }) as never);
  await client.connect(new StreamableHTTPClientTransport(new URL('/mcp', url), { requestInit: { headers: { Authorization: `Bearer ${key}` } } }));
  return {
    client,
    async call(name, args) {
      const result = await client.callTool({ name, arguments: args });
      return { outcome: result.structuredContent as unknown as Outcome, isError: result.isError === true };
    },
    close: () => client.close(),
  };
}

export interface RawAnswer {
  status: number;
  body: { result?: Record<string, unknown>; error?: { code: number; message: string; data?: unknown } };
}

let nextId = 1;

/** One 2026-07-28 request by hand: the envelope in `_meta` and the standard headers, each overridable. */
export async function rawRequest(
  url: string,
  key: string,
  method: string,
  params: Record<string, unknown> = {},
  opts: { headers?: Record<string, string | null>; version?: string; capabilities?: Record<string, unknown> } = {},
): Promise<RawAnswer> {
  const version = opts.version ?? REVISION;
  const meta = { ...((params['_meta'] as Record<string, unknown>) ?? {}), [PROTOCOL_VERSION_KEY]: version, [CLIENT_CAPABILITIES_KEY]: opts.capabilities ?? {} };
  const name = typeof params['name'] === 'string' ? params['name'] : typeof params['uri'] === 'string' ? params['uri'] : null;
  const headers: Record<string, string | null> = {
    Authorization: `Bearer ${key}`,
    'Content-Type': 'application/json',
    Accept: 'application/json, text/event-stream',
    'MCP-Protocol-Version': version,
    'Mcp-Method': method,
    ...(name !== null ? { 'Mcp-Name': name } : {}),
    ...opts.headers,
  };
  const res = await fetch(new URL('/mcp', url), {
    method: 'POST',
    headers: Object.fromEntries(Object.entries(headers).filter((e): e is [string, string] => e[1] !== null)),
    body: JSON.stringify({ jsonrpc: '2.0', id: nextId++, method, params: { ...params, _meta: meta } }),
  });
  const text = await res.text();
  // A streamed answer: the last `data:` line is the response.
  const json = (res.headers.get('content-type') ?? '').includes('text/event-stream') ? (text.split('\n').filter((l) => l.startsWith('data:')).pop() ?? 'data: {}').slice(5) : text;
  return { status: res.status, body: JSON.parse(json) as RawAnswer['body'] };
}
