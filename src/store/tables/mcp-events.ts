// The MCP messages sent on each Streamable HTTP stream, kept so that a dropped stream can resume (Last-Event-ID).
import type { Sql } from './sql.js';

export const mcpEvents = {
  add: 'INSERT INTO mcp_events (session_id, stream_id, message, created_at) VALUES ($1, $2, $3, $4) RETURNING seq',
  streamOf: 'SELECT stream_id FROM mcp_events WHERE seq = $1 AND session_id = $2',
  after: 'SELECT seq, message FROM mcp_events WHERE session_id = $1 AND stream_id = $2 AND seq > $3 ORDER BY seq LIMIT $4',
  trim: 'DELETE FROM mcp_events WHERE session_id = $1 AND seq <= (SELECT seq FROM mcp_events WHERE session_id = $1 ORDER BY seq DESC LIMIT 1 OFFSET $2)',
  dropSession: 'DELETE FROM mcp_events WHERE session_id = $1',
  dropOlderThan: 'DELETE FROM mcp_events WHERE created_at < $1',
} satisfies Record<string, Sql>;
