import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Outcome } from '../../src/core/types.js';
import { MandateTaskStore, TASK_RESULT_RETENTION_MS } from '../../src/mcp/task-store.js';
import type { Runtime } from '../../src/runtime.js';
import { call, copyTemplate, FakeWorld, openTest, transfer } from './helpers.js';

const WINDOW = 15 * 60_000; // the template's escalation expiry for alice

describe('MandateTaskStore: tasks kept in the store, following their decision', () => {
  let rt: Runtime;
  let world: FakeWorld;
  let cleanup: () => void;
  let alice: MandateTaskStore;

  beforeEach(async () => {
    const ws = copyTemplate();
    cleanup = ws.cleanup;
    world = new FakeWorld();
    rt = await openTest(ws.dir, world);
    alice = new MandateTaskStore(rt.kernel, 'alice');
  });
  afterEach(async () => {
    await rt.close();
    cleanup();
  });

  const task = (decisionId = world.newId(), ttl?: number | null) => alice.createTask({ ttl, context: { decisionId, form: 'outcome' } });

  it('bounds the TTL by the escalation expiry: never shorter, at most an hour longer', async () => {
    expect((await task(undefined, 1_000)).ttl).toBe(WINDOW);
    expect((await task(undefined, 20 * 60_000)).ttl).toBe(20 * 60_000);
    expect((await task(undefined, 10 * 24 * 3_600_000)).ttl).toBe(WINDOW + TASK_RESULT_RETENTION_MS);
    expect((await task(undefined, null)).ttl).toBe(WINDOW + TASK_RESULT_RETENTION_MS);
    await expect(alice.createTask({ ttl: 1000 })).rejects.toThrow(/tools\/call only/);
  });

  it('is working, then input_required while the escalation waits, then failed when it expires', async () => {
    const decisionId = world.newId();
    const t = await task(decisionId);
    expect(t.status).toBe('working');
    const esc = await rt.kernel.govern(call('alice', transfer(25_000), { decisionId }));
    expect(esc).toMatchObject({ verdict: 'escalated', decision_id: decisionId });
    const waiting = await alice.getTask(t.taskId);
    expect(waiting?.status).toBe('input_required');
    expect(waiting?.statusMessage).toBe(`waiting for a human to approve or deny \`payments.transfer\` (decision ${decisionId}: transfers above 100.00 need a human approval) until 2030-01-01T00:15:00.000Z`);
    world.advance(WINDOW + 1);
    expect(await alice.getTask(t.taskId)).toMatchObject({ status: 'failed', statusMessage: 'ESCALATION_EXPIRED: nobody decided before the expiry' });
    const result = (await alice.getTaskResult(t.taskId)) as { isError: boolean; structuredContent: Outcome };
    expect(result.isError).toBe(true);
    expect(result.structuredContent).toMatchObject({ status: 'expired', reasons: ['ESCALATION_EXPIRED'] });
  });

  it('is completed with the outcome once a human approves (in any process: it reads the store)', async () => {
    const decisionId = world.newId();
    const t = await task(decisionId);
    await rt.kernel.govern(call('alice', transfer(25_000), { decisionId }));
    await rt.kernel.approve(decisionId, 'ops', null);
    expect((await alice.getTask(t.taskId))?.status).toBe('completed');
    expect(((await alice.getTaskResult(t.taskId)) as { structuredContent: Outcome }).structuredContent).toMatchObject({ verdict: 'accepted', status: 'approved' });
  });

  it('a task whose call repeats a pending escalation follows the original decision to its end', async () => {
    const first = world.newId();
    const second = world.newId();
    const [t1, t2] = [await task(first), await task(second)];
    await rt.kernel.govern(call('alice', transfer(25_000), { decisionId: first }));
    const repeat = await rt.kernel.govern(call('alice', transfer(25_000), { decisionId: second }));
    expect(repeat).toMatchObject({ replay_of: first, status: 'pending' });
    expect((await alice.getTask(t2.taskId))?.statusMessage).toContain(`decision ${first}`);
    await rt.kernel.approve(first, 'ops', null);
    expect((await alice.getTask(t1.taskId))?.status).toBe('completed');
    expect((await alice.getTask(t2.taskId))?.status).toBe('completed');
    expect(((await alice.getTaskResult(t2.taskId)) as { structuredContent: Outcome }).structuredContent).toMatchObject({ decision_id: first, status: 'approved' });
  });

  it('one agent never sees the task of another', async () => {
    const t = await task();
    const scribe = new MandateTaskStore(rt.kernel, 'scribe');
    expect(await scribe.getTask(t.taskId)).toBeNull();
    await expect(scribe.getTaskResult(t.taskId)).rejects.toThrow(/not found/);
    expect((await scribe.listTasks()).tasks).toEqual([]);
    expect((await alice.listTasks()).tasks.map((x) => x.taskId)).toEqual([t.taskId]);
  });

  it('lists in pages with a cursor, refuses a foreign cursor, and forgets tasks past their TTL', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 51; i++) {
      ids.push((await task(undefined, 1)).taskId);
      world.advance(1);
    }
    const first = await alice.listTasks();
    expect(first.tasks).toHaveLength(50);
    expect(first.nextCursor).toBeDefined();
    const second = await alice.listTasks(first.nextCursor);
    expect([...first.tasks, ...second.tasks].map((t) => t.taskId)).toEqual(ids);
    expect(second.nextCursor).toBeUndefined();
    await expect(alice.listTasks('bm90IG91cnM')).rejects.toThrow(/invalid cursor/);

    world.advance(WINDOW);
    expect(await alice.getTask(ids[0] as string)).toBeNull();
    const purged = await rt.store.commit([{ op: 'tasks.purge', now: world.now() }]);
    expect(purged.ok && purged.results.get(0)).toBe(51);
  });
});

describe('cancellation in the kernel', () => {
  let rt: Runtime;
  let cleanup: () => void;
  beforeEach(async () => {
    const ws = copyTemplate();
    cleanup = ws.cleanup;
    rt = await openTest(ws.dir, new FakeWorld());
  });
  afterEach(async () => {
    await rt.close();
    cleanup();
  });

  it('a call cancelled before its effect runs nothing and releases its key: the identical retry runs', async () => {
    const cancelled = await rt.kernel.govern(call('alice', transfer(100), { signal: AbortSignal.abort() }));
    expect(cancelled).toMatchObject({ verdict: 'rejected', status: 'failed', reasons: ['CANCELLED'] });
    expect((await rt.store.ledger.byDfid(cancelled.dfid)).map((e) => e.type)).not.toContain('ActionStarted');
    const retry = await rt.kernel.govern(call('alice', transfer(100)));
    expect(retry).toMatchObject({ verdict: 'accepted', status: 'accepted' });
    expect(retry.replay_of).toBeUndefined();
  });

  it('withdrawing a pending escalation records CANCELLED and releases the key; only a pending one can be withdrawn', async () => {
    const esc = await rt.kernel.govern(call('alice', transfer(25_000)));
    const withdrawn = await rt.kernel.withdraw(esc.decision_id, 'alice');
    expect(withdrawn).toMatchObject({ verdict: 'rejected', status: 'denied', reasons: ['CANCELLED'] });
    expect(withdrawn.details[0]?.message).toBe('cancelled by alice before a human decided');
    await expect(rt.kernel.withdraw(esc.decision_id, 'alice')).rejects.toThrow(/not pending/);
    const again = await rt.kernel.govern(call('alice', transfer(25_000)));
    expect(again).toMatchObject({ verdict: 'escalated', status: 'pending' });
    expect(again.replay_of).toBeUndefined();
  });
});
