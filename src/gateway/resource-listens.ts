/**
 * Resource subscriptions toward a 2026-07-28 upstream (ADR-039 adds them to
 * ADR-013's counted subscriptions). That revision has no `resources/subscribe`:
 * updates of a resource come on a `subscriptions/listen` stream that names its
 * URI. One stream per URI, so that the last unsubscriber closes exactly its
 * own; the updates it carries reach the client's `notifications/resources/updated`
 * handler, as a 2025 upstream's do. The streams belong to one connection:
 * after a restart the gateway subscribes again (GatewaySessions.started).
 */
import type { Client } from '@modelcontextprotocol/client';
import { CapabilityError } from '../capabilities/manifest.js';

type Listen = Awaited<ReturnType<Client['listen']>>;

export class ResourceListens {
  private readonly streams = new Map<string, { client: Client; listen: Listen }>();

  /** Opens the URI's stream on `client`; refused when the upstream does not agree to send its updates. */
  async open(client: Client, upstream: string, uri: string, timeout: number): Promise<void> {
    const held = this.streams.get(uri);
    if (held?.client === client) return;
    const listen = await client.listen({ resourceSubscriptions: [uri] }, { timeout });
    if (!listen.honoredFilter.resourceSubscriptions?.includes(uri)) {
      await listen.close();
      throw new CapabilityError('UPSTREAM_UNAVAILABLE', `upstream \`${upstream}\` did not agree to send updates of this resource`);
    }
    this.streams.set(uri, { client, listen });
  }

  /** Closes the URI's stream; false when there was none (the caller then has nothing to tell the upstream). */
  async close(uri: string): Promise<boolean> {
    const held = this.streams.get(uri);
    if (!held) return false;
    this.streams.delete(uri);
    await held.listen.close();
    return true;
  }

  /** The connection ended: its streams ended with it. */
  forget(): void {
    this.streams.clear();
  }
}
