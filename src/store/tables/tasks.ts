// MCP tasks of agents (ADR-014), scoped by agent: an open task moves, a terminal one never does.
import type { TaskRecord, TaskRow } from '../port/rows.js';
import type { Sql } from './sql.js';

const OPEN = "status IN ('working', 'input_required')";

export const tasks = {
  create: `INSERT INTO tasks (id, agent, decision_id, result_form, status, status_message, result, ttl_ms, poll_ms, created_at, updated_at, expires_at)
    VALUES ($1, $2, $3, $4, $5, $6, NULL, $7, $8, $9, $10, $11)`,
  get: 'SELECT * FROM tasks WHERE agent = $1 AND id = $2 AND expires_at > $3',
  list: 'SELECT * FROM tasks WHERE agent = $1 AND expires_at > $2 AND (created_at > $3 OR (created_at = $3 AND id > $4)) ORDER BY created_at, id LIMIT $5',
  status: `UPDATE tasks SET status = $3, status_message = $4, updated_at = $5 WHERE agent = $1 AND id = $2 AND ${OPEN}`,
  message: `UPDATE tasks SET status_message = $3, updated_at = $4 WHERE agent = $1 AND id = $2 AND ${OPEN}`,
  finish: `UPDATE tasks SET status = $3, status_message = $4, result = $5, updated_at = $6 WHERE agent = $1 AND id = $2 AND ${OPEN}`,
  attach: "UPDATE tasks SET result = $3 WHERE agent = $1 AND id = $2 AND status = 'cancelled' AND result IS NULL",
  purge: 'DELETE FROM tasks WHERE expires_at <= $1',
} satisfies Record<string, Sql>;

export const createParams = (t: Omit<TaskRecord, 'result'>): unknown[] => [t.id, t.agent, t.decision_id, t.result_form, t.status, t.status_message, t.ttl_ms, t.poll_ms, t.created_at, t.updated_at, t.expires_at];

/** The parameters of `tasks.list` after a cursor (created_at, id). */
export const listParams = (agent: string, now: number, after: { at: number; id: string } | null, limit: number): unknown[] => [agent, now, after?.at ?? -1, after?.id ?? '', limit];

/** A stored row as a task (every store keeps `result` as JSON text). */
export function taskFromRow(row: TaskRow): TaskRecord {
  return { ...row, result: row.result ? (JSON.parse(row.result) as Record<string, unknown>) : null };
}
