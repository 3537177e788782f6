/**
 * One stdio connection, both protocol eras (ADR-020). Each message goes to
 * the server of its era: a request or notification that carries the
 * 2026-07-28 `_meta` envelope to a 2026-era server on SDK v2, anything else
 * (`initialize`, 2025-era requests, answers to the 2025 server's own
 * requests) to a 2025-era session (its own SDK v2 server, ADR-036). The spec lets
 * a dual-era server serve both on one process, and some clients (the AI SDK)
 * send `server/discover` and `initialize` back to back. Each era's server is
 * started on the first message of that era.
 */
import type { JSONRPCMessage, Transport } from '@modelcontextprotocol/server';

export type Era = 'legacy' | 'modern';

const PROTOCOL_VERSION_META_KEY = 'io.modelcontextprotocol/protocolVersion';

/** Only the envelope is a claim: a bare `server/discover` keeps the 2025 answer (-32601), so its client falls back to initialize. */
export function eraOf(message: unknown): Era {
  if (!message || typeof message !== 'object') return 'legacy';
  const m = message as { params?: { _meta?: unknown } };
  const meta = m.params && typeof m.params === 'object' ? m.params._meta : undefined;
  return meta && typeof meta === 'object' && PROTOCOL_VERSION_META_KEY in meta ? 'modern' : 'legacy';
}

/** One era's share of the connection: what arrives before its server listens waits, in order. */
export class LaneTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;
  private pending: JSONRPCMessage[] | null = [];

  constructor(private readonly inner: Transport) {}

  deliver(message: JSONRPCMessage): void {
    if (this.pending) this.pending.push(message);
    else this.onmessage?.(message);
  }

  async start(): Promise<void> {
    queueMicrotask(() => {
      const queued = this.pending ?? [];
      this.pending = null;
      for (const m of queued) this.onmessage?.(m);
    });
  }

  send(message: JSONRPCMessage): Promise<void> {
    return this.inner.send(message);
  }

  /** Either era's server closing ends the connection, as one stdio process is one connection. */
  close(): Promise<void> {
    return this.inner.close();
  }
}

export class EraMux {
  /** Resolves once the connection is closed, whoever closed it. */
  readonly closed: Promise<void>;
  private readonly lanes = new Map<Era, LaneTransport>();

  constructor(
    private readonly inner: Transport,
    /** Starts the server of an era on its lane; called once per era, on its first message. */
    private readonly open: (era: Era, lane: LaneTransport) => void,
  ) {
    this.closed = new Promise((resolve) => {
      inner.onclose = () => {
        for (const lane of this.lanes.values()) lane.onclose?.();
        resolve();
      };
    });
    inner.onerror = (e) => {
      for (const lane of this.lanes.values()) lane.onerror?.(e);
    };
    inner.onmessage = (m) => this.route(m);
  }

  start(): Promise<void> {
    return this.inner.start();
  }

  private route(message: JSONRPCMessage): void {
    // An answer (no method) answers a request only the 2025 server sends; the 2026 era has no server-sent requests.
    const era = 'method' in message ? eraOf(message) : 'legacy';
    let lane = this.lanes.get(era);
    if (!lane) {
      if (!('method' in message)) return;
      lane = new LaneTransport(this.inner);
      this.lanes.set(era, lane);
      this.open(era, lane);
    }
    lane.deliver(message);
  }
}
