// Fixtures for the MCP tasks, progress and cancellation tests: a capability
// module whose handlers record each run in data/runs.log, and a `runner`
// contract that grants it. Plus small helpers over the SDK's client task API.
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { CallToolResultSchema, type CallToolResult, type GetTaskResult } from '@modelcontextprotocol/sdk/types.js';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CALL_TIMEOUT_MS, waitFor } from './e2e.js';

/**
 * `test.steps` reports progress 1/3, 2/3, 3/3, 150 ms apart, then answers;
 * `test.gate` resolves its facts at once for the decision, but on the second
 * read of a request (the re-read just before the effect) waits until the call
 * is cancelled (at most 8 s), so a test can cancel before the effect;
 * `test.hold` runs until its abort signal fires, so a test can cancel during
 * the effect. Every run and facts read appends a line to data/runs.log.
 */
export const TASK_CAPABILITIES = `
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';

const ran = (ctx, what) => appendFileSync(join(ctx.workspaceDir, 'data', 'runs.log'), what + '\\n');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const reads = new Map();

export default function define({ z }) {
  return [
    {
      id: 'test.steps',
      version: '1.0.0',
      description: 'Reports progress in three steps (tests only).',
      sideEffect: 'write',
      input: z.object({ n: z.number().int(), ms: z.number().int().max(2000).default(150) }),
      output: z.object({ steps: z.number().int() }),
      async handler(params, ctx) {
        ran(ctx, 'steps start ' + params.n);
        for (let i = 1; i <= 3; i++) {
          await sleep(params.ms);
          ctx.progress(i, 3, 'step ' + i);
        }
        return { steps: 3 };
      },
    },
    {
      id: 'test.gate',
      version: '1.0.0',
      description: 'Waits in its second facts read until cancelled (tests only).',
      sideEffect: 'write',
      input: z.object({ n: z.number().int() }),
      output: z.object({ n: z.number().int() }),
      limits: { deadlineMs: 10000 },
      async facts(params, ctx) {
        const k = (reads.get(params.n) ?? 0) + 1;
        reads.set(params.n, k);
        ran(ctx, 'gate facts ' + params.n + ' ' + k);
        if (k === 2) {
          await new Promise((resolve) => {
            const t = setTimeout(resolve, 8000);
            ctx.signal.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
          });
        }
        return { ready: true };
      },
      handler(params, ctx) {
        ran(ctx, 'gate run ' + params.n);
        return { n: params.n };
      },
    },
    {
      id: 'test.hold',
      version: '1.0.0',
      description: 'Runs until its abort signal fires (tests only).',
      sideEffect: 'write',
      input: z.object({ n: z.number().int() }),
      output: z.object({ n: z.number().int() }),
      limits: { deadlineMs: 12000 },
      handler(params, ctx) {
        ran(ctx, 'hold start ' + params.n);
        return new Promise((_resolve, reject) => {
          ctx.signal.addEventListener('abort', () => {
            ran(ctx, 'hold aborted ' + params.n);
            reject(new Error('aborted'));
          }, { once: true });
        });
      },
    },
  ];
}
`;

/** A contract for `runner`: the fixture capabilities, nothing else. */
export const RUNNER_CONTRACT = `agent: runner
version: 1
owner: qa@example.com
mission: Exercise progress and cancellation in tests.
role: agent
grants:
  - capability: test.steps
  - capability: test.gate
  - capability: test.hold
`;

/** The lines of data/runs.log so far. */
export function runs(workspace: string): string[] {
  const path = join(workspace, 'data', 'runs.log');
  return existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter((l) => l !== '') : [];
}

/** Starts a task-augmented tools/call with the SDK's client task API; returns the task id and the rest of the stream. */
export async function startTask(client: Client, name: string, args: Record<string, unknown>, ttl = 60_000) {
  const stream = client.experimental.tasks.callToolStream({ name, arguments: args }, CallToolResultSchema, { task: { ttl }, timeout: CALL_TIMEOUT_MS });
  const first = await stream.next();
  if (first.done || first.value.type !== 'taskCreated') throw new Error(`expected a created task, got ${JSON.stringify(first.value)}`);
  return { taskId: first.value.task.taskId, task: first.value.task, stream };
}

/** Polls tasks/get until the task has `status`. */
export async function waitForStatus(client: Client, taskId: string, status: GetTaskResult['status'], timeoutMs = 10_000): Promise<GetTaskResult> {
  let last: GetTaskResult | undefined;
  const until = Date.now() + timeoutMs;
  for (;;) {
    last = await client.experimental.tasks.getTask(taskId, { timeout: CALL_TIMEOUT_MS });
    if (last.status === status) return last;
    if (Date.now() > until) throw new Error(`task ${taskId} is ${last.status} (${last.statusMessage ?? ''}), not ${status}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The task's stored tools/call result (tasks/result). */
export async function taskResult(client: Client, taskId: string): Promise<CallToolResult> {
  return (await client.experimental.tasks.getTaskResult(taskId, CallToolResultSchema, { timeout: CALL_TIMEOUT_MS })) as CallToolResult;
}

export { waitFor };
