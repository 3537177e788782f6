/**
 * The 2026-07-28 share of a stdio connection, with each `subscriptions/listen`
 * request's resource URIs governed before the SDK sees it
 * (resource-subscriptions.ts). On stdio a listen ends with the client's
 * `notifications/cancelled` naming it, or with the connection; either
 * releases its subscriptions. Every other message passes as it came, in order.
 */
import type { JSONRPCMessage, Transport } from '@modelcontextprotocol/server';
import type { AdmittedListen } from './resource-subscriptions.js';
import { requestedResources } from './resource-subscriptions.js';

type Admit = (message: unknown) => Promise<AdmittedListen>;
type Id = string | number;

export class GovernedListenTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;
  /** Listens admitted, by request id, until they end. */
  private readonly open = new Map<Id, AdmittedListen>();
  /** Listens being governed, and whether the client cancelled one meanwhile. */
  private readonly admitting = new Map<Id, { cancelled: boolean }>();

  constructor(
    private readonly inner: Transport,
    private readonly admit: Admit,
  ) {
    inner.onmessage = (m) => this.receive(m);
    inner.onerror = (e) => this.onerror?.(e);
    inner.onclose = () => {
      for (const l of this.open.values()) l.release();
      this.open.clear();
      this.onclose?.();
    };
  }

  start(): Promise<void> {
    return this.inner.start();
  }

  send(message: JSONRPCMessage): Promise<void> {
    return this.inner.send(message);
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  private receive(message: JSONRPCMessage): void {
    const m = message as { id?: Id; method?: string; params?: { requestId?: Id } };
    if (m.method === 'notifications/cancelled' && m.params?.requestId !== undefined) this.cancelled(m.params.requestId);
    if (m.id === undefined || !requestedResources(message)) return this.onmessage?.(message);
    const id = m.id;
    const pending = { cancelled: false };
    this.admitting.set(id, pending);
    void this.admit(message).then(
      (listen) => {
        this.admitting.delete(id);
        // Cancelled while its URIs were governed: the SDK never hears of it, and nothing is followed.
        if (pending.cancelled) return listen.release();
        this.open.set(id, listen);
        this.onmessage?.(listen.message as JSONRPCMessage);
      },
      () => {
        // Not governed (the store failed): nothing is followed, and the client hears so.
        this.admitting.delete(id);
        void this.inner.send({ jsonrpc: '2.0', id, error: { code: -32603, message: 'the resource subscriptions could not be governed' } } as JSONRPCMessage).catch(() => undefined);
      },
    );
  }

  private cancelled(id: Id): void {
    const pending = this.admitting.get(id);
    if (pending) pending.cancelled = true;
    this.open.get(id)?.release();
    this.open.delete(id);
  }
}
