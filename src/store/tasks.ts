import type { Db } from './db.js';

export type TaskStatus = 'working' | 'input_required' | 'completed' | 'failed' | 'cancelled';
/** How the task's result is shaped: a governed outcome (toToolResult) or an upstream tool's own result (toPassthroughResult). */
export type TaskResultForm = 'outcome' | 'passthrough';

export interface TaskRecord {
  id: string;
  agent: string;
  /** The decision the task follows (minted before the call starts). */
  decision_id: string;
  result_form: TaskResultForm;
  status: TaskStatus;
  status_message: string | null;
  /** The tools/call result, once terminal. */
  result: Record<string, unknown> | null;
  ttl_ms: number;
  poll_ms: number;
  created_at: number;
  updated_at: number;
  expires_at: number;
}

export interface TaskRow extends Omit<TaskRecord, 'result'> {
  result: string | null;
}

const OPEN = "status IN ('working', 'input_required')";

/**
 * MCP tasks of agents, one row each, scoped by agent: every read names the
 * agent, so one agent never sees another's task. A task past its TTL counts
 * as absent and is purged.
 */
export class Tasks {
  private readonly insertStmt;
  private readonly getStmt;
  private readonly listStmt;
  private readonly statusStmt;
  private readonly messageStmt;
  private readonly finishStmt;
  private readonly attachStmt;
  private readonly purgeStmt;

  constructor(db: Db) {
    this.insertStmt = db.prepare(
      `INSERT INTO tasks (id, agent, decision_id, result_form, status, status_message, result, ttl_ms, poll_ms, created_at, updated_at, expires_at)
       VALUES (@id, @agent, @decision_id, @result_form, @status, @status_message, NULL, @ttl_ms, @poll_ms, @created_at, @updated_at, @expires_at)`,
    );
    this.getStmt = db.prepare<[string, string, number], TaskRow>('SELECT * FROM tasks WHERE agent = ? AND id = ? AND expires_at > ?');
    this.listStmt = db.prepare<{ agent: string; now: number; after_at: number; after_id: string; limit: number }, TaskRow>(
      `SELECT * FROM tasks WHERE agent = @agent AND expires_at > @now AND (created_at > @after_at OR (created_at = @after_at AND id > @after_id))
       ORDER BY created_at, id LIMIT @limit`,
    );
    this.statusStmt = db.prepare(`UPDATE tasks SET status = @status, status_message = @status_message, updated_at = @at WHERE agent = @agent AND id = @id AND ${OPEN}`);
    this.messageStmt = db.prepare(`UPDATE tasks SET status_message = @status_message, updated_at = @at WHERE agent = @agent AND id = @id AND ${OPEN}`);
    this.finishStmt = db.prepare(
      `UPDATE tasks SET status = @status, status_message = @status_message, result = @result, updated_at = @at WHERE agent = @agent AND id = @id AND ${OPEN}`,
    );
    this.attachStmt = db.prepare("UPDATE tasks SET result = @result WHERE agent = @agent AND id = @id AND status = 'cancelled' AND result IS NULL");
    this.purgeStmt = db.prepare('DELETE FROM tasks WHERE expires_at <= ?');
  }

  create(t: Omit<TaskRecord, 'result'>): void {
    this.insertStmt.run(t);
  }

  get(agent: string, id: string, now: number): TaskRecord | null {
    const row = this.getStmt.get(agent, id, now);
    return row ? taskFromRow(row) : null;
  }

  /** The agent's live tasks, oldest first, after the cursor (created_at, id). */
  list(agent: string, now: number, after: { at: number; id: string } | null, limit: number): TaskRecord[] {
    return this.listStmt.all({ agent, now, after_at: after?.at ?? -1, after_id: after?.id ?? '', limit }).map(taskFromRow);
  }

  /** Moves an open task (working, input_required) to `status`; false if it was already terminal. */
  setStatus(agent: string, id: string, status: TaskStatus, message: string | null, at: number): boolean {
    return this.statusStmt.run({ agent, id, status, status_message: message, at }).changes === 1;
  }

  /** Sets an open task's status message (progress); false if it is terminal. */
  setMessage(agent: string, id: string, message: string, at: number): boolean {
    return this.messageStmt.run({ agent, id, status_message: message, at }).changes === 1;
  }

  /** Stores the result of an open task with its terminal status; false if it was already terminal. */
  finish(agent: string, id: string, status: 'completed' | 'failed', result: Record<string, unknown>, message: string | null, at: number): boolean {
    return this.finishStmt.run({ agent, id, status, status_message: message, result: JSON.stringify(result), at }).changes === 1;
  }

  /** A cancelled task gains the result its call ended with (the record of what the cancel did), once. */
  attachResult(agent: string, id: string, result: Record<string, unknown>): void {
    this.attachStmt.run({ agent, id, result: JSON.stringify(result) });
  }

  purgeExpired(now: number): number {
    return this.purgeStmt.run(now).changes;
  }
}

/** A stored row as a task (every store keeps `result` as JSON text). */
export function taskFromRow(row: TaskRow): TaskRecord {
  return { ...row, result: row.result ? (JSON.parse(row.result) as Record<string, unknown>) : null };
}
