/**
 * Progress and cancellation over real stdio: an in-process capability's
 * ctx.progress reaches the client as notifications/progress (and as the
 * status message of a task), never in the logs; a call cancelled before its
 * effect leaves nothing behind, so the identical retry runs; a call cancelled
 * during its effect records CANCELLED and the retry replays that answer.
 */
import type { Progress } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addFixtures, CALL_TIMEOUT_MS, E2E, exportLedger, waitFor, type AgentClient, type LedgerEvent, type Outcome } from './helpers/e2e.js';
import { RUNNER_CONTRACT, runs, startTask, taskResult, TASK_CAPABILITIES, waitForStatus } from './helpers/tasks.js';
import { callWithProgressTap } from './helpers/progress-tap.js';

const e2e = new E2E();
afterAll(() => e2e.cleanup());

describe('progress and cancellation over stdio', () => {
  let ws: string;
  let runner: AgentClient;

  beforeAll(async () => {
    ws = await e2e.workspace();
    addFixtures(ws, { capabilities: { 'tasks-fixture.mjs': TASK_CAPABILITIES }, contracts: { 'runner.yaml': RUNNER_CONTRACT } });
    runner = await e2e.client(ws, 'runner', { logLevel: 'debug' });
  });

  // A request never made before in this workspace (a retried test must not be answered from the record).
  let next = Math.floor(Math.random() * 1e6);
  const fresh = () => ++next;

  const invoke = (capability: string, params: Record<string, unknown>, signal?: AbortSignal) =>
    runner.client.callTool({ name: 'invoke_capability', arguments: { capability, params } }, undefined, { timeout: CALL_TIMEOUT_MS, signal });

  /** Waits until the ledger holds the outcome of a call to `capability` with `reason`. */
  const outcomeEvent = async (capability: string, reason: string): Promise<LedgerEvent> => {
    let found: LedgerEvent | undefined;
    for (let i = 0; i < 40 && !found; i++) {
      const { events } = await exportLedger(ws);
      found = [...events].reverse().find((e) => e.type === 'ActionOutcome' && e.data['capability'] === capability && e.reasons.includes(reason));
      if (!found) await new Promise((r) => setTimeout(r, 250));
    }
    if (!found) throw new Error(`no ActionOutcome ${reason} for ${capability}`);
    return found;
  };

  it('progress of an in-process capability reaches the client, and its messages stay out of the logs', async () => {
    const { result, progress, late } = await callWithProgressTap(
      runner.client,
      { name: 'invoke_capability', arguments: { capability: 'test.steps', params: { n: fresh() } } },
      { timeout: CALL_TIMEOUT_MS },
    );
    expect((result.structuredContent as unknown as Outcome).verdict).toBe('accepted');
    expect(progress.map((p) => [p.progress, p.total, p.message])).toEqual([
      [1, 3, 'step 1'],
      [2, 3, 'step 2'],
      [3, 3, 'step 3'],
    ]);
    expect(late).toEqual([]);
    await waitFor(() => runner.stderr().includes('"step":"engine"'), 5_000, 'the engine log line'); // debug logs were written ...
    expect(runner.stderr()).not.toContain('step 2'); // ... without the capability's progress text
  });

  it('progress of a task becomes its status message, and reaches a client that gave a progress token', async () => {
    const seen: Progress[] = [];
    const stream = runner.client.experimental.tasks.callToolStream(
      { name: 'invoke_capability', arguments: { capability: 'test.steps', params: { n: fresh(), ms: 400 } } },
      undefined,
      { task: { ttl: 60_000 }, timeout: CALL_TIMEOUT_MS, onprogress: (p) => seen.push(p) },
    );
    const created = await stream.next();
    if (created.done || created.value.type !== 'taskCreated') throw new Error('no task');
    const taskId = created.value.task.taskId;
    const messages = new Set<string>();
    for (;;) {
      const t = await runner.client.experimental.tasks.getTask(taskId);
      if (t.statusMessage) messages.add(t.statusMessage);
      if (t.status === 'completed') break;
      expect(t.status).toBe('working');
      await new Promise((r) => setTimeout(r, 50));
    }
    expect([...messages].some((m) => /^running: [12]\/3 \(step [12]\)$/.test(m))).toBe(true);
    await waitFor(() => seen.length === 3, 5_000, 'three progress notifications');
    expect(seen.map((p) => p.progress)).toEqual([1, 2, 3]);
    for await (const m of stream) if (m.type === 'result') expect(m.result.isError).toBe(false);
  });

  it('cancelled before the effect: nothing ran, the key is released, and the identical retry runs', async () => {
    const n = fresh();
    const ac = new AbortController();
    const call = invoke('test.gate', { n }, ac.signal);
    // The second facts read is the re-check just before the effect (the key is reserved by then).
    await waitFor(() => runs(ws).includes(`gate facts ${n} 2`), 10_000, 'the re-read before the effect');
    ac.abort('the user pressed stop');
    await expect(call).rejects.toThrow();
    const cancelled = await outcomeEvent('test.gate', 'CANCELLED');
    expect(cancelled.data['ran']).toBe(false);
    expect(runs(ws)).not.toContain(`gate run ${n}`);

    const retry = await invoke('test.gate', { n });
    const outcome = retry.structuredContent as unknown as Outcome;
    expect(outcome).toMatchObject({ verdict: 'accepted', status: 'accepted' });
    expect(outcome.replay_of).toBeUndefined();
    expect(runs(ws).filter((l) => l === `gate run ${n}`)).toHaveLength(1);
  });

  it('cancelled during the effect: the handler is aborted, CANCELLED is recorded, and the retry replays it', async () => {
    const n = fresh();
    const ac = new AbortController();
    const call = invoke('test.hold', { n }, ac.signal);
    await waitFor(() => runs(ws).includes(`hold start ${n}`), 10_000, 'the handler to start');
    ac.abort('the user pressed stop');
    await expect(call).rejects.toThrow();
    await waitFor(() => runs(ws).includes(`hold aborted ${n}`), 10_000, 'the handler to see its abort signal');
    const cancelled = await outcomeEvent('test.hold', 'CANCELLED');
    expect(cancelled.data['ok']).toBe(false);

    const retry = await invoke('test.hold', { n });
    const outcome = retry.structuredContent as unknown as Outcome;
    expect(retry.isError).toBe(true);
    expect(outcome.reasons).toEqual(['CANCELLED', 'IDEMPOTENT_REPLAY']);
    expect(outcome.replay_of).toBe(cancelled.decision_id);
    expect(outcome.details[0]?.message).toMatch(/after the effect started/);
    expect(runs(ws).filter((l) => l === `hold start ${n}`)).toHaveLength(1);
  });

  it('tasks/cancel of a running task aborts its handler and keeps the CANCELLED outcome as the result', async () => {
    const n = fresh();
    const { taskId } = await startTask(runner.client, 'invoke_capability', { capability: 'test.hold', params: { n } });
    await waitFor(() => runs(ws).includes(`hold start ${n}`), 10_000, 'the handler to start');
    const cancelled = await runner.client.experimental.tasks.cancelTask(taskId);
    expect(cancelled.status).toBe('cancelled');
    await waitFor(() => runs(ws).includes(`hold aborted ${n}`), 10_000, 'the handler to see its abort signal');
    let result: Awaited<ReturnType<typeof taskResult>> | undefined;
    for (let i = 0; i < 50 && !result; i++) {
      result = await taskResult(runner.client, taskId).catch(() => undefined);
      if (!result) await new Promise((r) => setTimeout(r, 100));
    }
    expect((result?.structuredContent as unknown as Outcome | undefined)?.reasons).toEqual(['CANCELLED']);
    expect((await waitForStatus(runner.client, taskId, 'cancelled')).statusMessage).toMatch(/cancelled by the client while it ran/);
  });

  it('tasks/cancel from another process sharing the store stops the running task there within a sweep', async () => {
    const n = fresh();
    const { taskId } = await startTask(runner.client, 'invoke_capability', { capability: 'test.hold', params: { n } });
    await waitFor(() => runs(ws).includes(`hold start ${n}`), 10_000, 'the handler to start');
    const other = await e2e.client(ws, 'runner'); // a second server process for the same agent
    expect(await other.client.experimental.tasks.cancelTask(taskId)).toMatchObject({ status: 'cancelled', statusMessage: 'cancelled by the client while it ran in another process' });
    await waitFor(() => runs(ws).includes(`hold aborted ${n}`), 5_000, 'the first process to abort the handler');
    let reasons: string[] | undefined;
    for (let i = 0; i < 50 && !reasons; i++) {
      reasons = await taskResult(other.client, taskId).then((r) => (r.structuredContent as unknown as Outcome).reasons, () => undefined);
      if (!reasons) await new Promise((r) => setTimeout(r, 100));
    }
    expect(reasons).toEqual(['CANCELLED']);
  });
});
