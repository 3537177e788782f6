import type { Result, Task } from '@modelcontextprotocol/server';
import type { Outcome } from '../core/types.js';
import type { Kernel } from '../kernel/kernel.js';
import type { DecisionRecord } from '../store/port/index.js';
import type { Op } from '../store/port/index.js';
import type { TaskRecord, TaskResultForm, TaskStatus } from '../store/port/index.js';
import { planTask } from './plan-task.js';
import { toPassthroughResult, toToolResult } from './tools.js';

/** How often a client is told to poll a task. */
export const TASK_POLL_MS = 500;
/** How long a task's result stays retrievable beyond the longest its escalation could wait. */
export const TASK_RESULT_RETENTION_MS = 3_600_000;
const PAGE_SIZE = 50;

/** What the tools/call handler hands to createTask: the decision the task follows, and how its result looks. */
export interface TaskLink {
  decisionId: string;
  form: TaskResultForm;
}

/** A task to create: the TTL the client asked for (2025-11-25 `params.task.ttl`), and its link. */
export interface CreateTaskOptions {
  ttl?: number | null | undefined;
  context?: Partial<TaskLink>;
}

/**
 * Mandate's tasks over its store, for one agent's MCP server (ADR-014; the
 * wire handlers of both revisions read it, ADR-036). A
 * task row only links a task id to the decision its call made; its status is
 * read from that decision every time, so an approval given by any process
 * (the CLI, another replica), an expiry or a restart is seen:
 * - no outcome yet, or approved and running: `working`;
 * - escalated and pending: `input_required`, saying what it waits for and until when;
 * - decided: `completed` (accepted) or `failed`, with the governed outcome as
 *   the tools/call result, written once into the row.
 * Every read names the agent: another agent's task is "not found". No
 * session is named on purpose: a task outlives its session.
 */
export class MandateTaskStore {
  constructor(
    private readonly kernel: Kernel,
    private readonly agent: string,
  ) {}

  async createTask(params: CreateTaskOptions): Promise<Task> {
    const link = params.context;
    if (typeof link?.decisionId !== 'string' || (link.form !== 'outcome' && link.form !== 'passthrough')) {
      throw new Error('a Mandate task is created by its tools/call only');
    }
    const now = this.kernel.deps.world.now();
    const ttl = this.ttlFor(params.ttl);
    const rec = {
      id: this.kernel.deps.world.newId(),
      agent: this.agent,
      decision_id: link.decisionId,
      result_form: link.form,
      status: 'working' as const,
      status_message: null,
      ttl_ms: ttl,
      poll_ms: TASK_POLL_MS,
      created_at: now,
      updated_at: now,
      expires_at: now + ttl,
    };
    await this.write([{ op: 'task.create', row: rec }]);
    return toTask({ ...rec, result: null });
  }

  async getTask(taskId: string): Promise<Task | null> {
    const rec = await this.follow(taskId);
    return rec ? toTask(rec) : null;
  }

  async storeTaskResult(taskId: string, status: 'completed' | 'failed', result: Result): Promise<void> {
    await this.write([{ op: 'task.finish', agent: this.agent, id: taskId, status, result, message: null, at: this.kernel.deps.world.now() }]);
  }

  async getTaskResult(taskId: string): Promise<Result> {
    const rec = await this.follow(taskId);
    if (!rec) throw new Error(`task \`${taskId}\` not found`);
    if (!rec.result) throw new Error(`task \`${taskId}\` has no result (${rec.status})`);
    return rec.result as Result;
  }

  async listTasks(cursor?: string): Promise<{ tasks: Task[]; nextCursor?: string }> {
    const after = cursor === undefined ? null : parseCursor(cursor);
    if (after === undefined) throw new Error('invalid cursor');
    const rows = await this.kernel.deps.store.tasks.list(this.agent, this.kernel.deps.world.now(), after, PAGE_SIZE);
    const tasks: Task[] = [];
    for (const r of rows) tasks.push(toTask(await this.followRecord(r)));
    const last = rows[rows.length - 1];
    return rows.length === PAGE_SIZE && last ? { tasks, nextCursor: makeCursor(last) } : { tasks };
  }

  /** Sets an open task's status message (a running handler's progress). */
  async setMessage(taskId: string, message: string): Promise<void> {
    await this.write([{ op: 'task.message', agent: this.agent, id: taskId, message, at: this.kernel.deps.world.now() }]);
  }

  /** Ends an open task as cancelled, keeping the result of what the cancel did when there is one. */
  async cancelled(taskId: string, message: string, outcome?: Outcome): Promise<void> {
    const now = this.kernel.deps.world.now();
    const rec = await this.kernel.deps.store.tasks.get(this.agent, taskId, now);
    await this.write([
      { op: 'task.status', agent: this.agent, id: taskId, status: 'cancelled', message, at: now },
      ...(rec && outcome ? [{ op: 'task.attach' as const, agent: this.agent, id: taskId, result: shape(rec.result_form, outcome) }] : []),
    ]);
  }

  /** The task as it stands now (its status read from its decision), or null if it is not this agent's or has expired. */
  async follow(taskId: string): Promise<TaskRecord | null> {
    const rec = await this.kernel.deps.store.tasks.get(this.agent, taskId, this.kernel.deps.world.now());
    return rec ? this.followRecord(rec) : null;
  }

