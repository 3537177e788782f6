/**
 * Issue 2, bounded engine: fixture capabilities that hang, throw, return too
 * much or the wrong shape each give a clean rejection with their reason code,
 * never a crash or a hung server; repeated failures open the capability's
 * circuit breaker, recorded in the ledger.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addFixtures, E2E, exportLedger, runCli, traceparent, type AgentClient } from './helpers/e2e.js';

const FIXTURES = `// Test fixtures for the bounded engine. Each handler misbehaves in one way.
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';

const count = (ctx, name) => appendFileSync(join(ctx.workspaceDir, name + '.runs'), 'run\\n');

export default function define({ z }) {
  const base = { version: '1.0.0', sideEffect: 'write', input: z.object({ n: z.number().int().optional() }) };
  return [
    {
      ...base,
      id: 'fixtures.ok',
      description: 'Answers at once with what it was given.',
      output: z.object({ n: z.number().int() }),
      handler: (params, ctx) => { count(ctx, 'ok'); return { n: params.n ?? 0 }; },
    },
    {
      ...base,
      id: 'fixtures.hang',
      description: 'Never finishes and ignores its abort signal.',
      output: z.object({ n: z.number().int() }),
      limits: { deadlineMs: 200 },
      handler: (params, ctx) => { count(ctx, 'hang'); return new Promise(() => {}); },
    },
    {
      ...base,
      id: 'fixtures.throw',
      description: 'Throws an error every time it runs.',
      output: z.object({ n: z.number().int() }),
      handler: (params, ctx) => { count(ctx, 'throw'); throw new Error('boom: secret detail'); },
    },
    {
      ...base,
      id: 'fixtures.big',
      description: 'Returns far more output than its cap allows.',
      output: z.object({ blob: z.string() }),
      limits: { maxOutputBytes: 1024 },
      handler: (params, ctx) => { count(ctx, 'big'); return { blob: 'x'.repeat(10000) }; },
    },
    {
      ...base,
      id: 'fixtures.wrong',
      description: 'Returns a value that does not match its output schema.',
      output: z.object({ count: z.number().int() }),
      handler: (params, ctx) => { count(ctx, 'wrong'); return { count: 'many' }; },
    },
    {
      ...base,
      id: 'fixtures.flaky',
      description: 'Fails every time, counting each run in a file.',
      output: z.object({ n: z.number().int() }),
      handler: (params, ctx) => { count(ctx, 'flaky'); throw new Error('down'); },
    },
  ];
}
`;

const TESTER = `# Test fixture contract: grants the bounded-engine fixtures.
agent: tester
version: 1
owner: qa@example.com
mission: Exercise misbehaving fixture capabilities in end-to-end tests.
role: agent
grants:
  - capability: fixtures.ok
  - capability: fixtures.hang
  - capability: fixtures.throw
  - capability: fixtures.big
  - capability: fixtures.wrong
  - capability: fixtures.flaky
`;

const e2e = new E2E();
afterAll(() => e2e.cleanup());

describe('bounded engine with fixture capabilities', () => {
  let ws: string;
  let tester: AgentClient;
  const runs = (name: string) => {
    const f = join(ws, `${name}.runs`);
    return existsSync(f) ? readFileSync(f, 'utf8').split('\n').filter(Boolean).length : 0;
  };
  const invoke = (capability: string, params: Record<string, unknown> = {}, meta?: Record<string, unknown>) =>
    tester.call('invoke_capability', { capability, params }, meta);

  beforeAll(async () => {
    ws = await e2e.workspace();
    addFixtures(ws, { capabilities: { 'fixtures.mjs': FIXTURES }, contracts: { 'tester.yaml': TESTER } });
    const cfg = join(ws, 'mandate.yaml');
    const text = readFileSync(cfg, 'utf8');
    expect(text).toContain('failure_threshold: 5');
    expect(text).toContain('max_invocations_per_flow: 50');
    writeFileSync(cfg, text.replace('failure_threshold: 5', 'failure_threshold: 2').replace('max_invocations_per_flow: 50', 'max_invocations_per_flow: 3'));
    const v = await runCli(['validate', '-w', ws]);
    expect(v.code, v.stderr).toBe(0);
    tester = await e2e.client(ws, 'tester');
  });

  it('a hanging handler that ignores its signal → DEADLINE_EXCEEDED, and the server still answers the next call', async () => {
    const started = Date.now();
    const g = await invoke('fixtures.hang');
    const took = Date.now() - started;
    expect(g.isError).toBe(true);
    expect(g.outcome.verdict).toBe('rejected');
    expect(g.outcome.reasons).toEqual(['DEADLINE_EXCEEDED']);
    expect(g.outcome.receipt?.seq).toBeGreaterThan(0);
    expect(runs('hang')).toBe(1);
    expect(took).toBeGreaterThanOrEqual(190);
    expect(took).toBeLessThan(3000);
    const next = await invoke('fixtures.ok', { n: 7 });
    expect(next.outcome.verdict).toBe('accepted');
    expect(next.outcome.output).toEqual({ n: 7 });
  });

  it('a throwing handler → HANDLER_FAILED, without leaking the error text', async () => {
    const g = await invoke('fixtures.throw');
    expect(g.isError).toBe(true);
    expect(g.outcome.reasons).toEqual(['HANDLER_FAILED']);
    expect(runs('throw')).toBe(1);
    expect(JSON.stringify(g.result)).not.toContain('secret detail');
    expect(tester.stderr()).not.toContain('secret detail');
  });

  it('a handler returning too much → OUTPUT_TOO_LARGE', async () => {
    const g = await invoke('fixtures.big');
    expect(g.isError).toBe(true);
    expect(g.outcome.reasons).toEqual(['OUTPUT_TOO_LARGE']);
    expect(g.outcome.output).toBeUndefined();
    expect(JSON.stringify(g.result)).not.toContain('xxxxxxxxxx');
  });

  it('a handler returning the wrong shape → OUTPUT_INVALID', async () => {
    const g = await invoke('fixtures.wrong');
    expect(g.isError).toBe(true);
    expect(g.outcome.reasons).toEqual(['OUTPUT_INVALID']);
    expect(g.outcome.output).toBeUndefined();
  });

  it('after failure_threshold (2) consecutive failures the circuit opens: CIRCUIT_OPEN without running the handler, recorded in the ledger', async () => {
    const first = await invoke('fixtures.flaky', { n: 1 });
    expect(first.outcome.reasons).toEqual(['HANDLER_FAILED']);
    const second = await invoke('fixtures.flaky', { n: 2 });
    expect(second.outcome.reasons).toEqual(['HANDLER_FAILED']);
    expect(runs('flaky')).toBe(2);

    const third = await invoke('fixtures.flaky', { n: 3 });
    expect(third.isError).toBe(true);
    expect(third.outcome.reasons).toEqual(['CIRCUIT_OPEN']);
    expect(third.outcome.receipt?.seq).toBeGreaterThan(0);
    expect(runs('flaky')).toBe(2); // the handler did not run

    // Other capabilities are unaffected by this breaker.
    expect((await invoke('fixtures.ok', { n: 1 })).outcome.verdict).toBe('accepted');

    const { events } = await exportLedger(ws);
    const circuit = events.filter((e) => e.type === 'CircuitStateChanged');
    expect(circuit).toContainEqual(expect.objectContaining({ data: expect.objectContaining({ capability: 'fixtures.flaky', from: 'closed', to: 'open' }) }));
    // The transition belongs to the flow of the call that tripped it.
    const trip = circuit.find((e) => e.data['capability'] === 'fixtures.flaky');
    expect(trip?.dfid).toBe(second.outcome.dfid);
    // No action was started for the refused call.
    expect(events.filter((e) => e.dfid === third.outcome.dfid && e.type === 'ActionStarted')).toHaveLength(0);
    expect(events.filter((e) => e.dfid === third.outcome.dfid && e.type === 'ActionOutcome')).toContainEqual(expect.objectContaining({ reasons: ['CIRCUIT_OPEN'] }));
  });

  it('limits.max_invocations_per_flow bounds side effects within one dfid → FLOW_LIMIT_EXCEEDED', async () => {
    const { traceparent: tp, traceId } = traceparent();
    const before = runs('ok');
    for (let i = 0; i < 3; i++) {
      const g = await invoke('fixtures.ok', { n: 100 + i }, { traceparent: tp });
      expect(g.outcome.verdict).toBe('accepted');
      expect(g.outcome.dfid).toBe(traceId);
    }
    const over = await invoke('fixtures.ok', { n: 200 }, { traceparent: tp });
    expect(over.outcome.reasons).toEqual(['FLOW_LIMIT_EXCEEDED']);
    expect(runs('ok')).toBe(before + 3);
  });

  it('the server survived every misbehaving handler and the ledger is intact', async () => {
    await tester.client.ping();
    const r = await runCli(['ledger', 'verify', '-w', ws]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(tester.stderr()).not.toMatch(/unhandled|uncaught/i);
  });
});
