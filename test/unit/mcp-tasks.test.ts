// The MCP task wiring in process: a real SDK Client over InMemoryTransport to
// createMcpServer, against a real SQLite store in a temporary workspace.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { CallToolResultSchema, CreateTaskResultSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Outcome } from '../../src/core/types.js';
import { createMcpServer } from '../../src/mcp/server.js';
import type { Runtime } from '../../src/runtime.js';
import { RUNNER_CONTRACT, TASK_CAPABILITIES } from '../helpers/tasks.js';
import { copyTemplate, FakeWorld, openTest, runs } from './helpers.js';

/** runner's calls of test.hold wait for a human. */
const ESCALATING_RUNNER = `${RUNNER_CONTRACT}escalation:
  rules:
    - capability: test.hold
      when: context.values.n > 0
      reason: holds need a human
`;

describe('MCP tasks in process', () => {
  let rt: Runtime;
  let cleanup: () => void;
  let client: Client;

  beforeEach(async () => {
    const ws = copyTemplate({
      'capabilities/tasks-fixture.mjs': () => TASK_CAPABILITIES,
      'contracts/runner.yaml': () => ESCALATING_RUNNER,
    });
    cleanup = ws.cleanup;
    rt = await openTest(ws.dir, new FakeWorld());
    const [a, b] = InMemoryTransport.createLinkedPair();
    await createMcpServer(rt.kernel, 'runner', 'stdio').connect(a);
    client = new Client({ name: 'unit', version: '0' });
    await client.connect(b);
  });
  afterEach(async () => {
    await client.close();
    await rt.close();
    cleanup();
  });

  const startHold = async (n: number) => {
    const created = await client.request({ method: 'tools/call', params: { name: 'invoke_capability', arguments: { capability: 'test.hold', params: { n } }, task: { ttl: 1 } } }, CreateTaskResultSchema);
    const decisionId = await (async () => {
      for (let i = 0; i < 100; i++) {
        const t = await client.experimental.tasks.getTask(created.task.taskId);
        const m = /decision ([\w-]+):/.exec(t.statusMessage ?? '');
        if (t.status === 'input_required' && m) return m[1] as string;
        await new Promise((r) => setTimeout(r, 10));
      }
      throw new Error('the task never waited for a human');
    })();
    return { taskId: created.task.taskId, decisionId };
  };

  it('a task whose escalation was approved runs where it was approved and cannot be cancelled; it completes with that run', async () => {
    const { taskId, decisionId } = await startHold(1);
    const approved = rt.kernel.approve(decisionId, 'ops', null); // runs test.hold here, until aborted
    await expect.poll(() => runs(rt.workspace.dir)).toContain('hold start 1');
    expect((await client.experimental.tasks.getTask(taskId)).statusMessage).toBe('approved by ops; running');
    await expect(client.experimental.tasks.cancelTask(taskId)).rejects.toThrow(/approved by ops and runs where it was approved/);

    rt.kernel.abortInflight({ agent: 'runner' }, 'test-termination');
    expect((await approved).reasons).toEqual(['ABORTED_BY_INTERVENTION']);
    const t = await client.experimental.tasks.getTask(taskId);
    expect(t).toMatchObject({ status: 'failed', statusMessage: expect.stringMatching(/^ABORTED_BY_INTERVENTION/) });
  });

  it('a cancelled waiting task is recorded as an applied cancel intervention by the agent, and its decision is withdrawn', async () => {
    const { taskId, decisionId } = await startHold(2);
    expect(await client.experimental.tasks.cancelTask(taskId)).toMatchObject({ status: 'cancelled' });
    const d = await rt.store.decisions.get(decisionId);
    const events = await rt.store.ledger.byDfid(d?.dfid ?? '');
    expect(events.find((e) => e.type === 'EscalationResolved')).toMatchObject({ reasons: ['CANCELLED'], data: { by: 'runner' } });
    expect(d).toMatchObject({ status: 'denied', resolved_by: 'runner' });
    expect((d?.outcome as Outcome).reasons).toEqual(['CANCELLED']);
    const result = (await client.experimental.tasks.getTaskResult(taskId, CallToolResultSchema)) as CallToolResult;
    expect((result.structuredContent as unknown as Outcome).decision_id).toBe(decisionId);
    expect(runs(rt.workspace.dir)).not.toContain('hold start 2');
    const cancel = (await rt.store.agents.interventions()).find((i) => i.act === 'cancel' && i.target === decisionId);
    expect(cancel).toMatchObject({ issued_by: 'runner', target_kind: 'decision', state: 'applied' });
    expect((await rt.store.ledger.page(0, 1000)).filter((e) => e.decision_id === cancel?.id).map((e) => e.type)).toEqual(['InterventionIssued', 'InterventionAcknowledged', 'InterventionApplied']);
  });
});