  /** The decision an open task waits on: its own, or for a repeat of a pending escalation, the original's. */
  async decisionOf(rec: TaskRecord): Promise<DecisionRecord | null> {
    const { decisions } = this.kernel.deps.store;
    const own = await decisions.get(rec.decision_id);
    const original = own?.outcome?.status === 'pending' ? own.outcome.replay_of : undefined;
    return original ? decisions.get(original) : own;
  }

  private async followRecord(rec: TaskRecord): Promise<TaskRecord> {
    if (isTerminalStatus(rec.status)) return rec;
    const { store, world } = this.kernel.deps;
    const now = world.now();
    const d = await this.decisionOf(rec);
    if (!d?.outcome) return rec; // its checks or its handler are still running
    // getDecision applies an expiry that is due, as every reader of a pending decision does.
    const outcome = d.status === 'pending' ? ((await this.kernel.getDecision(this.agent, d.id)) ?? d.outcome) : d.outcome;
    if (outcome.status === 'pending') {
      const next: { status: TaskStatus; message: string } =
        d.status === 'pending'
          ? { status: 'input_required', message: waitingFor(outcome) }
          : { status: 'working', message: `approved by ${d.resolved_by ?? 'a human'}; running` };
      if (rec.status !== next.status || rec.status_message !== next.message) {
        await this.write([{ op: 'task.status', agent: this.agent, id: rec.id, status: next.status, message: next.message, at: now }]);
      }
      return (await store.tasks.get(this.agent, rec.id, now)) ?? rec;
    }
    // A submitted plan's task follows the plan to its end, step by step (plan-task.ts).
    const plan = await planTask(this.kernel, this.agent, d, outcome);
    if (plan?.open) {
      if (rec.status !== 'working' || rec.status_message !== plan.message) await this.write([{ op: 'task.status', agent: this.agent, id: rec.id, status: 'working', message: plan.message, at: now }]);
      return (await store.tasks.get(this.agent, rec.id, now)) ?? rec;
    }
    const status = plan ? plan.status : outcome.verdict === 'accepted' ? 'completed' : 'failed';
    const message = plan ? plan.message : status === 'failed' ? failure(outcome) : null;
    await this.write([{ op: 'task.finish', agent: this.agent, id: rec.id, status, result: shape(rec.result_form, plan ? plan.outcome : outcome), message, at: now }]);
    return (await store.tasks.get(this.agent, rec.id, now)) ?? rec;
  }

  /** Task writes have no guards: an update of a task that is already terminal changes nothing. */
  private async write(ops: Op[]): Promise<void> {
    const r = await this.kernel.deps.store.commit(ops);
    if (!r.ok) throw new Error(`task write refused by the store: ${r.conflict.kind}`);
  }

  /**
   * A task lives at least as long as its escalation could wait (the
   * contract's expiry, else the workspace's), and at most that plus an hour
   * to fetch the result; a requested TTL is kept within those bounds.
   */
  private ttlFor(requested: number | null | undefined): number {
    const minutes = this.kernel.contractOf(this.agent)?.escalation.expiry_minutes ?? this.kernel.workspace.config.limits.escalation_expiry_minutes;
    const min = minutes * 60_000;
    const max = min + TASK_RESULT_RETENTION_MS;
    return typeof requested === 'number' && Number.isFinite(requested) ? Math.min(Math.max(Math.floor(requested), min), max) : max;
  }
}

/** The tools/call result a task ends with: the same shape the call would have had without a task. */
export function shape(form: TaskResultForm, outcome: Outcome): Record<string, unknown> {
  return form === 'passthrough' ? toPassthroughResult(outcome) : toToolResult(outcome);
}

export function isTerminalStatus(status: TaskStatus): boolean {
  return status === 'completed' || status === 'failed' || status === 'cancelled';
}

function waitingFor(outcome: Outcome): string {
  const why = outcome.details.map((d) => d.message).join('; ');
  return `waiting for a human to approve or deny \`${outcome.capability ?? 'the request'}\` (decision ${outcome.decision_id}${why ? `: ${why}` : ''}) until ${outcome.expires_at ?? 'it expires'}`;
}

function failure(outcome: Outcome): string {
  return `${outcome.reasons.join(', ')}: ${outcome.details[0]?.message ?? 'refused'}`;
}

function toTask(rec: TaskRecord): Task {
  return {
    taskId: rec.id,
    status: rec.status,
    ttl: rec.ttl_ms,
    createdAt: new Date(rec.created_at).toISOString(),
    lastUpdatedAt: new Date(rec.updated_at).toISOString(),
    pollInterval: rec.poll_ms,
    ...(rec.status_message ? { statusMessage: rec.status_message } : {}),
  };
}

function makeCursor(rec: TaskRecord): string {
  return Buffer.from(JSON.stringify([rec.created_at, rec.id])).toString('base64url');
}

/** The position a cursor names; undefined if it is not one of ours. */
function parseCursor(cursor: string): { at: number; id: string } | undefined {
  try {
    const v: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(v) && v.length === 2 && Number.isSafeInteger(v[0]) && typeof v[1] === 'string') return { at: v[0] as number, id: v[1] };
  } catch {
    // not ours
  }
  return undefined;
}
