import type { EventStore, JSONRPCMessage } from '@modelcontextprotocol/server';
import type { StorePort } from '../store/port/index.js';

const REPLAY_PAGE = 200;
const TRIM_EVERY = 32;
/** The SDK's priming event (an empty message that only carries an id). */
const PRIMING = '{}';

/**
 * The SDK's EventStore over the workspace database, bound to one session: a
 * client can resume only its own session's streams, whatever event id it
 * sends. Event ids are the rows' sequence numbers.
 */
export class SessionEventStore implements EventStore {
  private stored = 0;

  constructor(
    private readonly events: StorePort['mcpEvents'],
    private readonly sessionId: string,
    private readonly opts: { keep: number; now: () => number },
  ) {}

  async storeEvent(streamId: string, message: JSONRPCMessage): Promise<string> {
    const seq = await this.events.add(this.sessionId, streamId, JSON.stringify(message), this.opts.now());
    if (++this.stored % TRIM_EVERY === 0) await this.events.trim(this.sessionId, this.opts.keep);
    return String(seq);
  }

  async getStreamIdForEventId(eventId: string): Promise<string | undefined> {
    const seq = parseSeq(eventId);
    return seq === null ? undefined : ((await this.events.streamOf(this.sessionId, seq)) ?? undefined);
  }

  async replayEventsAfter(lastEventId: string, { send }: { send: (eventId: string, message: JSONRPCMessage) => Promise<void> }): Promise<string> {
    const seq = parseSeq(lastEventId);
    const streamId = seq === null ? null : await this.events.streamOf(this.sessionId, seq);
    if (seq === null || streamId === null) throw new Error('unknown event id');
    let after = seq;
    for (;;) {
      const page = await this.events.after(this.sessionId, streamId, after, REPLAY_PAGE);
      for (const row of page) {
        after = row.seq;
        if (row.message !== PRIMING) await send(String(row.seq), JSON.parse(row.message) as JSONRPCMessage);
      }
      if (page.length < REPLAY_PAGE) return streamId;
    }
  }

  /** Forgets the session's events (it ended). */
  drop(): Promise<void> {
    return this.events.dropSession(this.sessionId);
  }
}

function parseSeq(eventId: string): number | null {
  return /^[1-9]\d{0,15}$/.test(eventId) ? Number(eventId) : null;
}
