/**
 * MCP tasks over Streamable HTTP, with the SDK's own client task API: an
 * escalated call is input_required until an operator approves through the
 * CLI, then completed (or failed when denied); the task survives a restart of
 * the server and is visible to the same agent from another process (stdio);
 * tasks/cancel withdraws the escalation; another agent's credential can
 * neither see nor cancel it. Progress of an in-process capability reaches an
 * HTTP client.
 */
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addFixtures, balance, CALL_TIMEOUT_MS, E2E, runCli, transfer, type Outcome } from './helpers/e2e.js';
import { createKey, httpAgent, startHttp, type HttpAgent, type HttpServer } from './helpers/http.js';
import { callWithProgressTap } from './helpers/progress-tap.js';
import { RUNNER_CONTRACT, startTask, taskResult, TASK_CAPABILITIES, waitForStatus } from './helpers/tasks.js';

const e2e = new E2E();
const agents: HttpAgent[] = [];
let server: HttpServer;
let ws: string;
let aliceKey: string;
let scribeKey: string;
let runnerKey: string;
let alice: HttpAgent;

const connect = async (key: string) => {
  const a = await httpAgent(server.url, key);
  agents.push(a);
  return a;
};

beforeAll(async () => {
  ws = await e2e.workspace();
  addFixtures(ws, { capabilities: { 'tasks-fixture.mjs': TASK_CAPABILITIES }, contracts: { 'runner.yaml': RUNNER_CONTRACT } });
  const keys = await Promise.all([createKey(ws, { agent: 'alice' }), createKey(ws, { agent: 'scribe' }), createKey(ws, { agent: 'runner' })]);
  [aliceKey, scribeKey, runnerKey] = keys.map((k) => k.key) as [string, string, string];
  server = await startHttp(ws);
  alice = await connect(aliceKey);
});

afterAll(async () => {
  await Promise.all(agents.map((a) => a.close().catch(() => undefined)));
  await server.stop();
  await e2e.cleanup();
});

const decisionOf = (message: string | undefined): string => {
  const m = /decision ([0-9a-f-]{36})/.exec(message ?? '');
  if (!m) throw new Error(`no decision id in status message: ${message}`);
  return m[1] as string;
};
const outcomeOf = (r: CallToolResult) => r.structuredContent as unknown as Outcome;
const cli = (...args: string[]) => runCli([...args, '-w', ws]);

describe('MCP tasks over Streamable HTTP', () => {
  it('an escalated call is input_required until an operator approves through the CLI, then completed with the result', async () => {
    const before = balance(ws);
    const { taskId, stream } = await startTask(alice.client, 'invoke_capability', { capability: 'payments.transfer', params: transfer({ amount_minor: 25_100 }) });
    const waiting = await waitForStatus(alice.client, taskId, 'input_required');
    expect(waiting.statusMessage).toMatch(/waiting for a human to approve or deny `payments.transfer`.* until /);
    const rest = (async () => {
      for await (const m of stream) if (m.type === 'result') return m.result as CallToolResult;
      return null;
    })();
    const r = await cli('approvals', 'approve', decisionOf(waiting.statusMessage), '--as', 'ops-anna');
    expect(r.code, r.stderr).toBe(0);
    const result = await rest;
    expect(result?.isError).toBe(false);
    expect(outcomeOf(result as CallToolResult)).toMatchObject({ verdict: 'accepted', status: 'approved' });
    expect((await alice.client.experimental.tasks.getTask(taskId)).status).toBe('completed');
    expect(balance(ws)).toBe(before - 25_100);
  });

  it('the same call denied ends failed, with the reason', async () => {
    const { taskId } = await startTask(alice.client, 'invoke_capability', { capability: 'payments.transfer', params: transfer({ amount_minor: 25_101 }) });
    const waiting = await waitForStatus(alice.client, taskId, 'input_required');
    const r = await cli('approvals', 'deny', decisionOf(waiting.statusMessage), '--as', 'ops-anna');
    expect(r.code, r.stderr).toBe(0);
    expect((await waitForStatus(alice.client, taskId, 'failed')).statusMessage).toMatch(/^ESCALATION_DENIED/);
    expect(outcomeOf(await taskResult(alice.client, taskId))).toMatchObject({ verdict: 'rejected', status: 'denied' });
  });

  it('a task survives a restart of the server, and the same agent sees it from another process', async () => {
    const { taskId } = await startTask(alice.client, 'invoke_capability', { capability: 'payments.transfer', params: transfer({ amount_minor: 25_102 }) });
    const waiting = await waitForStatus(alice.client, taskId, 'input_required');

    // The same agent over stdio, in another process sharing the store.
    const overStdio = await e2e.client(ws, 'alice');
    expect(await overStdio.client.experimental.tasks.getTask(taskId)).toMatchObject({ taskId, status: 'input_required' });

    await server.stop();
    server = await startHttp(ws);
    alice = await connect(aliceKey);
    expect(await alice.client.experimental.tasks.getTask(taskId)).toMatchObject({ taskId, status: 'input_required', statusMessage: waiting.statusMessage });
    const r = await cli('approvals', 'approve', decisionOf(waiting.statusMessage), '--as', 'ops-anna');
    expect(r.code, r.stderr).toBe(0);
    await waitForStatus(alice.client, taskId, 'completed');
    expect((await overStdio.client.experimental.tasks.getTask(taskId)).status).toBe('completed');
  });

  it('tasks/cancel of a waiting task withdraws the escalation; another agent can neither see nor cancel it', async () => {
    const { taskId } = await startTask(alice.client, 'invoke_capability', { capability: 'payments.transfer', params: transfer({ amount_minor: 25_103 }) });
    const waiting = await waitForStatus(alice.client, taskId, 'input_required');
    const scribe = await connect(scribeKey);
    await expect(scribe.client.experimental.tasks.getTask(taskId)).rejects.toThrow(/not found/i);
    await expect(scribe.client.experimental.tasks.cancelTask(taskId)).rejects.toThrow(/not found/i);
    expect((await scribe.client.experimental.tasks.listTasks()).tasks.map((t) => t.taskId)).not.toContain(taskId);
    expect((await alice.client.experimental.tasks.listTasks()).tasks.map((t) => t.taskId)).toContain(taskId);

    expect(await alice.client.experimental.tasks.cancelTask(taskId)).toMatchObject({ status: 'cancelled' });
    expect(outcomeOf(await taskResult(alice.client, taskId)).reasons).toEqual(['CANCELLED']);
    const list = await cli('approvals', 'list', '--json');
    expect((JSON.parse(list.stdout) as { decision_id: string }[]).map((d) => d.decision_id)).not.toContain(decisionOf(waiting.statusMessage));
  });

  it('progress of an in-process capability reaches an HTTP client', async () => {
    const runner = await connect(runnerKey);
    const { result, progress, late } = await callWithProgressTap(
      runner.client,
      { name: 'invoke_capability', arguments: { capability: 'test.steps', params: { n: Math.floor(Math.random() * 1e6) } } },
      { timeout: CALL_TIMEOUT_MS },
    );
    expect(outcomeOf(result).verdict).toBe('accepted');
    expect(progress.map((p) => p.progress)).toEqual([1, 2, 3]);
    expect(late).toEqual([]);
  });
});
