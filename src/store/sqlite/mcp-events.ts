import type { McpEventStore, Sync } from '../port/port.js';
import { mcpEvents as sql } from '../tables/mcp-events.js';
import type { Db } from './db.js';
import { prepare } from './stmt.js';

/**
 * The MCP messages sent on each Streamable HTTP stream, kept so that a client
 * whose stream dropped can resume with `Last-Event-ID`. Rows belong to one
 * session; a session only ever replays its own. Bounded: per session by
 * count, overall by age, and deleted when the session ends.
 */
export class McpEvents implements Sync<McpEventStore> {
  private readonly s;

  constructor(db: Db) {
    this.s = {
      add: prepare<{ seq: number }>(db, sql.add),
      streamOf: prepare<{ stream_id: string }>(db, sql.streamOf),
      after: prepare<{ seq: number; message: string }>(db, sql.after),
      trim: prepare(db, sql.trim),
      dropSession: prepare(db, sql.dropSession),
      dropOlderThan: prepare(db, sql.dropOlderThan),
    };
  }

  add(sessionId: string, streamId: string, message: string, at: number): number {
    return this.s.add.get(sessionId, streamId, message, at)?.seq ?? 0;
  }

  trim(sessionId: string, keep: number): void {
    this.s.trim.run(sessionId, keep);
  }

  streamOf(sessionId: string, seq: number): string | null {
    return this.s.streamOf.get(seq, sessionId)?.stream_id ?? null;
  }

  after(sessionId: string, streamId: string, seq: number, limit: number): { seq: number; message: string }[] {
    return this.s.after.all(sessionId, streamId, seq, limit);
  }

  dropSession(sessionId: string): void {
    this.s.dropSession.run(sessionId);
  }

  dropOlderThan(at: number): number {
    return this.s.dropOlderThan.run(at).changes;
  }
}
