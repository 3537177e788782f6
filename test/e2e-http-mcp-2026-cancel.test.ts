/**
 * Issue 19, cancellation without a session: on 2026-07-28 over HTTP a v2
 * client that aborts a call closes that request's response stream (no
 * notifications/cancelled), and the server takes it as the caller's cancel.
 * Before the effect nothing runs, the key is released and the identical
 * retry runs; once the effect has started it runs to completion under its
 * deadline and is recorded, and the retry replays that true outcome (ADR-024).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addFixtures, CALL_TIMEOUT_MS, E2E, exportLedger, waitFor, type LedgerEvent, type Outcome } from './helpers/e2e.js';
import { createKey, startHttp, type HttpServer } from './helpers/http.js';
import { v2Agent, type V2Agent } from './helpers/mcp2026.js';
import { RUNNER_CONTRACT, runs, TASK_CAPABILITIES } from './helpers/tasks.js';

const e2e = new E2E();
let ws: string;
let server: HttpServer;
let runner: V2Agent;

beforeAll(async () => {
  ws = await e2e.workspace();
  addFixtures(ws, { capabilities: { 'tasks-fixture.mjs': TASK_CAPABILITIES }, contracts: { 'runner.yaml': RUNNER_CONTRACT } });
  const key = (await createKey(ws, { agent: 'runner' })).key;
  server = await startHttp(ws);
  runner = await v2Agent(server.url, key, 'pin');
});

afterAll(async () => {
  await runner?.close().catch(() => undefined);
  await server?.stop();
  await e2e.cleanup();
});

// A request never made before in this workspace (a retried test must not be answered from the record).
let next = Math.floor(Math.random() * 1e6);
const fresh = () => ++next;

const invoke = (capability: string, params: Record<string, unknown>, signal?: AbortSignal) =>
  runner.client.callTool({ name: 'invoke_capability', arguments: { capability, params } }, { timeout: CALL_TIMEOUT_MS, ...(signal ? { signal } : {}) });

/** The last ActionOutcome of `capability` with `reason`, or (reason null) one that succeeded. */
const outcomeEvent = async (capability: string, reason: string | null): Promise<LedgerEvent> => {
  let found: LedgerEvent | undefined;
  for (let i = 0; i < 40 && !found; i++) {
    const { events } = await exportLedger(ws);
    found = [...events].reverse().find((e) => e.type === 'ActionOutcome' && e.data['capability'] === capability && (reason === null ? e.data['ok'] === true : e.reasons.includes(reason)));
    if (!found) await new Promise((r) => setTimeout(r, 250));
  }
  if (!found) throw new Error(`no ActionOutcome ${reason ?? 'ok'} for ${capability}`);
  return found;
};

describe('a 2026-07-28 call cancelled by closing its response stream', () => {
  it('before the effect: nothing ran, the key is released, and the identical retry runs', async () => {
    expect(runner.client.getProtocolEra()).toBe('modern');
    const n = fresh();
    const ac = new AbortController();
    const call = invoke('test.gate', { n }, ac.signal);
    await waitFor(() => runs(ws).includes(`gate facts ${n} 2`), 10_000, 'the re-read before the effect');
    ac.abort('the user pressed stop');
    await expect(call).rejects.toThrow();
    const cancelled = await outcomeEvent('test.gate', 'CANCELLED');
    expect(cancelled.data['ran']).toBe(false);
    expect(runs(ws)).not.toContain(`gate run ${n}`);

    const retry = await invoke('test.gate', { n });
    expect(retry.structuredContent).toMatchObject({ verdict: 'accepted', status: 'accepted' });
    expect((retry.structuredContent as unknown as Outcome).replay_of).toBeUndefined();
    expect(runs(ws).filter((l) => l === `gate run ${n}`)).toHaveLength(1);
  });

  it('during the effect: the effect runs to completion and is recorded, and the retry replays its true outcome without running again', async () => {
    const n = fresh();
    const ac = new AbortController();
    const call = invoke('test.steps', { n, ms: 700 }, ac.signal);
    await waitFor(() => runs(ws).includes(`steps start ${n}`), 10_000, 'the handler to start');
    ac.abort('the user pressed stop');
    await expect(call).rejects.toThrow();
    // Recorded as it ended: the handler ran its three steps although its caller had gone.
    const done = await outcomeEvent('test.steps', null);
    expect(done.reasons).not.toContain('CANCELLED');

    const retry = await invoke('test.steps', { n, ms: 700 });
    const outcome = retry.structuredContent as unknown as Outcome;
    expect(outcome).toMatchObject({ verdict: 'accepted', output: { steps: 3 } });
    expect(outcome.reasons).toContain('IDEMPOTENT_REPLAY');
    expect(outcome.replay_of).toBe(done.decision_id);
    expect(runs(ws).filter((l) => l === `steps start ${n}`)).toHaveLength(1);
  });
});
