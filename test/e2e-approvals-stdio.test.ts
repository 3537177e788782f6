/**
 * Over real stdio, approvals: an escalation survives kill -9 of the
 * server and is approved after a restart; get_decision's long poll returns as
 * soon as an operator decides in another process; an approval is single-use
 * across the CLI and `intervene`; an agent never approves itself.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { balance, E2E, exportLedger, readBooks, runCli, transfer, waitFor, type AgentClient, type Outcome } from './helpers/e2e.js';
import { processAlive } from '../src/kernel/recovery.js';

const e2e = new E2E();
afterAll(() => e2e.cleanup());

describe('approvals over stdio', () => {
  let ws: string;
  let alice: AgentClient;
  let supervisor: AgentClient;

  beforeAll(async () => {
    ws = await e2e.workspace();
    [alice, supervisor] = await Promise.all([e2e.client(ws, 'alice'), e2e.client(ws, 'supervisor')]);
  });

  const escalate = async (amount: number): Promise<Outcome> => {
    const g = await alice.call('invoke_capability', { capability: 'payments.transfer', params: transfer({ amount_minor: amount }) });
    expect(g.outcome).toMatchObject({ verdict: 'escalated', status: 'pending' });
    return g.outcome;
  };
  const approve = (id: string) => runCli(['approvals', 'approve', id, '--as', 'ops-anna', '-w', ws]);

  it('an escalation stays pending through kill -9 of the server, and is approved after a restart', async () => {
    const esc = await escalate(25_000);
    const before = balance(ws);
    process.kill(alice.pid, 'SIGKILL');
    await waitFor(() => !processAlive(alice.pid), 5_000, 'the server to die');

    const list = await runCli(['approvals', 'list', '--json', '-w', ws]);
    expect(list.code, list.stderr).toBe(0);
    expect((JSON.parse(list.stdout) as { decision_id: string }[]).map((r) => r.decision_id)).toEqual([esc.decision_id]);

    alice = await e2e.client(ws, 'alice');
    const seen = await alice.call('get_decision', { decision_id: esc.decision_id });
    expect(seen.outcome).toMatchObject({ verdict: 'escalated', status: 'pending' });

    const r = await approve(esc.decision_id);
    expect(r.code, r.stderr).toBe(0);
    const after = await alice.call('get_decision', { decision_id: esc.decision_id });
    expect(after.outcome).toMatchObject({ verdict: 'accepted', status: 'approved', dfid: esc.dfid });
    expect(balance(ws)).toBe(before - 25_000);
  });

  it('get_decision wait_seconds returns as soon as an operator approves through the CLI in another process', async () => {
    const esc = await escalate(25_001);
    const started = Date.now();
    const waiting = alice.call('get_decision', { decision_id: esc.decision_id, wait_seconds: 12 });
    let approvedAt = 0;
    const cli = approve(esc.decision_id).then((r) => {
      approvedAt = Date.now();
      return r;
    });
    const [g, r] = await Promise.all([waiting, cli]);
    const returnedAt = Date.now();
    expect(r.code, r.stderr).toBe(0);
    expect(g.isError).toBe(false);
    expect(g.outcome).toMatchObject({ verdict: 'accepted', status: 'approved', decision_id: esc.decision_id });
    // It answered within a poll interval or so of the approval, long before the 12 s wait was over.
    expect(returnedAt - started).toBeLessThan(8_000);
    expect(returnedAt - approvedAt).toBeLessThan(2_000);
  });

  it('get_decision wait_seconds returns the pending decision once the wait has passed, when nobody decides', async () => {
    const esc = await escalate(25_002);
    const started = Date.now();
    const g = await alice.call('get_decision', { decision_id: esc.decision_id, wait_seconds: 2 });
    const elapsed = Date.now() - started;
    expect(g.isError).toBe(false);
    expect(g.outcome).toMatchObject({ verdict: 'escalated', status: 'pending' });
    expect(elapsed).toBeGreaterThanOrEqual(1_900);
    expect(elapsed).toBeLessThan(6_000);
    expect((await runCli(['approvals', 'deny', esc.decision_id, '--as', 'ops-anna', '-w', ws])).code).toBe(0);
  });

  it('an approval cannot be used twice: the CLI then intervene, and intervene then the CLI', async () => {
    const transfers = readBooks(ws).transfers.length;
    const first = await escalate(25_003);
    expect((await approve(first.decision_id)).code).toBe(0);
    const again = await supervisor.call('intervene', { action: 'approve', decision_id: first.decision_id, reason: 'approve again' });
    expect(again.isError).toBe(true);
    expect(again.outcome.reasons).toEqual(['DECISION_NOT_FOUND']);

    const second = await escalate(25_004);
    const sup = await supervisor.call('intervene', { action: 'approve', decision_id: second.decision_id, reason: 'invoice matches' });
    expect(sup.outcome).toMatchObject({ verdict: 'accepted', output: { act: 'approve', decision: { verdict: 'accepted', status: 'approved' } } });
    const cli = await approve(second.decision_id);
    expect(cli.code).toBe(1);
    expect(JSON.parse(cli.stdout)).toMatchObject({ error: { code: 'DECISION_NOT_FOUND', message: expect.stringMatching(/not pending/) }, status: 'approved' });
    const twice = await supervisor.call('intervene', { action: 'approve', decision_id: second.decision_id, reason: 'again' });
    expect(twice.outcome.reasons).toEqual(['DECISION_NOT_FOUND']);

    expect(readBooks(ws).transfers.length).toBe(transfers + 2);
    const { events } = await exportLedger(ws);
    for (const id of [first.decision_id, second.decision_id]) expect(events.filter((e) => e.decision_id === id && e.type === 'ActionStarted')).toHaveLength(1);
    expect(events.find((e) => e.decision_id === second.decision_id && e.type === 'EscalationResolved')?.data).toMatchObject({ resolution: 'approved', by: 'supervisor' });
  });

  it('an agent cannot approve its own escalation through intervene over stdio', async () => {
    const esc = await escalate(25_005);
    const self = await alice.call('intervene', { action: 'approve', decision_id: esc.decision_id, reason: 'trust me' });
    expect(self.isError).toBe(true);
    expect(self.outcome.reasons).toEqual(['INTERVENTION_NOT_ALLOWED']);
    expect((await alice.call('get_decision', { decision_id: esc.decision_id })).outcome.status).toBe('pending');
    expect((await runCli(['approvals', 'deny', esc.decision_id, '--as', 'ops-anna', '-w', ws])).code).toBe(0);
  });
});
