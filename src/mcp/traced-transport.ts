/**
 * A SERVER span per MCP request (ADR-026), at the one place both protocol
 * eras and both transports share: the JSON-RPC transport. The
 * span starts when a request arrives and ends when its answer is sent; the
 * handler runs inside it, so the kernel's stage spans and the gateway's
 * client spans are its children and log lines carry its ids. Its parent is
 * the caller's trace context from `params._meta` (MCP SEP-414), else from
 * the HTTP request's `traceparent` header. With tracing off the transport is
 * returned as it is.
 */
import type { ServerSpan, TraceCarrier, Tracer } from '../telemetry/port.js';
import { MCP_PROTOCOL_VERSION, RPC_RESPONSE_STATUS_CODE, serverSpanAttributes, serverSpanName } from '../telemetry/mcp-attributes.js';

const PROTOCOL_VERSION_META_KEY = 'io.modelcontextprotocol/protocolVersion';

type Message = { id?: unknown; method?: unknown; params?: unknown; result?: unknown; error?: unknown };
type Receive = (message: unknown, extra?: unknown) => void;
interface TransportLike {
  onmessage?: Receive | undefined;
  onclose?: (() => void) | undefined;
  send(message: unknown, options?: unknown): Promise<void>;
}

export function traceTransport<T extends object>(transport: T, tracer: Tracer, network: 'pipe' | 'tcp'): T {
  if (!tracer.enabled) return transport;
  const inner = transport as unknown as TransportLike;
  const open = new Map<string, ServerSpan>();
  // The 2025 era agrees its revision once, at initialize; the 2026 era names it in each request's `_meta`.
  let sessionVersion: string | undefined;
  const keyOf = (id: unknown) => `${typeof id}:${String(id)}`;

  const receive = (handler: Receive, message: unknown, extra: unknown): void => {
    const m = message as Message;
    if (typeof m?.method !== 'string' || (typeof m.id !== 'string' && typeof m.id !== 'number')) return handler(message, extra);
    const params = m.params && typeof m.params === 'object' ? (m.params as Record<string, unknown>) : undefined;
    const meta = params?.['_meta'] && typeof params['_meta'] === 'object' ? (params['_meta'] as Record<string, unknown>) : undefined;
    const version = str(meta?.[PROTOCOL_VERSION_META_KEY]) ?? (m.method === 'initialize' ? str(params?.['protocolVersion']) : undefined) ?? sessionVersion ?? header(extra, 'mcp-protocol-version');
    const span = tracer.server(serverSpanName(m.method, params), serverSpanAttributes(m.method, m.id, params, network, version), carrierOf(meta, extra));
    const key = keyOf(m.id);
    open.get(key)?.end(); // a reused id: the earlier request is not answered any more
    open.set(key, span);
    span.run(() => handler(message, extra));
  };

  const finish = (message: unknown): void => {
    const m = message as Message;
    if (m === null || typeof m !== 'object' || 'method' in m || m.id === undefined) return;
    const key = keyOf(m.id);
    const span = open.get(key);
    if (!span) return;
    open.delete(key);
    if (m.error && typeof m.error === 'object') {
      const code = String((m.error as { code?: unknown }).code);
      // The error's message is not the status description: an SDK validation message may quote an argument.
      span.set({ [RPC_RESPONSE_STATUS_CODE]: code });
      span.fail(code);
    } else if (m.result && typeof m.result === 'object') {
      const result = m.result as Record<string, unknown>;
      const agreed = str(result['protocolVersion']);
      if (agreed) {
        sessionVersion = agreed;
        span.set({ [MCP_PROTOCOL_VERSION]: agreed });
      }
      if (result['isError'] === true) span.fail('tool_error');
    }
    span.end();
  };

  return new Proxy(transport, {
    get(target, prop) {
      if (prop === 'send') return (message: unknown, options?: unknown) => (finish(message), inner.send.call(target, message, options));
      const value = Reflect.get(target, prop, target) as unknown;
      // The SDK's transports keep private state: their methods run on the transport itself, not on this proxy.
      return typeof value === 'function' ? value.bind(target) : value;
    },
    set(target, prop, value) {
      if (prop === 'onmessage' && typeof value === 'function') {
        inner.onmessage = (message, extra) => receive(value as Receive, message, extra);
        return true;
      }
      if (prop === 'onclose' && typeof value === 'function') {
        // Requests left unanswered when the connection ends still end their spans.
        inner.onclose = () => {
          for (const span of open.values()) span.end();
          open.clear();
          (value as () => void)();
        };
        return true;
      }
      return Reflect.set(target, prop, value, target);
    },
  });
}

/** The caller's trace context: the request's own `_meta` first, then the HTTP request that carried it. */
function carrierOf(meta: Record<string, unknown> | undefined, extra: unknown): TraceCarrier {
  const fromMeta = str(meta?.['traceparent']);
  if (fromMeta) return { traceparent: fromMeta, tracestate: str(meta?.['tracestate']) };
  const fromHeader = header(extra, 'traceparent');
  return fromHeader ? { traceparent: fromHeader, tracestate: header(extra, 'tracestate') } : {};
}

/** A header of the HTTP request a message came in: SDK v2's HTTP transports pass that request (a fetch Request) with it. */
function header(extra: unknown, name: string): string | undefined {
  const headers = (extra as { request?: { headers?: unknown } } | undefined)?.request?.headers as { get?: (n: string) => string | null } | undefined;
  return typeof headers?.get === 'function' ? (headers.get(name) ?? undefined) : undefined;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v.length > 0 && v.length <= 512 ? v : undefined;
}
