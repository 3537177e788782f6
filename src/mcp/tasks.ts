import { ProtocolError, ProtocolErrorCode, RELATED_TASK_META_KEY, type CreateTaskResult, type Server, type ServerNotification, type Task } from '@modelcontextprotocol/server';
import { z } from 'zod';
import type { CallRelay, Outcome, ProgressUpdate } from '../core/types.js';
import { ListParams } from './legacy-params.js';
import { intervene } from '../kernel/interventions.js';
import type { Kernel } from '../kernel/kernel.js';
import type { TaskResultForm } from '../store/port/index.js';
import { isTerminalStatus, MandateTaskStore, type TaskLink } from './task-store.js';
import type { ToolDefinition } from './tools.js';

/** The server capability: tasks for tools/call, listed and cancellable. */
export const TASKS_CAPABILITY = { list: {}, cancel: {}, requests: { tools: { call: {} } } };

/** The fixed tools that are governed calls (besides every per-capability tool); a submitted plan's task follows the plan (plan-task.ts). */
export const TASK_TOOLS = new Set(['submit_intent', 'invoke_capability', 'submit_plan']);

/** A task-augmented tools/call as the 2025-11-25 wire sends it: the TTL asked for, and the client's progress token. */
export interface TaskCallParams {
  task?: { ttl?: number | undefined } | undefined;
  _meta?: Record<string, unknown> | undefined;
}

const TaskIdParams = z.object({ taskId: z.string() }).loose();

/** How one governed call runs for a task: with the task's own decision id, abort signal and relay. */
export interface TaskRun {
  decisionId: string;
  signal: AbortSignal;
  relay: CallRelay;
}

/** How often a running task call checks the store for a cancel from another process. */
const CANCEL_POLL_MS = 500;

/** The task calls running in this process, by task id, so that a tasks/cancel from any session can abort them. */
const running = new WeakMap<Kernel, Map<string, AbortController>>();

/** A governed tool that a client may call as a task. */
export function withTaskSupport(tool: ToolDefinition): ToolDefinition & { execution: { taskSupport: 'optional' } } {
  return { ...tool, execution: { taskSupport: 'optional' } };
}

/**
 * MCP tasks for one agent's server (ADR-014): a task-augmented tools/call
 * answers at once with a task and runs the governed call in the background;
 * the task follows the call's decision (MandateTaskStore). tasks/cancel is
 * governed: a waiting escalation is withdrawn through the `cancel`
 * intervention; a running call is aborted like a cancelled request
 * (CANCELLED), at once here, or by the process that runs it when it next
 * looks at the task's row.
 */
export class McpTasks {
  private readonly runs: Map<string, AbortController>;

  constructor(
    private readonly kernel: Kernel,
    private readonly agent: string,
    /** Sends a notification outside any request (a task's progress); the 2026 wire has none to send it on. */
    private readonly notify: (n: ServerNotification) => Promise<void>,
    readonly store: MandateTaskStore,
  ) {
    let runs = running.get(kernel);
    if (!runs) running.set(kernel, (runs = new Map()));
    this.runs = runs;
  }

  /**
   * The 2025-11-25 task methods (ADR-036), answered as SDK v1's experimental
   * tasks layer answered them, so its clients (`experimental.tasks`) keep
   * working: tasks/get and tasks/list read the store; tasks/result waits,
   * polling at the task's interval, until the task ends; tasks/cancel is the
   * governed cancel. SDK v2 carries none of this, only the method names.
   */
  install(server: Server): void {
    server.setRequestHandler('tasks/get', { params: TaskIdParams }, async ({ taskId }) => {
      const task = await this.store.getTask(taskId);
      if (!task) throw new ProtocolError(ProtocolErrorCode.InvalidParams, 'Failed to retrieve task: Task not found');
      return { ...task };
    });
    server.setRequestHandler('tasks/result', { params: TaskIdParams }, async ({ taskId }, ctx) => {
      const result = await this.resultOf(taskId, ctx.mcpReq.signal);
      return { ...result, _meta: { ...(result['_meta'] as object | undefined), [RELATED_TASK_META_KEY]: { taskId } } };
    });
    server.setRequestHandler('tasks/list', { params: ListParams }, async ({ cursor }) => {
      try {
        const { tasks, nextCursor } = await this.store.listTasks(cursor);
        return { tasks, ...(nextCursor !== undefined ? { nextCursor } : {}), _meta: {} };
      } catch (err) {
        throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Failed to list tasks: ${err instanceof Error ? err.message : String(err)}`);
      }
    });
    server.setRequestHandler('tasks/cancel', { params: TaskIdParams }, async ({ taskId }) => ({ ...(await this.cancel(taskId)) }));
  }

  /** A task's result once it has ended; until then, looks again at the task's poll interval. */
  private async resultOf(taskId: string, signal: AbortSignal): Promise<Record<string, unknown>> {
    for (;;) {
      const rec = await this.store.follow(taskId);
      if (!rec) throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Task not found: ${taskId}`);
      if (isTerminalStatus(rec.status)) return (await this.store.getTaskResult(taskId)) as Record<string, unknown>;
      await new Promise<void>((resolve, reject) => {
        const onAbort = () => {
          clearTimeout(timer);
          reject(signal.reason instanceof Error ? signal.reason : new Error('tasks/result cancelled'));
        };
        const timer = setTimeout(() => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        }, rec.poll_ms);
        if (signal.aborted) onAbort();
        else signal.addEventListener('abort', onAbort, { once: true });
      });
    }
  }

