/**
 * Tasks as the `io.modelcontextprotocol/tasks` extension on 2026-07-28
 * (SEP-2663, ADR-024), over the same store-backed, per-agent tasks as the
 * 2025-11-25 task wire (ADR-014: a task row follows its decision). Only the
 * wire differs:
 * - the server decides: a governed call from a request that declared the
 *   extension runs as usual for up to TASK_AFTER_MS; if it has ended by then
 *   its plain result is the answer, if it still runs or waits for an operator
 *   the answer is `resultType: "task"` and it goes on in the background;
 * - `tasks/get` carries the result inline; a wait for an operator is
 *   `working` with a status message; `input_required` only when the client's
 *   own human may approve (the contract's `client_approval`) and the polling
 *   request declares form elicitation; `tasks/update` carries that answer;
 * - `tasks/cancel` is acknowledged with an empty result: a waiting escalation
 *   is withdrawn, a running call aborted, as on the 2025 wire; a task already
 *   ended or approved elsewhere runs to its end (cancellation is cooperative);
 * - a request that did not declare the extension gets -32021 for tasks/*,
 *   and never a task.
 */
import { acceptedContent, CLIENT_CAPABILITIES_META_KEY, inputRequired, MissingRequiredClientCapabilityError, ProtocolError, ProtocolErrorCode, type Server, type ServerContext } from '@modelcontextprotocol/server';
import { z } from 'zod';
import type { ProgressUpdate } from '../../core/types.js';
import type { Kernel } from '../../kernel/kernel.js';
import type { TaskRecord, TaskResultForm } from '../../store/port/index.js';
import { APPROVAL_FORM, ApprovalAnswer, applyApproval, approvalQuestion, clientMayApprove } from '../client-approval.js';
import { isTerminalStatus, MandateTaskStore } from '../task-store.js';
import { McpTasks, progressText } from '../tasks.js';
import { declaredElicitation } from './approval.js';
import type { HeldCalls } from './held-calls.js';

export const TASKS_EXTENSION = 'io.modelcontextprotocol/tasks';

/** How long a governed call may run before its answer becomes a task (to a request that declared the extension). */
export const TASK_AFTER_MS = 1000;

/** The embedded request a task waiting for the client's own human carries, one per task (its key is never reused). */
const approvalKey = (decisionId: string) => `mandate_approval:${decisionId}`;

/** Whether this request declared the tasks extension in its own client capabilities. */
export function declaredTasks(ctx: ServerContext): boolean {
  const envelope = ctx.mcpReq.envelope as Record<string, unknown> | undefined;
  const caps = envelope?.[CLIENT_CAPABILITIES_META_KEY] as { extensions?: Record<string, unknown> } | undefined;
  return !!caps?.extensions && typeof caps.extensions === 'object' && TASKS_EXTENSION in caps.extensions;
}

const TaskIdParams = z.looseObject({ taskId: z.string().min(1).max(200) });
const AnyResult = z.looseObject({});

export class ModernTasks {
  readonly tasks: McpTasks;
  private readonly store: MandateTaskStore;

  constructor(
    private readonly kernel: Kernel,
    private readonly agent: string,
    /** This process's held calls: a running task whose upstream asked for input is one (ADR-034). */
    private readonly held: HeldCalls,
  ) {
    this.store = new MandateTaskStore(kernel, agent);
    // No notification outlives its request on this wire: a task's progress goes into its status message only.
    this.tasks = new McpTasks(kernel, agent, () => Promise.resolve(), this.store);
  }

  /** tasks/get, tasks/update and tasks/cancel, the extension's reuse of the names the core revision removed. */
  register(server: Server): void {
    server.setRequestHandler('tasks/get', { params: TaskIdParams, result: AnyResult }, async ({ taskId }, ctx) => {
      this.gate(ctx);
      return this.detailed(await this.found(taskId), ctx);
    });
    server.setRequestHandler('tasks/update', { params: TaskIdParams, result: AnyResult }, async ({ taskId }, ctx) => {
      this.gate(ctx);
      const rec = await this.found(taskId);
      // The SDK lifts `inputResponses` off every request's params (the revision's input rounds), tasks/update's included.
      await this.update(rec, ctx.mcpReq.inputResponses ?? {});
      return {};
    });
    server.setRequestHandler('tasks/cancel', { params: TaskIdParams, result: AnyResult }, async ({ taskId }, ctx) => {
      this.gate(ctx);
      await this.cancel(await this.found(taskId));
      return {};
    });
  }

  /** Answers with a task: the call goes on under `abort`, settled into the row by McpTasks when it ends. */
  async adopt(decisionId: string, form: TaskResultForm, call: Promise<Record<string, unknown>>, abort: AbortController): Promise<{ taskId: string; result: Record<string, unknown> }> {
    const task = await this.tasks.adopt(decisionId, form, call, abort);
    // Durable before the answer (SEP-2663): createTask committed the row; this first read already follows the decision.
    const rec = await this.store.follow(task.taskId);
    return { taskId: task.taskId, result: { resultType: 'task', ...wireTask(rec, task.taskId) } };
  }

