import type { Sync, TaskReads } from '../port/port.js';
import type { TaskRecord, TaskRow, TaskStatus } from '../port/rows.js';
import { createParams, listParams, taskFromRow, tasks as sql } from '../tables/tasks.js';
import type { Db } from './db.js';
import { prepare } from './stmt.js';

/**
 * MCP tasks of agents, one row each, scoped by agent: every read names the
 * agent, so one agent never sees another's task. A task past its TTL counts
 * as absent and is purged.
 */
export class Tasks implements Sync<TaskReads> {
  private readonly s;

  constructor(db: Db) {
    this.s = {
      create: prepare(db, sql.create),
      get: prepare<TaskRow>(db, sql.get),
      list: prepare<TaskRow>(db, sql.list),
      status: prepare(db, sql.status),
      message: prepare(db, sql.message),
      finish: prepare(db, sql.finish),
      attach: prepare(db, sql.attach),
      purge: prepare(db, sql.purge),
    };
  }

  create(t: Omit<TaskRecord, 'result'>): void {
    this.s.create.run(...createParams(t));
  }

  get(agent: string, id: string, now: number): TaskRecord | null {
    const row = this.s.get.get(agent, id, now);
    return row ? taskFromRow(row) : null;
  }

  list(agent: string, now: number, after: { at: number; id: string } | null, limit: number): TaskRecord[] {
    return this.s.list.all(...listParams(agent, now, after, limit)).map(taskFromRow);
  }

  /** Moves an open task (working, input_required) to `status`; false if it was already terminal. */
  setStatus(agent: string, id: string, status: TaskStatus, message: string | null, at: number): boolean {
    return this.s.status.run(agent, id, status, message, at).changes === 1;
  }

  /** Sets an open task's status message (progress); false if it is terminal. */
  setMessage(agent: string, id: string, message: string, at: number): boolean {
    return this.s.message.run(agent, id, message, at).changes === 1;
  }

  /** Stores the result of an open task with its terminal status; false if it was already terminal. */
  finish(agent: string, id: string, status: 'completed' | 'failed', result: Record<string, unknown>, message: string | null, at: number): boolean {
    return this.s.finish.run(agent, id, status, message, JSON.stringify(result), at).changes === 1;
  }

  /** A cancelled task gains the result its call ended with (the record of what the cancel did), once. */
  attachResult(agent: string, id: string, result: Record<string, unknown>): void {
    this.s.attach.run(agent, id, JSON.stringify(result));
  }

  purgeExpired(now: number): number {
    return this.s.purge.run(now).changes;
  }
}
