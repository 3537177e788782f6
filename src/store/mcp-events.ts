import type { Db } from './db.js';

/**
 * The MCP messages sent on each Streamable HTTP stream, kept so that a client
 * whose stream dropped can resume with `Last-Event-ID`. Rows belong to one
 * session; a session only ever replays its own. Bounded: per session by
 * count, overall by age, and deleted when the session ends.
 */
export class McpEvents {
  private readonly insertStmt;
  private readonly lookupStmt;
  private readonly afterStmt;
  private readonly trimStmt;
  private readonly dropSessionStmt;
  private readonly dropOldStmt;

  constructor(db: Db) {
    this.insertStmt = db.prepare<[string, string, string, number]>('INSERT INTO mcp_events (session_id, stream_id, message, created_at) VALUES (?, ?, ?, ?)');
    this.lookupStmt = db.prepare<[number, string], { stream_id: string }>('SELECT stream_id FROM mcp_events WHERE seq = ? AND session_id = ?');
    this.afterStmt = db.prepare<[string, string, number, number], { seq: number; message: string }>(
      'SELECT seq, message FROM mcp_events WHERE session_id = ? AND stream_id = ? AND seq > ? ORDER BY seq LIMIT ?',
    );
    this.trimStmt = db.prepare<[string, string, number]>(
      'DELETE FROM mcp_events WHERE session_id = ? AND seq <= (SELECT seq FROM mcp_events WHERE session_id = ? ORDER BY seq DESC LIMIT 1 OFFSET ?)',
    );
    this.dropSessionStmt = db.prepare<[string]>('DELETE FROM mcp_events WHERE session_id = ?');
    this.dropOldStmt = db.prepare<[number]>('DELETE FROM mcp_events WHERE created_at < ?');
  }

  /** Stores one message; returns its event id (the row's sequence). */
  add(sessionId: string, streamId: string, message: string, at: number): number {
    return Number(this.insertStmt.run(sessionId, streamId, message, at).lastInsertRowid);
  }

  /** Keeps only the newest `keep` rows of a session. */
  trim(sessionId: string, keep: number): void {
    this.trimStmt.run(sessionId, sessionId, keep);
  }

  /** The stream an event of this session belongs to, or null (unknown, or another session's). */
  streamOf(sessionId: string, seq: number): string | null {
    return this.lookupStmt.get(seq, sessionId)?.stream_id ?? null;
  }

  /** The messages of one stream after `seq`, oldest first, at most `limit`. */
  after(sessionId: string, streamId: string, seq: number, limit: number): { seq: number; message: string }[] {
    return this.afterStmt.all(sessionId, streamId, seq, limit);
  }

  dropSession(sessionId: string): void {
    this.dropSessionStmt.run(sessionId);
  }

  dropOlderThan(at: number): number {
    return this.dropOldStmt.run(at).changes;
  }
}
