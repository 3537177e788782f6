/**
 * Issue 19, tasks as the `io.modelcontextprotocol/tasks` extension on MCP
 * 2026-07-28, with a real SDK v2 client over real HTTP (two replicas of one
 * workspace, no affinity) and a real stdio pipe. The server decides: a call
 * that ends within a second answers plainly; one that waits for an operator
 * or runs longer answers `resultType: "task"`, which tasks/get follows to its
 * decision (store-backed: any replica, any process). A wait for an operator
 * is `working` with a status message; the client's own human answers through
 * `input_required` and tasks/update; tasks/cancel withdraws a waiting
 * escalation. Another agent's task is not found; a request that did not
 * declare the extension gets -32021 and never a task.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addFixtures, balance, cleanEnv, CLI, E2E, REPO_ROOT, runCli, transfer } from './helpers/e2e.js';
import { createKey, startHttp, type HttpServer } from './helpers/http.js';
import { rawRequest } from './helpers/mcp2026.js';
import { RUNNER_CONTRACT, runs, TASK_CAPABILITIES, waitFor } from './helpers/tasks.js';
import { TASKS_EXTENSION, taskClient, type TaskClient } from './helpers/tasks2026.js';

const e2e = new E2E();
const open: TaskClient[] = [];
let ws: string;
let a: HttpServer;
let b: HttpServer;
let aliceKey: string;
let scribeKey: string;
let runnerKey: string;
let copilotKey: string;

beforeAll(async () => {
  ws = await e2e.workspace();
  addFixtures(ws, { capabilities: { 'tasks-fixture.mjs': TASK_CAPABILITIES }, contracts: { 'runner.yaml': RUNNER_CONTRACT } });
  // `copilot`: alice's grants, and her client's human may approve (escalation.client_approval).
  const alice = readFileSync(join(ws, 'contracts', 'alice.yaml'), 'utf8');
  writeFileSync(join(ws, 'contracts', 'copilot.yaml'), alice.replace(/^agent: alice$/m, 'agent: copilot').replace('client_approval: false', 'client_approval: true'));
  const keys = await Promise.all(['alice', 'scribe', 'runner', 'copilot'].map(async (agent) => (await createKey(ws, { agent })).key));
  [aliceKey, scribeKey, runnerKey, copilotKey] = keys as [string, string, string, string];
  [a, b] = await Promise.all([startHttp(ws), startHttp(ws)]);
});

afterAll(async () => {
  await Promise.all(open.map((c) => c.close().catch(() => undefined)));
  await Promise.all([a?.stop(), b?.stop()]);
  await e2e.cleanup();
});

const overHttp = async (url: string, key: string, opts: { tasks?: boolean; elicitation?: boolean } = {}) => {
  const c = await taskClient(new StreamableHTTPClientTransport(new URL('/mcp', url), { requestInit: { headers: { Authorization: `Bearer ${key}` } } }), opts);
  open.push(c);
  return c;
};
/** An acknowledgement's own content: the extension's empty result, without the serverInfo stamp every result carries. */
const ack = (r: Record<string, unknown>) => Object.fromEntries(Object.entries(r).filter(([k]) => k !== '_meta'));
const decisionIn = (message: string | undefined) => /decision ([0-9a-f-]{36})/.exec(message ?? '')?.[1] ?? '';
const cli = (...args: string[]) => runCli([...args, '-w', ws]);
const big = (amount: number, key: string) => ({ capability: 'payments.transfer', params: transfer({ amount_minor: amount }), idempotency_key: key });

