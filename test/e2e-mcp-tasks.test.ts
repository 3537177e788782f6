/**
 * MCP tasks over real stdio, with the SDK's own client task API: a governed
 * call that escalates is a task that stays input_required (saying what it
 * waits for and until when) until an operator decides through the CLI, then
 * ends completed or failed with the governed outcome; the task survives
 * kill -9 of the server; tasks/cancel withdraws the escalation (recorded, key
 * released); another agent can neither see nor cancel it. An upstream tool
 * behind the gateway runs as a task too, and its task ends with the
 * upstream's own result.
 */
import { CreateTaskResultSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { balance, E2E, exportLedger, runCli, transfer, waitFor, type AgentClient, type Outcome } from './helpers/e2e.js';
import { EVERYTHING_SERVER, NODE, OUTCOME_META, appendConfig, pin, writeContract, y } from './helpers/gateway.js';
import { startTask, taskResult, waitForStatus } from './helpers/tasks.js';
import { processAlive } from '../src/kernel/recovery.js';

const e2e = new E2E();
afterAll(() => e2e.cleanup());

const decisionOf = (message: string | undefined): string => {
  const m = /decision ([0-9a-f-]{36})/.exec(message ?? '');
  if (!m) throw new Error(`no decision id in status message: ${message}`);
  return m[1] as string;
};
const outcomeOf = (r: CallToolResult) => r.structuredContent as unknown as Outcome;

describe('MCP tasks over stdio', () => {
  let ws: string;
  let alice: AgentClient;
  let scribe: AgentClient;

  beforeAll(async () => {
    ws = await e2e.workspace();
    [alice, scribe] = await Promise.all([e2e.client(ws, 'alice'), e2e.client(ws, 'scribe')]);
  });

  it('declares tasks and lets every governed tool (only those) run as a task', async () => {
    const caps = alice.client.getServerCapabilities();
    expect(caps?.tasks).toMatchObject({ list: {}, cancel: {}, requests: { tools: { call: {} } } });
    const { tools } = await alice.client.listTools();
    const support = Object.fromEntries(tools.map((t) => [t.name, t.execution?.taskSupport ?? 'forbidden']));
    expect(support).toMatchObject({ submit_intent: 'optional', invoke_capability: 'optional', submit_plan: 'optional', get_decision: 'forbidden', read_memory: 'forbidden', intervene: 'forbidden' });
    // A call without a task keeps today's answer.
    const plain = await alice.call('invoke_capability', { capability: 'payments.get_balance', params: { account: 'operating' } });
    expect(plain.outcome.verdict).toBe('accepted');
    // A tool that is not governed refuses a task.
    await expect(alice.client.request({ method: 'tools/call', params: { name: 'get_decision', arguments: { decision_id: 'x' }, task: { ttl: 1000 } } }, CreateTaskResultSchema)).rejects.toThrow(/does not run as a task/);
  });

  it('an escalated call is input_required until an operator approves through the CLI, then completed with the result', async () => {
    const before = balance(ws);
    const { taskId, stream } = await startTask(alice.client, 'invoke_capability', { capability: 'payments.transfer', params: transfer({ amount_minor: 25_000 }) });
    const waiting = await waitForStatus(alice.client, taskId, 'input_required');
    expect(waiting.statusMessage).toMatch(/waiting for a human to approve or deny `payments.transfer`/);
    expect(waiting.statusMessage).toMatch(/until \d{4}-\d\d-\d\dT/);
    expect(waiting.ttl).toBeGreaterThanOrEqual(15 * 60_000); // never shorter than the escalation can wait
    // The SDK's stream now blocks in tasks/result until the task ends.
    const rest = (async () => {
      const seen: string[] = [];
      for await (const m of stream) {
        seen.push(m.type);
        if (m.type === 'result') return { seen, result: m.result as CallToolResult };
      }
      return { seen, result: null };
    })();
    const r = await runCli(['approvals', 'approve', decisionOf(waiting.statusMessage), '--as', 'ops-anna', '-w', ws]);
    expect(r.code, r.stderr).toBe(0);
    const { result } = await rest;
    expect(result?.isError).toBe(false);
    expect(outcomeOf(result as CallToolResult)).toMatchObject({ verdict: 'accepted', status: 'approved', capability: 'payments.transfer' });
    expect((await alice.client.experimental.tasks.getTask(taskId)).status).toBe('completed');
    expect(balance(ws)).toBe(before - 25_000);
  });

  it('the same call denied ends failed, with the reason', async () => {
    const { taskId } = await startTask(alice.client, 'invoke_capability', { capability: 'payments.transfer', params: transfer({ amount_minor: 25_001 }) });
    const waiting = await waitForStatus(alice.client, taskId, 'input_required');
    const r = await runCli(['approvals', 'deny', decisionOf(waiting.statusMessage), '--as', 'ops-anna', '--note', 'not this one', '-w', ws]);
    expect(r.code, r.stderr).toBe(0);
    const failed = await waitForStatus(alice.client, taskId, 'failed');
    expect(failed.statusMessage).toMatch(/^ESCALATION_DENIED: denied by ops-anna/);
    const result = await taskResult(alice.client, taskId);
    expect(result.isError).toBe(true);
    expect(outcomeOf(result)).toMatchObject({ verdict: 'rejected', status: 'denied', reasons: ['ESCALATION_DENIED'] });
  });

  it('a task survives kill -9 of the server mid-escalation, and completes after an approval', async () => {
    const { taskId } = await startTask(alice.client, 'invoke_capability', { capability: 'payments.transfer', params: transfer({ amount_minor: 25_002 }) });
    const waiting = await waitForStatus(alice.client, taskId, 'input_required');
    process.kill(alice.pid, 'SIGKILL');
    await waitFor(() => !processAlive(alice.pid), 5_000, 'the server to die');

    alice = await e2e.client(ws, 'alice');
    const again = await alice.client.experimental.tasks.getTask(taskId);
    expect(again).toMatchObject({ taskId, status: 'input_required', statusMessage: waiting.statusMessage });
    expect((await alice.client.experimental.tasks.listTasks()).tasks.map((t) => t.taskId)).toContain(taskId);

    const r = await runCli(['approvals', 'approve', decisionOf(waiting.statusMessage), '--as', 'ops-anna', '-w', ws]);
    expect(r.code, r.stderr).toBe(0);
    await waitForStatus(alice.client, taskId, 'completed');
    expect(outcomeOf(await taskResult(alice.client, taskId))).toMatchObject({ verdict: 'accepted', status: 'approved' });
  });

  it('another agent can neither see nor cancel the task', async () => {
    const { taskId } = await startTask(alice.client, 'invoke_capability', { capability: 'payments.transfer', params: transfer({ amount_minor: 25_003 }) });
    await waitForStatus(alice.client, taskId, 'input_required');
    await expect(scribe.client.experimental.tasks.getTask(taskId)).rejects.toThrow(/not found/i);
    await expect(scribe.client.experimental.tasks.getTaskResult(taskId)).rejects.toThrow(/not found/i);
    await expect(scribe.client.experimental.tasks.cancelTask(taskId)).rejects.toThrow(/not found/i);
    expect((await scribe.client.experimental.tasks.listTasks()).tasks.map((t) => t.taskId)).not.toContain(taskId);
    // Still waiting for alice's human.
    expect((await alice.client.experimental.tasks.getTask(taskId)).status).toBe('input_required');
    await alice.client.experimental.tasks.cancelTask(taskId);
  });

  it('tasks/cancel of a waiting task withdraws the escalation: recorded, nothing ran, and a retry asks afresh', async () => {
    const before = balance(ws);
    const args = { capability: 'payments.transfer', params: transfer({ amount_minor: 25_004 }) };
    const { taskId } = await startTask(alice.client, 'invoke_capability', args);
    const waiting = await waitForStatus(alice.client, taskId, 'input_required');
    const decisionId = decisionOf(waiting.statusMessage);

    const cancelled = await alice.client.experimental.tasks.cancelTask(taskId);
    expect(cancelled).toMatchObject({ taskId, status: 'cancelled' });
    const result = await taskResult(alice.client, taskId);
    expect(outcomeOf(result)).toMatchObject({ verdict: 'rejected', reasons: ['CANCELLED'], decision_id: decisionId });
    await expect(alice.client.experimental.tasks.cancelTask(taskId)).rejects.toThrow(/terminal/);

    // The escalation is no longer pending, and the record says who withdrew it.
    const list = await runCli(['approvals', 'list', '--json', '-w', ws]);
    expect((JSON.parse(list.stdout) as { decision_id: string }[]).map((d) => d.decision_id)).not.toContain(decisionId);
    const { events } = await exportLedger(ws);
    expect(events.find((e) => e.type === 'EscalationResolved' && e.decision_id === decisionId)).toMatchObject({ reasons: ['CANCELLED'], data: { by: 'alice' } });
    expect(events.some((e) => e.type === 'InterventionApplied' && e.data['act'] === 'cancel' && e.data['decision'] === decisionId)).toBe(true);
    expect(balance(ws)).toBe(before);

    // Nothing ran, so the key was released: the identical call escalates afresh instead of replaying.
    const retry = await alice.call('invoke_capability', args);
    expect(retry.outcome).toMatchObject({ verdict: 'escalated', status: 'pending' });
    expect(retry.outcome.replay_of).toBeUndefined();
  });

  it('a task-augmented submit_plan is working with the steps done in its status message until the plan completes, then completed with the report', async () => {
    const invoice = (amount: number, memo: string) => ({ capability: 'payments.transfer', params: transfer({ amount_minor: amount, memo }) });
    const { taskId } = await startTask(alice.client, 'submit_plan', { purpose: 'two invoices', steps: [invoice(700, 'task-plan-1'), invoice(800, 'task-plan-2')] });
    // The task exists before the plan is decided: it is working, and says which step it is at once the plan runs.
    let first = await waitForStatus(alice.client, taskId, 'working');
    for (let i = 0; i < 100 && !first.statusMessage; i++) {
      await new Promise((r) => setTimeout(r, 100));
      first = await alice.client.experimental.tasks.getTask(taskId);
    }
    expect(first.statusMessage).toMatch(/: 0 of 2 steps done$/);
    const planId = /^plan (\S+):/.exec(first.statusMessage ?? '')?.[1] as string;
    expect((await alice.call('payments_transfer', transfer({ amount_minor: 700, memo: 'task-plan-1' }), { 'mandate/plan': planId })).outcome.verdict).toBe('accepted');
    expect((await alice.client.experimental.tasks.getTask(taskId)).statusMessage).toBe(`plan ${planId}: 1 of 2 steps done`);
    expect((await alice.call('payments_transfer', transfer({ amount_minor: 800, memo: 'task-plan-2' }), { 'mandate/plan': planId })).outcome.verdict).toBe('accepted');
    await waitForStatus(alice.client, taskId, 'completed');
    const result = outcomeOf(await taskResult(alice.client, taskId));
    expect(result).toMatchObject({ verdict: 'accepted', capability: 'plan.submit', output: { plan_id: planId, status: 'completed', report: { status: 'completed', missed: [] } } });
  });
});

describe('an upstream tool as a task', () => {
  it('runs through the gateway and completes with the upstream\'s own result, as without a task', async () => {
    const ws = await e2e.workspace();
    appendConfig(ws, `upstreams:\n  every:\n    command: ${y(NODE)}\n    args: [${y(EVERYTHING_SERVER)}, stdio]\n    deadline_ms: 10000`);
    writeContract(ws, 'everyone', 'grants:\n  - capability: every.echo\n');
    await pin(ws, 'every');
    const agent = await e2e.client(ws, 'everyone', { logLevel: 'warn' });
    const { tools } = await agent.client.listTools();
    expect(tools.find((t) => t.name === 'every_echo')?.execution?.taskSupport).toBe('optional');

    const { taskId } = await startTask(agent.client, 'every_echo', { message: 'hello through a task' });
    await waitForStatus(agent.client, taskId, 'completed');
    const result = await taskResult(agent.client, taskId);
    // The same call without a task (its own key, so that it runs rather than replays).
    const plain = (await agent.client.callTool({ name: 'every_echo', arguments: { message: 'hello through a task', mandate: { idempotency_key: 'plain-echo' } } })) as CallToolResult;
    expect((plain._meta as Record<string, unknown>)[OUTCOME_META]).not.toHaveProperty('replay_of');
    expect(result.content).toEqual(plain.content);
    expect((result._meta as Record<string, unknown>)[OUTCOME_META]).toMatchObject({ verdict: 'accepted', capability: 'every.echo' });
  }, 60_000);
});