  /** A task-augmented tools/call: records the task, starts `run` in the background, answers with the task. */
  async start(params: TaskCallParams, form: TaskResultForm, run: (t: TaskRun) => Promise<Record<string, unknown>>): Promise<CreateTaskResult> {
    const decisionId = this.kernel.deps.world.newId();
    const link: TaskLink = { decisionId, form };
    const task = await this.store.createTask({ ttl: params.task?.ttl, context: { ...link } });
    const abort = new AbortController();
    this.runs.set(task.taskId, abort);
    const relay: CallRelay = {
      // The client's progress token stays valid for the task's life; the notifications are no longer tied to the answered request.
      progressToken: params._meta?.['progressToken'] as CallRelay['progressToken'],
      notify: (n) => this.notify(n as ServerNotification),
      onProgress: (u) => void this.store.setMessage(task.taskId, progressText(u)).catch(() => undefined),
    };
    this.track(task.taskId, run({ decisionId, signal: abort.signal, relay }), abort);
    return { task };
  }

  /**
   * A task for a call that already runs (or has ended) under its own decision
   * id and abort controller: the 2026-07-28 wire decides to answer with a task
   * only once a call turns out to wait or take long (modern/tasks.ts).
   */
  async adopt(decisionId: string, form: TaskResultForm, call: Promise<Record<string, unknown>>, abort: AbortController): Promise<Task> {
    const link: TaskLink = { decisionId, form };
    const task = await this.store.createTask({ context: { ...link } });
    this.track(task.taskId, call, abort);
    return task;
  }

  private track(taskId: string, call: Promise<Record<string, unknown>>, abort: AbortController): void {
    this.runs.set(taskId, abort);
    void this.follow(taskId, call, abort);
  }

  /**
   * While the call runs: a tasks/cancel from another process (which can only
   * mark the task) aborts it here. After it returns: settles the task from its
   * decision, and cleans up after a cancel.
   */
  private async follow(taskId: string, call: Promise<Record<string, unknown>>, abort: AbortController): Promise<void> {
    const log = this.kernel.deps.log.child({ agent: this.agent });
    const watch = setInterval(() => {
      this.kernel.deps.store.tasks.get(this.agent, taskId, this.kernel.deps.world.now()).then(
        (t) => t?.status === 'cancelled' && abort.abort(),
        () => undefined, // the store is closing; the call ends on its own
      );
    }, CANCEL_POLL_MS);
    watch.unref();
    try {
      const result = await call;
      const rec = await this.store.follow(taskId);
      if (rec?.status === 'working' && !(await this.store.decisionOf(rec))?.outcome) {
        // No decision was recorded (the store failed): the call's own answer is the result.
        await this.store.storeTaskResult(taskId, result['isError'] === true ? 'failed' : 'completed', result);
      }
      if (rec?.status === 'cancelled') {
        const d = await this.store.decisionOf(rec);
        // Cancelled while its checks ran and it escalated meanwhile: withdraw that escalation too.
        if (d?.status === 'pending') await this.withdraw(d.id);
        const settled = (await this.store.decisionOf(rec))?.outcome;
        if (settled && settled.status !== 'pending') await this.store.cancelled(taskId, rec.status_message ?? 'cancelled', settled);
      }
    } catch (err) {
      log.error({ step: 'task', task_id: taskId, err: { name: (err as Error)?.name } }, 'task call failed');
    } finally {
      clearInterval(watch);
      this.runs.delete(taskId);
    }
  }

  /** tasks/cancel: only this agent's open tasks; every cancel is recorded. */
  async cancel(taskId: string): Promise<Task> {
    const rec = await this.store.follow(taskId);
    if (!rec) throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Task not found: ${taskId}`);
    if (isTerminalStatus(rec.status)) throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Cannot cancel task in terminal status: ${rec.status}`);
    const d = await this.store.decisionOf(rec);
    if (rec.status === 'input_required' && d) {
      const withdrawn = await this.withdraw(d.id);
      await this.store.cancelled(taskId, 'cancelled by the client before a human decided; nothing ran', withdrawn);
    } else if (d && d.status !== 'pending' && d.outcome?.status === 'pending') {
      // An approved call runs where it was approved (the CLI, the console): nothing here can reach it.
      throw new ProtocolError(ProtocolErrorCode.InvalidRequest, `the task's escalation was approved by ${d.resolved_by ?? 'a human'} and runs where it was approved; it cannot be cancelled`);
    } else {
      const abort = this.runs.get(taskId);
      // Running in another process: marked here, that process aborts it at its next look (about half a second).
      await this.store.cancelled(taskId, abort ? 'cancelled by the client while it ran' : 'cancelled by the client while it ran in another process');
      abort?.abort();
    }
    const after = await this.store.getTask(taskId);
    if (!after) throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Task not found: ${taskId}`);
    return after;
  }

  /** The `cancel` intervention on a pending escalation of this agent: recorded, and refused like any intervention. */
  private async withdraw(decisionId: string): Promise<Outcome> {
    const out = await intervene(this.kernel, { kind: 'agent', id: this.agent }, { act: 'cancel', target: { decision_id: decisionId }, reason: 'tasks/cancel' });
    if (out.verdict !== 'accepted') {
      throw new ProtocolError(ProtocolErrorCode.InvalidRequest, `${out.reasons.join(',')}: ${out.details[0]?.message ?? 'the cancel was refused'}`, { reasons: out.reasons, dfid: out.dfid });
    }
    return (out.output as { decision: Outcome }).decision;
  }
}

export function progressText(u: ProgressUpdate): string {
  return `running: ${u.progress}${u.total !== undefined ? `/${u.total}` : ''}${u.message ? ` (${u.message})` : ''}`;
}