describe('tasks extension over HTTP, two replicas', () => {
  it('server/discover advertises the extension under capabilities.extensions, and no v1 `tasks` slot', async () => {
    const c = await overHttp(a.url, aliceKey);
    const caps = c.client.getServerCapabilities() as Record<string, unknown> & { extensions?: Record<string, unknown> };
    expect(caps.extensions?.[TASKS_EXTENSION]).toEqual({});
    expect(caps['tasks']).toBeUndefined();
  });

  it('a quick call answers plainly; an escalation waiting for an operator is a `working` task any replica follows to the approved result', async () => {
    const onA = await overHttp(a.url, aliceKey);
    const onB = await overHttp(b.url, aliceKey);
    const quick = await onA.call('invoke_capability', big(700, 'task26-quick'));
    expect(quick.task).toBeUndefined();
    expect(quick.result?.structuredContent).toMatchObject({ verdict: 'accepted' });

    const before = balance(ws);
    const { task } = await onA.call('invoke_capability', big(25_100, 'task26-op'));
    expect(task).toMatchObject({ status: 'working', ttlMs: expect.any(Number), pollIntervalMs: 500 });
    expect(task?.statusMessage).toMatch(/waiting for a human to approve or deny `payments.transfer`/);
    const taskId = task?.taskId as string;
    // The other replica, which never saw the call, follows the same task from the store.
    const seen = await onB.get(taskId);
    expect(seen).toMatchObject({ taskId, status: 'working' });
    expect(seen.inputRequests).toBeUndefined(); // an operator's wait is nothing the client can answer
    const r = await cli('approvals', 'approve', decisionIn(seen.statusMessage), '--as', 'ops-anna');
    expect(r.code, r.stderr).toBe(0);
    const done = await onB.until(taskId, (t) => t.status === 'completed');
    expect(done.result?.structuredContent).toMatchObject({ verdict: 'accepted', status: 'approved', capability: 'payments.transfer' });
    expect(balance(ws)).toBe(before - 25_100);
  });

  it('a denied escalation ends `completed` with the refusal as an isError tool result (failed is for JSON-RPC errors only)', async () => {
    const c = await overHttp(a.url, aliceKey);
    const { task } = await c.call('invoke_capability', big(25_200, 'task26-deny'));
    const r = await cli('approvals', 'deny', decisionIn(task?.statusMessage), '--as', 'ops-anna');
    expect(r.code, r.stderr).toBe(0);
    const done = await c.until(task?.taskId as string, (t) => t.status !== 'working');
    expect(done.status).toBe('completed');
    expect(done.result).toMatchObject({ isError: true, structuredContent: { verdict: 'rejected', status: 'denied' } });
  });

  it('a call that runs past a second becomes a task; it runs on after its request and completes with its result', async () => {
    const c = await overHttp(a.url, runnerKey);
    const n = Math.floor(Math.random() * 1e6);
    const { task } = await c.call('invoke_capability', { capability: 'test.steps', params: { n, ms: 600 } });
    expect(task?.status).toBe('working');
    const done = await c.until(task?.taskId as string, (t) => t.status === 'completed');
    expect(done.result?.structuredContent).toMatchObject({ verdict: 'accepted', output: { steps: 3 } });
  });

  it('tasks/cancel of a running task, sent to the other replica, aborts the call where it runs, and the task ends cancelled', async () => {
    const onA = await overHttp(a.url, runnerKey);
    const onB = await overHttp(b.url, runnerKey);
    const n = Math.floor(Math.random() * 1e6);
    const { task } = await onA.call('invoke_capability', { capability: 'test.hold', params: { n } });
    const taskId = task?.taskId as string;
    expect(runs(ws)).toContain(`hold start ${n}`);
    // Replica B only marks the row; replica A, which runs the call, sees the mark within about half a second and aborts.
    expect(ack(await onB.cancel(taskId))).toEqual({});
    await waitFor(() => runs(ws).includes(`hold aborted ${n}`), 5_000, 'the running call to be aborted');
    expect((await onA.get(taskId)).status).toBe('cancelled');
  });

  it('tasks/cancel of a waiting task is acknowledged with an empty result; the escalation is withdrawn and nothing runs', async () => {
    const c = await overHttp(b.url, aliceKey);
    const before = balance(ws);
    const { task } = await c.call('invoke_capability', big(25_300, 'task26-cancel'));
    const taskId = task?.taskId as string;
    expect(ack(await c.cancel(taskId))).toEqual({});
    const after = await c.get(taskId);
    expect(after.status).toBe('cancelled');
    expect(after.result).toBeUndefined();
    const list = await cli('approvals', 'list', '--json');
    expect((JSON.parse(list.stdout) as { decision_id: string }[]).map((d) => d.decision_id)).not.toContain(decisionIn(task?.statusMessage));
    // Cancelling an ended task is acknowledged and changes nothing.
    expect(ack(await c.cancel(taskId))).toEqual({});
    expect((await c.get(taskId)).status).toBe('cancelled');
    expect(balance(ws)).toBe(before);
  });

  it("another agent's credential can neither see, answer nor cancel the task (-32602 not found)", async () => {
    const alice = await overHttp(a.url, aliceKey);
    const scribe = await overHttp(b.url, scribeKey);
    const { task } = await alice.call('invoke_capability', big(25_400, 'task26-iso'));
    const taskId = task?.taskId as string;
    await expect(scribe.get(taskId)).rejects.toThrow(/not found/i);
    await expect(scribe.cancel(taskId)).rejects.toThrow(/not found/i);
    await expect(scribe.update(taskId, {})).rejects.toThrow(/not found/i);
    expect((await alice.get(taskId)).status).toBe('working');
    await alice.cancel(taskId);
  });

  it("the client's own human: input_required with the question in the call's words, answered through tasks/update on the other replica", async () => {
    // The call comes from a client that cannot ask its human (no elicitation): the escalation becomes a task.
    const onA = await overHttp(a.url, copilotKey);
    const onB = await overHttp(b.url, copilotKey, { elicitation: true });
    const before = balance(ws);
    const { task } = await onA.call('invoke_capability', big(25_500, 'task26-human'));
    const taskId = task?.taskId as string;
    expect((await onA.get(taskId)).status).toBe('working'); // polled without elicitation: nothing it could answer
    // Polled by a client that can ask its human: the approval is input it can give.
    const asked = await onB.until(taskId, (t) => t.status === 'input_required');
    const [key, request] = Object.entries(asked.inputRequests ?? {})[0] ?? [];
    expect(request?.method).toBe('elicitation/create');
    expect(request?.params.message).toContain('payments.transfer');
    expect(ack(await onB.update(taskId, { 'not-a-key': { action: 'accept', content: { decision: 'approve' } } }))).toEqual({});
    expect((await onB.get(taskId)).status).toBe('input_required'); // an unknown key is ignored
    expect(ack(await onB.update(taskId, { [key as string]: { action: 'accept', content: { decision: 'approve', reason: 'known payee' } } }))).toEqual({});
    const done = await onA.until(taskId, (t) => t.status === 'completed');
    expect(done.result?.structuredContent).toMatchObject({ verdict: 'accepted', status: 'approved' });
    expect(balance(ws)).toBe(before - 25_500);
  });

  it('a request that does not declare the extension gets -32021 for tasks/*, and a pending result instead of a task', async () => {
    for (const method of ['tasks/get', 'tasks/update', 'tasks/cancel']) {
      const r = await rawRequest(a.url, aliceKey, method, { taskId: 'whatever', inputResponses: {} }, { headers: { 'Mcp-Name': 'whatever' } });
      expect(r.body.error, method).toMatchObject({ code: -32021, data: { requiredCapabilities: { extensions: { [TASKS_EXTENSION]: {} } } } });
    }
    const c = await overHttp(a.url, aliceKey, { tasks: false });
    const plain = await c.call('invoke_capability', big(25_600, 'task26-undeclared'));
    expect(plain.task).toBeUndefined();
    expect(plain.result?.structuredContent).toMatchObject({ verdict: 'escalated', status: 'pending' });
    const unknown = await rawRequest(a.url, aliceKey, 'tasks/get', { taskId: 'no-such-task' }, { headers: { 'Mcp-Name': 'no-such-task' }, capabilities: { extensions: { [TASKS_EXTENSION]: {} } } });
    expect(unknown.body.error?.code).toBe(-32602);
  });
});

describe('tasks extension over stdio', () => {
  it('a v2 client over a real pipe gets a task for an escalation, and the task created over HTTP is the same agent\'s from this process', async () => {
    const overPipe = await taskClient(
      new StdioClientTransport({ command: process.execPath, args: [CLI, 'serve', '--stdio', '--agent', 'alice', '-w', ws, '--log-level', 'warn'], cwd: REPO_ROOT, env: cleanEnv(), stderr: 'ignore' }),
    );
    open.push(overPipe);
    const { task } = await overPipe.call('invoke_capability', big(25_700, 'task26-stdio'));
    expect(task).toMatchObject({ status: 'working' });
    const http = await overHttp(a.url, aliceKey);
    expect((await http.get(task?.taskId as string)).status).toBe('working');
    expect(ack(await overPipe.cancel(task?.taskId as string))).toEqual({});
    expect((await http.get(task?.taskId as string)).status).toBe('cancelled');
  });
});
