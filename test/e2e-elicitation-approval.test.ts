/**
 * Over real stdio, MCP elicitation: only where the contract opts in
 * (escalation.client_approval) and the client declares elicitation does the
 * server ask the client's human to decide an escalation. Without the opt-in
 * nothing is asked; a declined question leaves the decision to an operator.
 */
import { ElicitRequestSchema, type ElicitRequest, type ElicitResult } from '@modelcontextprotocol/sdk/types.js';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { balance, E2E, exportLedger, runCli, transfer, type AgentClient } from './helpers/e2e.js';

const e2e = new E2E();
afterAll(() => e2e.cleanup());

/** A client whose "human" answers every elicitation with `answer`, recording each question. */
async function elicitingClient(ws: string, answer: ElicitResult, asked: ElicitRequest['params'][]): Promise<AgentClient> {
  return e2e.client(ws, 'alice', {
    capabilities: { elicitation: {} },
    beforeConnect: (client) =>
      client.setRequestHandler(ElicitRequestSchema, (request) => {
        asked.push(request.params);
        return answer;
      }),
  });
}

const big = (amount: number) => ({ capability: 'payments.transfer', params: transfer({ amount_minor: amount }) });

describe('MCP elicitation to the client human', () => {
  let optedIn: string;
  let plain: string;

  beforeAll(async () => {
    [optedIn, plain] = await Promise.all([e2e.workspace(), e2e.workspace()]);
    const contract = join(optedIn, 'contracts', 'alice.yaml');
    const text = readFileSync(contract, 'utf8');
    expect(text).toContain('client_approval: false');
    writeFileSync(contract, text.replace('client_approval: false', 'client_approval: true'));
  });

  it('with escalation.client_approval and a client that declares elicitation, the client human approves: the call comes back accepted, resolved by client-human:alice', async () => {
    const asked: ElicitRequest['params'][] = [];
    const alice = await elicitingClient(optedIn, { action: 'accept', content: { decision: 'approve', reason: 'I know this invoice' } }, asked);
    const before = balance(optedIn);
    const g = await alice.call('invoke_capability', big(25_000));
    expect(g.isError).toBe(false);
    expect(g.outcome).toMatchObject({ verdict: 'accepted', status: 'approved', capability: 'payments.transfer' });
    expect(g.outcome.output).toMatchObject({ balance_minor: before - 25_000 });
    expect(asked).toHaveLength(1);
    expect(asked[0]?.message).toContain('payments.transfer');
    expect(balance(optedIn)).toBe(before - 25_000);

    const { events, raw } = await exportLedger(optedIn);
    const lineage = events.filter((e) => e.decision_id === g.outcome.decision_id);
    expect(lineage.map((e) => e.type)).toEqual(['IntentReceived', 'IntentValidated', 'PolicyDecided', 'EscalationOpened', 'EscalationResolved', 'ActionStarted', 'ActionOutcome']);
    expect(lineage.find((e) => e.type === 'EscalationResolved')?.data).toMatchObject({ resolution: 'approved', by: 'client-human:alice' });
    expect(raw).not.toContain('I know this invoice');
    await alice.close();
  });

  it('a declined elicitation leaves the decision pending for an operator', async () => {
    const asked: ElicitRequest['params'][] = [];
    const alice = await elicitingClient(optedIn, { action: 'decline' }, asked);
    const g = await alice.call('invoke_capability', big(25_001));
    expect(g.outcome).toMatchObject({ verdict: 'escalated', status: 'pending' });
    expect(asked).toHaveLength(1);
    const r = await runCli(['approvals', 'approve', g.outcome.decision_id, '--as', 'ops-anna', '-w', optedIn]);
    expect(r.code, r.stderr).toBe(0);
    await alice.close();
  });

  it('without the opt-in, no elicitation request is sent even to a client that declares elicitation; the call stays pending', async () => {
    const asked: ElicitRequest['params'][] = [];
    const alice = await elicitingClient(plain, { action: 'accept', content: { decision: 'approve' } }, asked);
    const before = balance(plain);
    const g = await alice.call('invoke_capability', big(25_000));
    expect(g.outcome).toMatchObject({ verdict: 'escalated', status: 'pending' });
    expect(asked).toEqual([]);
    expect(balance(plain)).toBe(before);
    // A client that does not declare elicitation is never asked either, even with the opt-in.
    const quiet = await e2e.client(optedIn, 'alice');
    const q = await quiet.call('invoke_capability', big(25_002));
    expect(q.outcome).toMatchObject({ verdict: 'escalated', status: 'pending' });
  });
});