  /** A running task call's progress, as its status message (nothing outlives the request on this wire). */
  progress(taskId: string, u: ProgressUpdate): void {
    void this.store.setMessage(taskId, progressText(u)).catch(() => undefined);
  }

  private gate(ctx: ServerContext): void {
    if (!declaredTasks(ctx)) throw new MissingRequiredClientCapabilityError({ requiredCapabilities: { extensions: { [TASKS_EXTENSION]: {} } } });
  }

  /** This agent's task, followed to its decision; another agent's or an expired one is "not found" (-32602). */
  private async found(taskId: string): Promise<TaskRecord> {
    const rec = await this.store.follow(taskId);
    if (!rec) throw new ProtocolError(ProtocolErrorCode.InvalidParams, `Task not found: ${taskId.slice(0, 64)}`);
    return rec;
  }

  private async detailed(rec: TaskRecord, ctx: ServerContext): Promise<Record<string, unknown>> {
    const base = wireTask(rec, rec.id);
    if (rec.status === 'completed' || rec.status === 'failed') {
      // A refused call is a tool result with isError, which the extension calls `completed`; `failed` is for JSON-RPC errors only.
      return { ...base, status: 'completed', result: rec.result ?? {} };
    }
    if (rec.status === 'cancelled') return { ...base, status: 'cancelled' };
    // A running task whose upstream asked for input, held here: the upstream's requests, for tasks/update to answer.
    const asking = rec.status === 'working' ? this.held.byDecision(rec.decision_id, this.agent)?.inbox.requests() : undefined;
    if (asking && Object.keys(asking).length) return { ...base, status: 'input_required', inputRequests: asking };
    if (rec.status === 'input_required') {
      // Mandate waits for a human. Only the client's own human is input the client can give; an operator's wait is `working`.
      const d = await this.store.decisionOf(rec);
      const pending = d && clientMayApprove(this.kernel, this.agent) && declaredElicitation(ctx) ? await this.kernel.getDecision(this.agent, d.id) : null;
      if (d && pending?.status === 'pending') {
        const message = await approvalQuestion(this.kernel, this.agent, pending);
        if (message !== null) {
          return { ...base, status: 'input_required', inputRequests: { [approvalKey(d.id)]: inputRequired.elicit({ mode: 'form', message, requestedSchema: APPROVAL_FORM }) } };
        }
      }
      return { ...base, status: 'working' };
    }
    return base;
  }

  /** tasks/update: the answers to an upstream's requests during a held task call, or to the one approval a task may ask of the client; other keys are ignored, as the extension says. */
  private async update(rec: TaskRecord, inputResponses: NonNullable<ServerContext['mcpReq']['inputResponses']>): Promise<void> {
    // Answers to an upstream's requests go to the held call; keys it did not ask are ignored.
    if (rec.status === 'working') this.held.byDecision(rec.decision_id, this.agent)?.inbox.answer(inputResponses as Record<string, unknown>);
    if (rec.status !== 'input_required' || !clientMayApprove(this.kernel, this.agent)) return;
    const d = await this.store.decisionOf(rec);
    if (!d || d.status !== 'pending') return;
    const answer = acceptedContent(inputResponses, approvalKey(d.id), ApprovalAnswer);
    // Declined, cancelled or malformed: the decision stays pending for an operator, as on every other path.
    if (answer) await applyApproval(this.kernel, this.agent, d.id, answer);
  }

  private async cancel(rec: TaskRecord): Promise<void> {
    if (isTerminalStatus(rec.status)) return; // acknowledged; an ended task stays as it ended
    const d = await this.store.decisionOf(rec);
    // Approved elsewhere (the CLI, the console): it runs where it was approved and reaches its own end.
    if (d && d.status !== 'pending' && d.outcome?.status === 'pending') return;
    await this.tasks.cancel(rec.id);
  }
}

/** A Task as the extension spells it (`ttlMs`, `pollIntervalMs`). */
function wireTask(rec: TaskRecord | null, taskId: string): Record<string, unknown> {
  if (!rec) return { taskId, status: 'working', createdAt: new Date().toISOString(), lastUpdatedAt: new Date().toISOString(), ttlMs: null };
  return {
    taskId: rec.id,
    status: rec.status === 'input_required' ? 'working' : rec.status === 'failed' ? 'completed' : rec.status,
    ...(rec.status_message ? { statusMessage: rec.status_message } : {}),
    createdAt: new Date(rec.created_at).toISOString(),
    lastUpdatedAt: new Date(rec.updated_at).toISOString(),
    ttlMs: rec.ttl_ms,
    pollIntervalMs: rec.poll_ms,
  };
}

