/**
 * A real `@modelcontextprotocol/client` 2.x, pinned to 2026-07-28, that
 * declares the `io.modelcontextprotocol/tasks` extension, over any of its
 * transports (stdio, HTTP). SDK 2.4 has no task API of its own (the extension
 * is on its roadmap): `tasks/get`, `tasks/update` and `tasks/cancel` go
 * through its documented custom-method form (`client.request(req, schema)`,
 * which the SDK lets through for the names the extension reuses), and its
 * `callTool` refuses a `resultType: "task"` answer with
 * UNSUPPORTED_RESULT_TYPE, so the task it was handed is read off the
 * transport, as received.
 */
import { Client, SdkError, type Transport } from '@modelcontextprotocol/client';
import { z } from 'zod';
import { REVISION } from './mcp2026.js';

export const TASKS_EXTENSION = 'io.modelcontextprotocol/tasks';

export interface WireTask {
  taskId: string;
  status: string;
  statusMessage?: string;
  createdAt: string;
  lastUpdatedAt: string;
  ttlMs: number | null;
  pollIntervalMs?: number;
  result?: { isError?: boolean; structuredContent?: Record<string, unknown>; content?: unknown[] };
  inputRequests?: Record<string, { method: string; params: { message: string } }>;
}

const TaskSchema = z.looseObject({ taskId: z.string(), status: z.string() });
const Ack = z.looseObject({});

export interface TaskClient {
  client: Client;
  /** tools/call: either a plain result (`result`) or a task (`task`), as the server chose. */
  call(name: string, args: Record<string, unknown>): Promise<{ task?: WireTask; result?: { isError?: boolean; structuredContent?: Record<string, unknown> } }>;
  get(taskId: string): Promise<WireTask>;
  update(taskId: string, inputResponses: Record<string, unknown>): Promise<Record<string, unknown>>;
  cancel(taskId: string): Promise<Record<string, unknown>>;
  /** Polls tasks/get until `done` holds (bounded). */
  until(taskId: string, done: (t: WireTask) => boolean, timeoutMs?: number): Promise<WireTask>;
  close(): Promise<void>;
}

export async function taskClient(transport: Transport, opts: { tasks?: boolean; elicitation?: boolean } = {}): Promise<TaskClient> {
  const capabilities = {
    ...(opts.tasks === false ? {} : { extensions: { [TASKS_EXTENSION]: {} } }),
    ...(opts.elicitation ? { elicitation: { form: {} } } : {}),
  };
  const client = new Client({ name: 'mandate-test-tasks', version: '1.0.0' }, { versionNegotiation: { mode: { pin: REVISION } }, capabilities });
  await client.connect(transport);
  // What the client was handed for a tools/call it cannot represent: the last task result seen on the wire.
  let lastTask: WireTask | undefined;
  const deliver = transport.onmessage;
  transport.onmessage = (message, extra) => {
    const result = (message as { result?: { resultType?: string } }).result;
    if (result?.resultType === 'task') lastTask = result as unknown as WireTask;
    deliver?.(message, extra);
  };
  const get = async (taskId: string) => (await client.request({ method: 'tasks/get', params: { taskId } }, TaskSchema)) as unknown as WireTask;
  return {
    client,
    async call(name, args) {
      lastTask = undefined;
      try {
        return { result: (await client.callTool({ name, arguments: args })) as { isError?: boolean; structuredContent?: Record<string, unknown> } };
      } catch (err) {
        if (err instanceof SdkError && (err.data as { resultType?: string } | undefined)?.resultType === 'task' && lastTask) return { task: lastTask };
        throw err;
      }
    },
    get,
    update: (taskId, inputResponses) => client.request({ method: 'tasks/update', params: { taskId, inputResponses } }, Ack),
    cancel: (taskId) => client.request({ method: 'tasks/cancel', params: { taskId } }, Ack),
    async until(taskId, done, timeoutMs = 10_000) {
      const end = Date.now() + timeoutMs;
      for (;;) {
        const t = await get(taskId);
        if (done(t)) return t;
        if (Date.now() > end) throw new Error(`task ${taskId} is ${t.status} (${t.statusMessage ?? ''})`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    close: () => client.close(),
  };
}
