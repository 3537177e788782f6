/**
 * Over real stdio, interventions from the CLI while the server runs:
 * terminate aborts an in-flight call (the server polls every 500 ms); a drift
 * monitor suspends an agent that only an operator can resume; redirect,
 * flow pause and constrain reach the running server through the shared store.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { E2E, exportLedger, runCli, traceparent, transfer, waitFor, type AgentClient } from './helpers/e2e.js';
import { OVERSIGHT_CAPABILITIES, TESTER_CONTRACT } from './helpers/oversight-capabilities.js';

const e2e = new E2E();
afterAll(() => e2e.cleanup());

describe('interventions over stdio', () => {
  let ws: string;
  let tester: AgentClient;
  let alice: AgentClient;
  let supervisor: AgentClient;
  const runs = (): string[] => {
    try {
      return readFileSync(join(ws, 'data', 'runs.log'), 'utf8').split('\n').filter(Boolean);
    } catch {
      return [];
    }
  };
  const cli = (...args: string[]) => runCli(['intervene', ...args, '--as', 'ops-anna', '-w', ws]);
  let n = 0;
  const sample = (v: number) => tester.call('invoke_capability', { capability: 'test.metric', params: { n: ++n, v } });

  beforeAll(async () => {
    ws = await e2e.workspace();
    writeFileSync(join(ws, 'capabilities', 'oversight.mjs'), OVERSIGHT_CAPABILITIES);
    writeFileSync(join(ws, 'contracts', 'tester.yaml'), TESTER_CONTRACT);
    const sup = join(ws, 'contracts', 'supervisor.yaml');
    writeFileSync(sup, readFileSync(sup, 'utf8').replace('supervises: [alice, scribe]', 'supervises: [alice, scribe, tester]'));
    [tester, alice, supervisor] = await Promise.all([e2e.client(ws, 'tester'), e2e.client(ws, 'alice'), e2e.client(ws, 'supervisor')]);
  });

  it('terminate from the CLI aborts an in-flight call on the running server: ABORTED_BY_INTERVENTION, long before its deadline', async () => {
    const started = Date.now();
    const running = tester.call('invoke_capability', { capability: 'test.wait', params: { n: 1 } });
    await waitFor(() => runs().includes('wait start 1'), 5_000, 'the handler to start');
    const t = await cli('terminate', '--agent', 'tester', '--reason', 'runaway');
    expect(t.code, t.stderr).toBe(0);
    const g = await running;
    // The handler's deadline is 12 s; the CLI plus the 500 ms sweep take a couple of seconds.
    expect(Date.now() - started).toBeLessThan(8_000);
    expect(g.isError).toBe(true);
    expect(g.outcome).toMatchObject({ verdict: 'rejected', reasons: ['ABORTED_BY_INTERVENTION'] });
    expect(runs()).toContain('wait aborted 1');

    const { events } = await exportLedger(ws);
    expect(events.find((e) => e.decision_id === g.outcome.decision_id && e.type === 'ActionOutcome')?.reasons).toEqual(['ABORTED_BY_INTERVENTION']);
    expect((await tester.call('invoke_capability', { capability: 'test.peek', params: { n: 1 } })).outcome.reasons).toEqual(['AGENT_TERMINATED']);
    // Only an operator revives it.
    expect((await supervisor.call('intervene', { action: 'resume', agent: 'tester', reason: 'x' })).outcome.reasons).toEqual(['INTERVENTION_NOT_ALLOWED']);
    expect((await cli('resume', '--agent', 'tester')).code).toBe(0);
    expect((await tester.call('invoke_capability', { capability: 'test.peek', params: { n: 2 } })).outcome.verdict).toBe('accepted');
  });

  it('a drift monitor suspends the agent at its boundary; it is refused before anything runs until an operator resumes it from the CLI', async () => {
    // avg-v: the last 3 samples of v, strictly above 10.
    for (const v of [10, 10, 10]) expect((await sample(v)).outcome.verdict).toBe('accepted');
    expect((await sample(11)).outcome.verdict).toBe('accepted');
    const ran = runs().length;
    const refused = await sample(0);
    expect(refused.outcome).toMatchObject({ verdict: 'rejected', reasons: ['AGENT_SUSPENDED'] });
    expect(runs().length).toBe(ran);
    expect((await tester.call('intervene', { action: 'resume', agent: 'tester', reason: 'fine' })).outcome.reasons).toEqual(['INTERVENTION_NOT_ALLOWED']);
    expect((await supervisor.call('intervene', { action: 'resume', agent: 'tester', reason: 'fine' })).outcome.reasons).toEqual(['INTERVENTION_NOT_ALLOWED']);

    const r = await cli('resume', '--agent', 'tester', '--reason', 'samples reviewed');
    expect(r.code, r.stderr).toBe(0);
    const { events } = await exportLedger(ws);
    const suspended = events.filter((e) => e.type === 'AgentSuspended');
    expect(suspended).toHaveLength(1);
    expect(suspended[0]).toMatchObject({ agent: 'tester', reasons: ['DRIFT_MONITOR_BREACHED'], data: { breaches: [{ monitor: 'avg-v', threshold: 10 }] } });
    expect(events.filter((e) => e.type === 'AgentResumed').map((e) => e.data)).toEqual([{ by: 'operator:ops-anna' }]);
    // The window still holds [10, 10, 11]: a sample of 9 brings the average back to exactly 10.
    expect((await sample(9)).outcome.verdict).toBe('accepted');
  });

  it('redirect from the CLI: the running server hands the note to the agent once, on its next call', async () => {
    const note = 'NOTE-E2E-SECRET: hold all payments to shady-llc';
    expect((await cli('redirect', '--agent', 'alice', '--note', note, '--minutes', '5')).code).toBe(0);
    const first = await alice.call('invoke_capability', { capability: 'payments.transfer', params: transfer({ amount_minor: 101 }) });
    expect(first.outcome).toMatchObject({ verdict: 'accepted', operator_note: note });
    const second = await alice.call('invoke_capability', { capability: 'payments.transfer', params: transfer({ amount_minor: 102 }) });
    expect(second.outcome.verdict).toBe('accepted');
    expect((second.outcome as { operator_note?: string }).operator_note).toBeUndefined();
    expect((await exportLedger(ws)).raw).not.toContain('NOTE-E2E-SECRET');
  });

  it('pausing one flow from the CLI refuses calls carrying its traceparent, not other flows', async () => {
    const one = traceparent();
    const two = traceparent();
    const call = (tp: string, amount: number) => alice.call('invoke_capability', { capability: 'payments.transfer', params: transfer({ amount_minor: amount }) }, { traceparent: tp });
    expect((await call(one.traceparent, 201)).outcome.verdict).toBe('accepted');
    expect((await cli('pause', '--dfid', one.traceId)).code).toBe(0);
    expect((await call(one.traceparent, 202)).outcome).toMatchObject({ verdict: 'rejected', reasons: ['FLOW_PAUSED'], dfid: one.traceId });
    expect((await call(two.traceparent, 203)).outcome.verdict).toBe('accepted');
    expect((await cli('resume', '--dfid', one.traceId)).code).toBe(0);
    expect((await call(one.traceparent, 204)).outcome.verdict).toBe('accepted');
  });

  it('constrain from the CLI tightens a limit on the running server, and can never widen it', async () => {
    const widen = await cli('constrain', '--agent', 'alice', '--capability', 'payments.transfer', '--field', 'amount_minor', '--max', '60000');
    expect(widen.code).toBe(1);
    expect(JSON.parse(widen.stdout)).toMatchObject({ verdict: 'rejected', reasons: ['INTERVENTION_NOT_ALLOWED'] });
    const c = await cli('constrain', '--agent', 'alice', '--capability', 'payments.transfer', '--field', 'amount_minor', '--max', '1000', '--minutes', '5');
    expect(c.code, c.stderr).toBe(0);
    const over = await alice.call('invoke_capability', { capability: 'payments.transfer', params: transfer({ amount_minor: 1_500 }) });
    expect(over.outcome.reasons).toEqual(['CONTRACT_LIMIT_EXCEEDED']);
    expect((await alice.call('invoke_capability', { capability: 'payments.transfer', params: transfer({ amount_minor: 900 }) })).outcome.verdict).toBe('accepted');
    const list = await runCli(['interventions', '--json', '-w', ws]);
    expect(list.code).toBe(0);
    const rows = JSON.parse(list.stdout) as { act: string; state: string; issued_by: string }[];
    expect(rows.filter((r) => r.act === 'constrain').map((r) => r.state).sort()).toEqual(['applied', 'rejected']);
  });
});
