/**
 * What an upstream sends back while requests of Mandate's are in flight on
 * it, routed to the right caller (ADR-008, ADR-013): progress under the
 * caller's own token; log messages and requests to the client (sampling,
 * elicitation, roots), which carry no call id on the wire, to the latest call
 * in flight when all are one agent's, and with none in flight to the only
 * session there is. Anything that cannot be attributed is never shown to
 * another agent: a message is dropped, a request refused.
 */
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from '../core/log.js';
import type { CallRelay, ClientRequestContext, RelayNotification } from '../core/types.js';

export interface RunningCall {
  agent: string;
  dfid: string;
  /** The tool or primitive requested, for the lineage of requests the upstream sends back. */
  target: string;
  relay?: CallRelay | undefined;
  /** Notifications relayed to this call's caller, awaited before its result is returned. */
  sent: Promise<void>[];
}

export class CallRouting {
  private readonly running = new Map<number, RunningCall>();
  private seq = 0;

  constructor(
    private readonly upstream: string,
    private readonly log: Logger,
    /** The only session, for what arrives with no call in flight (null when there is not exactly one). */
    private readonly sole: () => { agent: string; relay: CallRelay } | null,
  ) {}

  /** Registers a call; its progress token for the upstream is `mandate-<id>`. */
  open(call: Omit<RunningCall, 'sent'>): { id: number; token: string; entry: RunningCall } {
    const id = ++this.seq;
    const entry: RunningCall = { ...call, sent: [] };
    this.running.set(id, entry);
    return { id, token: `mandate-${id}`, entry };
  }

  close(id: number): void {
    this.running.delete(id);
  }

  /** An upstream progress notification goes to the call it belongs to (by our token), under the caller's token. */
  progress(params: Record<string, unknown>): void {
    const match = /^mandate-(\d+)$/.exec(String(params['progressToken']));
    const call = match ? this.running.get(Number(match[1])) : undefined;
    const relay = call?.relay;
    if (relay?.progressToken === undefined || !call) return;
    call.sent.push(relay.notify({ method: 'notifications/progress', params: { ...params, progressToken: relay.progressToken } }).catch(() => undefined));
  }

  /** An upstream log message goes to the caller it can be attributed to, or nowhere. */
  logMessage(params: Record<string, unknown>): void {
    const calls = [...this.running.values()];
    if (!calls.length) {
      // Outside any call (e.g. an upstream's periodic messages), only the one session there is may hear it.
      void this.sole()?.relay.notify({ method: 'notifications/message', params }).catch(() => undefined);
      return;
    }
    if (new Set(calls.map((c) => c.agent)).size !== 1) {
      this.log.debug({ upstream: this.upstream, in_flight: calls.length }, 'upstream log message dropped');
      return;
    }
    const target = calls[calls.length - 1];
    if (target?.relay) target.sent.push(target.relay.notify({ method: 'notifications/message', params }).catch(() => undefined));
  }

  /**
   * A request the upstream sends back goes to the client it can be attributed to; otherwise the upstream hears that
   * none can answer. `key`: a 2026 upstream's own name for the request in its round.
   */
  async ask(request: RelayNotification, signal: AbortSignal, key?: string): Promise<Record<string, unknown>> {
    const calls = [...this.running.values()];
    let target: { relay?: CallRelay | undefined; dfid?: string; target?: string } | null = null;
    if (calls.length && new Set(calls.map((c) => c.agent)).size === 1) target = calls[calls.length - 1] ?? null;
    else if (!calls.length) target = this.sole();
    const ask = target?.relay?.ask;
    if (!target || !ask) throw new McpError(ErrorCode.MethodNotFound, `no client to relay \`${request.method}\` to`);
    const ctx: ClientRequestContext = { upstream: this.upstream, dfid: target.dfid, target: target.target, ...(key !== undefined ? { key } : {}), signal };
    return ask(request, ctx);
  }
}
