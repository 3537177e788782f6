/**
 * Plans under kill -9 in the middle of a step's effect (ADR-025, ADR-017):
 * a real `mandate serve --stdio` runs a plan whose step blocks inside its
 * handler, and is killed with SIGKILL. After a restart the plan is at the
 * right step and nothing ran twice (the fixture's effects file proves it):
 * a capability that can tell reconciles the step, and the plan goes on; one
 * that cannot leaves the step's outcome unknown, the later steps wait, an
 * operator settles it, and the plan goes on to completion.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processAlive } from '../src/kernel/recovery.js';
import { addFixtures, E2E, exportLedger, runCli, waitFor, type AgentClient } from './helpers/e2e.js';

// `fixtures.tally` makes its effect (a line in effects.log), then lingers before it reports back, and can
// tell afterwards whether a decision's effect happened. `fixtures.gate` notes that it started, waits
// for a `release` file when asked to hold, and only then makes its effect; it cannot tell afterwards.
const FIXTURES = `// Test fixtures: effects a kill -9 can cut short.
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
const lines = (dir, name) => (existsSync(join(dir, name)) ? readFileSync(join(dir, name), 'utf8').split('\\n').filter(Boolean) : []);
export default function define({ z }) {
  return [{
    id: 'fixtures.tally',
    version: '1.0.0',
    description: 'Counts n in effects.log, then lingers before reporting back.',
    sideEffect: 'write',
    input: z.object({ n: z.number().int(), linger_ms: z.number().int() }),
    output: z.object({ ok: z.boolean() }),
    limits: { deadlineMs: 20000 },
    async handler(params, ctx) {
      appendFileSync(join(ctx.workspaceDir, 'effects.log'), 'tally ' + params.n + ' ' + ctx.decisionId + '\\n');
      await new Promise((r) => setTimeout(r, params.linger_ms));
      return { ok: true };
    },
    reconcile(params, ctx) {
      return lines(ctx.workspaceDir, 'effects.log').some((l) => l.endsWith(' ' + ctx.decisionId)) ? { status: 'applied', output: { ok: true } } : { status: 'not_applied' };
    },
  }, {
    id: 'fixtures.gate',
    version: '1.0.0',
    description: 'Notes its start; when asked to hold, waits for a release file; then counts n in effects.log.',
    sideEffect: 'write',
    input: z.object({ n: z.number().int(), hold: z.boolean() }),
    output: z.object({ ok: z.boolean() }),
    limits: { deadlineMs: 20000 },
    async handler(params, ctx) {
      appendFileSync(join(ctx.workspaceDir, 'starts.log'), 'gate ' + params.n + '\\n');
      while (params.hold && !existsSync(join(ctx.workspaceDir, 'release'))) await new Promise((r) => setTimeout(r, 20));
      appendFileSync(join(ctx.workspaceDir, 'effects.log'), 'gate ' + params.n + ' ' + ctx.decisionId + '\\n');
      return { ok: true };
    },
  }];
}
`;
const RUNNER = 'agent: runner\nversion: 1\nowner: qa@example.com\nmission: Plans under crashes.\nrole: agent\ngrants:\n  - capability: fixtures.tally\n  - capability: fixtures.gate\n';

const PLAN = 'mandate/plan';

interface Report {
  status: string;
  failed_step: number | null;
  planned: { status: string; decision_id: string | null }[];
  executed: { step: number; decision_id: string; status: string }[];
  missed: number[];
}

const e2e = new E2E();
afterAll(() => e2e.cleanup());

describe('plans under kill -9 mid-effect', () => {
  let ws: string;
  const effects = () => (existsSync(join(ws, 'effects.log')) ? readFileSync(join(ws, 'effects.log'), 'utf8').split('\n').filter(Boolean) : []);
  const starts = () => (existsSync(join(ws, 'starts.log')) ? readFileSync(join(ws, 'starts.log'), 'utf8').split('\n').filter(Boolean) : []);
  const show = async (id: string): Promise<Report> => {
    const r = await runCli(['plans', 'show', id, '-w', ws]);
    expect(r.code, r.stderr).toBe(0);
    return JSON.parse(r.stdout) as Report;
  };
  const kill = async (c: AgentClient) => {
    process.kill(c.pid, 'SIGKILL');
    await waitFor(() => !processAlive(c.pid), 5_000, 'the killed server to exit');
  };
  const submit = async (c: AgentClient, purpose: string, steps: { capability: string; params: Record<string, unknown> }[]) => {
    const r = await c.call('submit_plan', { purpose, steps });
    expect(r.outcome, JSON.stringify(r.outcome)).toMatchObject({ verdict: 'accepted', output: { status: 'running' } });
    return (r.outcome.output as { plan_id: string }).plan_id;
  };

  beforeAll(async () => {
    ws = await e2e.workspace();
    addFixtures(ws, { capabilities: { 'fixtures.mjs': FIXTURES }, contracts: { 'runner.yaml': RUNNER } });
  });

  it('the effect happened before the kill: at restart the capability reconciles the step, a retry replays it, and the rest runs once', async () => {
    const tally = (n: number, linger = 0) => ({ capability: 'fixtures.tally', params: { n, linger_ms: linger } });
    let c = await e2e.client(ws, 'runner');
    const planId = await submit(c, 'three tallies', [tally(1), tally(2, 15_000), tally(3)]);
    expect((await c.call('invoke_capability', tally(1), { [PLAN]: planId })).outcome.verdict).toBe('accepted');
    const cut = c.call('invoke_capability', tally(2, 15_000), { [PLAN]: planId }).catch((err: Error) => err);
    await waitFor(() => effects().length === 2, 5_000, 'step 2 to make its effect');
    await kill(c);
    expect(await cut).toBeInstanceOf(Error);

    // A new server settles what the dead one left, before it answers anyone.
    c = await e2e.client(ws, 'runner');
    const report = await show(planId);
    expect(report).toMatchObject({ status: 'running', failed_step: null, missed: [] });
    expect(report.planned.map((p) => p.status)).toEqual(['done', 'done', 'pending']);
    const step2 = report.planned[1]?.decision_id as string;
    expect(effects().filter((l) => l.startsWith('tally 2 '))).toEqual([`tally 2 ${step2}`]);

    // The agent, which never got its answer, retries step 2: answered from the record, not run again.
    const retried = await c.call('invoke_capability', tally(2, 15_000), { [PLAN]: planId });
    expect(retried.outcome).toMatchObject({ verdict: 'accepted', replay_of: step2 });
    expect((await c.call('invoke_capability', tally(3), { [PLAN]: planId })).outcome.verdict).toBe('accepted');
    expect(effects().filter((l) => l.startsWith('tally ')).map((l) => l.split(' ')[1])).toEqual(['1', '2', '3']);
    expect(await show(planId)).toMatchObject({ status: 'completed', missed: [] });
    const lineage = (await exportLedger(ws)).events.filter((e) => e.decision_id === step2).map((e) => e.type);
    expect(lineage.slice(-2)).toEqual(['ActionOutcomeUnknown', 'ActionOutcome']);
    await c.close();
  });

  it('the kill cut the last step short and the capability can tell: the plan completes at restart, with no call', async () => {
    const tally = (n: number, linger = 0) => ({ capability: 'fixtures.tally', params: { n, linger_ms: linger } });
    let c = await e2e.client(ws, 'runner');
    const planId = await submit(c, 'two tallies', [tally(11), tally(12, 15_000)]);
    expect((await c.call('invoke_capability', tally(11), { [PLAN]: planId })).outcome.verdict).toBe('accepted');
    const cut = c.call('invoke_capability', tally(12, 15_000), { [PLAN]: planId }).catch((err: Error) => err);
    await waitFor(() => effects().some((l) => l.startsWith('tally 12 ')), 5_000, 'the last step to make its effect');
    await kill(c);
    await cut;
    c = await e2e.client(ws, 'runner');
    const report = await show(planId);
    expect(report).toMatchObject({ status: 'completed', missed: [] });
    expect(report.planned.map((p) => p.status)).toEqual(['done', 'done']);
    // Its sub-mandate ended with it: the agent is out of plan mode.
    expect((await c.call('invoke_capability', tally(99))).outcome.verdict).toBe('accepted');
    await c.close();
  });

  it('the kill cut an effect no one can check: the step stays unknown, later steps wait, an operator settles it, and the plan completes with each effect once', async () => {
    const gate = (n: number, hold = false) => ({ capability: 'fixtures.gate', params: { n, hold } });
    let c = await e2e.client(ws, 'runner');
    const planId = await submit(c, 'three gates', [gate(21), gate(22, true), gate(23)]);
    expect((await c.call('invoke_capability', gate(21), { [PLAN]: planId })).outcome.verdict).toBe('accepted');
    const cut = c.call('invoke_capability', gate(22, true), { [PLAN]: planId }).catch((err: Error) => err);
    await waitFor(() => starts().includes('gate 22'), 5_000, 'step 2 to start and hold');
    await kill(c);
    await cut;

    c = await e2e.client(ws, 'runner');
    let report = await show(planId);
    // At the right step: 1 done, 2 started and not known to have finished, 3 not started.
    expect(report).toMatchObject({ status: 'running', missed: [] });
    expect(report.planned.map((p) => p.status)).toEqual(['done', 'running', 'pending']);
    const step2 = report.planned[1]?.decision_id as string;
    expect(report.executed.find((e) => e.step === 1)?.status).toBe('outcome_unknown');
    // The plan is ordered: step 3 waits for step 2's outcome, and is not counted as a call outside the plan.
    const early = await c.call('invoke_capability', gate(23), { [PLAN]: planId });
    expect(early.outcome.reasons).toEqual(['PLAN_STEP_WAITING']);
    expect(early.outcome.details[0]?.message).toMatch(/step 2/);
    const retried = await c.call('invoke_capability', gate(22, true), { [PLAN]: planId });
    expect(retried.outcome).toMatchObject({ reasons: ['OUTCOME_UNKNOWN'], replay_of: step2 });
    expect(effects().filter((l) => l.startsWith('gate 22 '))).toEqual([]);

    // The operator reads the effects file (no gate 22), settles the step as not applied, and lets the gate open.
    const settled = await runCli(['decisions', 'settle', step2, '--not-applied', '--reason', 'no line in effects.log', '--as', 'ops-anna', '-w', ws]);
    expect(settled.code, settled.stderr).toBe(0);
    report = await show(planId);
    expect(report.planned.map((p) => p.status)).toEqual(['done', 'pending', 'pending']);
    writeFileSync(join(ws, 'release'), '');
    const rerun = await c.call('invoke_capability', gate(22, true), { [PLAN]: planId });
    expect(rerun.outcome, JSON.stringify(rerun.outcome)).toMatchObject({ verdict: 'accepted' });
    expect(rerun.outcome.replay_of).toBeUndefined();
    const step3 = await c.call('invoke_capability', gate(23), { [PLAN]: planId });
    expect(step3.outcome, JSON.stringify(step3.outcome)).toMatchObject({ verdict: 'accepted' });

    report = await show(planId);
    expect(report).toMatchObject({ status: 'completed', missed: [] });
    expect(report.planned.map((p) => [p.status, p.decision_id])).toEqual([
      ['done', expect.any(String)],
      ['done', rerun.outcome.decision_id],
      ['done', expect.any(String)],
    ]);
    // Started twice (the kill, then the re-run), but each effect happened exactly once.
    expect(starts().filter((l) => l.startsWith('gate 2'))).toEqual(['gate 21', 'gate 22', 'gate 22', 'gate 23']);
    expect(effects().filter((l) => l.startsWith('gate ')).map((l) => l.split(' ')[1])).toEqual(['21', '22', '23']);
    expect((await runCli(['ledger', 'verify', '-w', ws])).code).toBe(0);
    await c.close();
  });
});
