/**
 * Issue 2, escalation: a policy turns a large transfer into a pending
 * decision with an expiry; an operator approves or denies it through the CLI;
 * the agent sees the result over MCP with get_decision. Approval resumes the
 * same flow, runs it exactly once, and re-checks the state first.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { balance, E2E, exportLedger, readBooks, runCli, transfer, type AgentClient, type Outcome } from './helpers/e2e.js';

const e2e = new E2E();
afterAll(() => e2e.cleanup());

interface PendingRow {
  decision_id: string;
  agent: string;
  capability: string;
  dfid: string;
  policies: string[];
  expires_at: string;
}

describe('escalation and operator approval', () => {
  let ws: string;
  let alice: AgentClient;
  const pending = async (): Promise<PendingRow[]> => {
    const r = await runCli(['approvals', 'list', '--json', '-w', ws]);
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as PendingRow[];
  };
  const getDecision = async (id: string): Promise<Outcome> => {
    const g = await alice.call('get_decision', { decision_id: id });
    expect(g.isError).toBe(false);
    return g.outcome;
  };

  beforeAll(async () => {
    ws = await e2e.workspace();
    alice = await e2e.client(ws, 'alice');
  });

  it('a 25000 transfer escalates: verdict escalated, status pending, expires_at set, nothing ran', async () => {
    const before = readBooks(ws);
    const t0 = Date.now();
    const g = await alice.call('invoke_capability', { capability: 'payments.transfer', params: transfer({ amount_minor: 25_000 }) });
    expect(g.isError).toBe(false);
    expect(g.outcome.verdict).toBe('escalated');
    expect(g.outcome.status).toBe('pending');
    expect(g.outcome.reasons).toEqual(['ESCALATION_REQUIRED']);
    expect(g.outcome.output).toBeUndefined();
    expect(g.outcome.receipt?.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(g.outcome.policies).toContain('contract.alice.escalate.0');
    const expires = Date.parse(g.outcome.expires_at ?? '');
    // The contract sets expiry_minutes: 15.
    expect(expires - t0).toBeGreaterThan(14 * 60_000);
    expect(expires - t0).toBeLessThanOrEqual(15 * 60_000 + 5_000);
    expect(readBooks(ws)).toEqual(before);
  });

  it('approvals list shows it; approve --as ops-anna executes it exactly once; get_decision shows accepted/approved with output', async () => {
    const before = balance(ws);
    const transfersBefore = readBooks(ws).transfers.length;
    const esc = await alice.call('invoke_capability', { capability: 'payments.transfer', params: transfer({ amount_minor: 25_100 }), idempotency_key: 'big-1' });
    expect(esc.outcome.verdict).toBe('escalated');
    const id = esc.outcome.decision_id;

    const human = await runCli(['approvals', 'list', '-w', ws]);
    expect(human.code).toBe(0);
    expect(human.stdout).toContain(id);
    expect(human.stdout).toContain('agent=alice');
    const rows = await pending();
    const row = rows.find((r) => r.decision_id === id);
    expect(row).toEqual(expect.objectContaining({ agent: 'alice', capability: 'payments.transfer', dfid: esc.outcome.dfid, expires_at: esc.outcome.expires_at }));

    // The operator sees the params of the request they decide on.
    const show = await runCli(['approvals', 'show', id, '-w', ws]);
    expect(show.code).toBe(0);
    expect(JSON.parse(show.stdout)).toEqual(expect.objectContaining({ status: 'pending', params: expect.objectContaining({ amount_minor: 25_100 }) }));

    // While it waits, a repeat of the same request does not open a second one.
    const again = await alice.call('invoke_capability', { capability: 'payments.transfer', params: transfer({ amount_minor: 25_100 }), idempotency_key: 'big-1' });
    expect(again.outcome.verdict).toBe('escalated');
    expect(again.outcome.reasons).toContain('IN_PROGRESS');
    expect(again.outcome.replay_of).toBe(id);
    const queue = (await pending()).map((r) => r.decision_id);
    expect(queue).toContain(id);
    expect(queue).not.toContain(again.outcome.decision_id);
    // The repeat's own decision is not an approvable escalation (it once was, and expiring it corrupted the key).
    const phantom = await runCli(['approvals', 'approve', again.outcome.decision_id, '--as', 'ops-anna', '-w', ws]);
    expect(phantom.code).toBe(1);

    const approve = await runCli(['approvals', 'approve', id, '--as', 'ops-anna', '--note', 'invoice checked', '-w', ws]);
    expect(approve.code, approve.stderr).toBe(0);
    const approved = JSON.parse(approve.stdout) as Outcome;
    expect(approved.verdict).toBe('accepted');
    expect(approved.status).toBe('approved');
    expect(approved.decision_id).toBe(id);
    expect(approved.dfid).toBe(esc.outcome.dfid);

    expect(balance(ws)).toBe(before - 25_100);
    const books = readBooks(ws);
    expect(books.transfers).toHaveLength(transfersBefore + 1);
    expect(books.transfers.filter((t) => t.dfid === esc.outcome.dfid)).toHaveLength(1);

    const seen = await getDecision(id);
    expect(seen.verdict).toBe('accepted');
    expect(seen.status).toBe('approved');
    expect(seen.output).toEqual(expect.objectContaining({ balance_minor: before - 25_100, transfer_id: expect.any(String) }));
    expect(seen.receipt?.seq).toBeGreaterThan(esc.outcome.receipt?.seq ?? Infinity);
    expect((await pending()).map((r) => r.decision_id)).not.toContain(id);

    // A second approve fails and runs nothing.
    const twice = await runCli(['approvals', 'approve', id, '--as', 'ops-anna', '-w', ws]);
    expect(twice.code).toBe(1);
    // Every approvals answer is JSON: the error, and the outcome the decision already has.
    expect(JSON.parse(twice.stdout)).toMatchObject({ decision_id: id, error: { code: 'DECISION_NOT_FOUND', message: expect.stringMatching(/not pending/) }, status: 'approved', outcome: { verdict: 'accepted' } });
    expect(balance(ws)).toBe(before - 25_100);

    // The agent repeating the approved request gets the recorded outcome; money moves once.
    const replay = await alice.call('invoke_capability', { capability: 'payments.transfer', params: transfer({ amount_minor: 25_100 }), idempotency_key: 'big-1' });
    expect(replay.outcome.verdict).toBe('accepted');
    expect(replay.outcome.reasons).toContain('IDEMPOTENT_REPLAY');
    expect(replay.outcome.output).toEqual(seen.output);
    expect(balance(ws)).toBe(before - 25_100);

    // The ledger holds the whole lineage of that one flow, in order.
    const { events } = await exportLedger(ws);
    const lineage = events.filter((e) => e.decision_id === id).map((e) => e.type);
    expect(lineage).toEqual(['IntentReceived', 'IntentValidated', 'PolicyDecided', 'EscalationOpened', 'EscalationResolved', 'ActionStarted', 'ActionOutcome']);
    const resolved = events.find((e) => e.decision_id === id && e.type === 'EscalationResolved');
    expect(resolved?.data).toEqual(expect.objectContaining({ resolution: 'approved', by: 'ops-anna' }));
    expect(JSON.stringify(events)).not.toContain('invoice checked');
  });

  it('approvals deny → get_decision shows ESCALATION_DENIED and nothing ran', async () => {
    const before = readBooks(ws);
    const esc = await alice.call('invoke_capability', { capability: 'payments.transfer', params: transfer({ amount_minor: 26_000 }) });
    expect(esc.outcome.verdict).toBe('escalated');
    const id = esc.outcome.decision_id;
    const deny = await runCli(['approvals', 'deny', id, '--as', 'ops-anna', '--note', 'not on the invoice list', '-w', ws]);
    expect(deny.code, deny.stderr).toBe(0);
    expect(JSON.parse(deny.stdout)).toEqual(expect.objectContaining({ verdict: 'rejected', reasons: ['ESCALATION_DENIED'] }));

    const seen = await getDecision(id);
    expect(seen.verdict).toBe('rejected');
    expect(seen.status).toBe('denied');
    expect(seen.reasons).toEqual(['ESCALATION_DENIED']);
    expect(seen.output).toBeUndefined();
    expect(readBooks(ws)).toEqual(before);
    // A denied decision cannot be approved afterwards.
    const late = await runCli(['approvals', 'approve', id, '--as', 'ops-anna', '-w', ws]);
    expect(late.code).toBe(1);
    expect(readBooks(ws)).toEqual(before);
  });

  it('approving after the book changed so the transfer is no longer covered → STATE_DRIFT naming the invariant, and nothing ran', async () => {
    const esc = await alice.call('invoke_capability', { capability: 'payments.transfer', params: transfer({ amount_minor: 27_000 }) });
    expect(esc.outcome.verdict).toBe('escalated');
    const id = esc.outcome.decision_id;

    const small = await alice.call('invoke_capability', { capability: 'payments.transfer', params: transfer({ amount_minor: 500 }) });
    expect(small.outcome.verdict).toBe('accepted');
    // Money also left by other means: the balance no longer covers the escalated transfer.
    const books = readBooks(ws) as unknown as { version: number; accounts: Record<string, { balance_minor: number }> };
    const had = books.accounts['operating']?.balance_minor as number;
    const setBalance = (v: number) => {
      (books.accounts['operating'] as { balance_minor: number }).balance_minor = v;
      books.version += 1;
      writeFileSync(join(ws, 'data', 'books.json'), JSON.stringify(books));
    };
    setBalance(26_999);
    const before = readBooks(ws);

    const approve = await runCli(['approvals', 'approve', id, '--as', 'ops-anna', '-w', ws]);
    setBalance(had);
    expect(approve.code).toBe(1);
    const out = JSON.parse(approve.stdout) as Outcome;
    expect(out.verdict).toBe('rejected');
    expect(out.reasons).toEqual(['STATE_DRIFT']);
    expect(out.details[0]).toMatchObject({ invariant: 'sufficient_funds', path: 'facts.balance_minor' });
    expect(before.transfers).toEqual(readBooks(ws).transfers);

    const seen = await getDecision(id);
    expect(seen.verdict).toBe('rejected');
    expect(seen.reasons).toEqual(['STATE_DRIFT']);
    expect(seen.output).toBeUndefined();
    const { events } = await exportLedger(ws);
    expect(events.filter((e) => e.decision_id === id && e.type === 'ActionStarted')).toHaveLength(0);
  });

  it('get_decision does not show another agent’s decision', async () => {
    const esc = await alice.call('invoke_capability', { capability: 'payments.transfer', params: transfer({ amount_minor: 28_000 }) });
    const scribe = await e2e.client(ws, 'scribe');
    const g = await scribe.call('get_decision', { decision_id: esc.outcome.decision_id });
    expect(g.isError).toBe(true);
    expect(g.outcome.reasons).toEqual(['DECISION_NOT_FOUND']);
  });
});
