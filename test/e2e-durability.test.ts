/**
 * Issue 2, durability: each ledger step is committed before the next starts,
 * so `kill -9` right after an acknowledged call loses nothing and leaves an
 * intact chain that a new server continues.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addFixtures, balance, E2E, exportLedger, runCli, transfer, waitFor } from './helpers/e2e.js';

const SLOW = `// Test fixture: a slow side effect that records when it starts.
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
export default function define({ z }) {
  return [{
    id: 'fixtures.slow',
    version: '1.0.0',
    description: 'Records a run, then takes a while to finish.',
    sideEffect: 'write',
    input: z.object({ ms: z.number().int() }),
    output: z.object({ ok: z.boolean() }),
    limits: { deadlineMs: 10000 },
    async handler(params, ctx) {
      appendFileSync(join(ctx.workspaceDir, 'slow.runs'), 'run\\n');
      await new Promise((r) => setTimeout(r, params.ms));
      return { ok: true };
    },
  }];
}
`;
const TESTER = 'agent: tester\nversion: 1\nowner: qa@example.com\nmission: Crash tests.\nrole: agent\ngrants:\n  - capability: fixtures.slow\n';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const e2e = new E2E();
afterAll(() => e2e.cleanup());

describe('durability under kill -9', () => {
  let ws: string;
  beforeAll(async () => {
    ws = await e2e.workspace();
    addFixtures(ws, { capabilities: { 'fixtures.mjs': SLOW }, contracts: { 'tester.yaml': TESTER } });
  });

  it('kill -9 right after an accepted response: ledger verify is intact and the call’s ActionOutcome is in the export', async () => {
    const before = balance(ws);
    const alice = await e2e.client(ws, 'alice');
    const g = await alice.call('invoke_capability', { capability: 'payments.transfer', params: transfer({ amount_minor: 4321 }) });
    process.kill(alice.pid, 'SIGKILL');
    expect(g.outcome.verdict).toBe('accepted');
    await waitFor(() => !alive(alice.pid), 5_000, 'the killed server to exit');

    const verify = await runCli(['ledger', 'verify', '-w', ws]);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    const { events } = await exportLedger(ws);
    const outcome = events.find((e) => e.type === 'ActionOutcome' && e.decision_id === g.outcome.decision_id);
    expect(outcome).toBeDefined();
    expect(outcome?.data).toEqual(expect.objectContaining({ ok: true, capability: 'payments.transfer' }));
    // The receipt the client got is exactly that committed event.
    expect(outcome?.seq).toBe(g.outcome.receipt?.seq);
    expect(outcome?.hash).toBe(g.outcome.receipt?.hash);
    expect(outcome?.seq).toBe(events.length); // nothing after it, nothing lost before it
    expect(balance(ws)).toBe(before - 4321);

    // The decision is recorded too: an idempotent retry after the crash replays it instead of paying again.
    const again = await e2e.client(ws, 'alice');
    const retry = await again.call('invoke_capability', { capability: 'payments.transfer', params: transfer({ amount_minor: 4321 }) });
    expect(retry.outcome.reasons).toEqual(['IDEMPOTENT_REPLAY']);
    expect(retry.outcome.replay_of).toBe(g.outcome.decision_id);
    expect(balance(ws)).toBe(before - 4321);
    await again.close();
    // A new server continued the same chain from the last committed event.
    expect((await runCli(['ledger', 'verify', '-w', ws])).code).toBe(0);
    const after = (await exportLedger(ws)).events;
    expect(after[events.length]?.prev_hash).toBe(outcome?.hash);
    expect(after.find((e) => e.decision_id === retry.outcome.decision_id && e.type === 'IntentReplayed')?.seq).toBe(retry.outcome.receipt?.seq);
  });

  it('kill -9 with requests in flight leaves a verifiable chain', async () => {
    const alice = await e2e.client(ws, 'alice');
    // Fire several calls and kill the server while they are being processed.
    const calls = Array.from({ length: 5 }, (_, i) =>
      alice.call('invoke_capability', { capability: 'payments.get_balance', params: { account: 'operating' } }, { idempotency_key: `inflight-${i}` }).catch(() => null),
    );
    await new Promise((r) => setTimeout(r, 5));
    process.kill(alice.pid, 'SIGKILL');
    const answered = (await Promise.all(calls)).filter((x) => x !== null);
    await waitFor(() => !alive(alice.pid), 5_000, 'the killed server to exit');
    const verify = await runCli(['ledger', 'verify', '-w', ws]);
    expect(verify.code, verify.stdout).toBe(0);
    // Every answered call's receipt is in the ledger.
    const { events } = await exportLedger(ws);
    for (const a of answered) {
      expect(events.find((e) => e.seq === a.outcome.receipt?.seq)?.hash).toBe(a.outcome.receipt?.hash);
    }
  });

  it('kill -9 while a handler runs: ActionStarted was committed first, the chain verifies, and a retry with the same key never runs it again', async () => {
    const runs = () => (existsSync(join(ws, 'slow.runs')) ? readFileSync(join(ws, 'slow.runs'), 'utf8').split('\n').filter(Boolean).length : 0);
    const tester = await e2e.client(ws, 'tester');
    const pending = tester.call('invoke_capability', { capability: 'fixtures.slow', params: { ms: 5000 }, idempotency_key: 'crash-1' }).catch((err: Error) => err);
    await waitFor(() => runs() === 1, 5_000, 'the handler to start');
    process.kill(tester.pid, 'SIGKILL');
    expect(await pending).toBeInstanceOf(Error);
    await waitFor(() => !alive(tester.pid), 5_000, 'the killed server to exit');

    expect((await runCli(['ledger', 'verify', '-w', ws])).code).toBe(0);
    const { events } = await exportLedger(ws);
    const started = events.filter((e) => e.type === 'ActionStarted' && e.data['capability'] === 'fixtures.slow');
    expect(started).toHaveLength(1);
    const decision = started[0]?.decision_id;
    expect(events.filter((e) => e.decision_id === decision).map((e) => e.type)).toEqual(['IntentReceived', 'IntentValidated', 'PolicyDecided', 'ActionStarted']);

    // Whether the effect happened is unknown after a crash, so the key must not run again.
    const again = await e2e.client(ws, 'tester');
    const retry = await again.call('invoke_capability', { capability: 'fixtures.slow', params: { ms: 10 }, idempotency_key: 'crash-1' });
    expect(retry.outcome.reasons).toEqual(['IDEMPOTENCY_CONFLICT']);
    const retrySame = await again.call('invoke_capability', { capability: 'fixtures.slow', params: { ms: 5000 }, idempotency_key: 'crash-1' });
    expect(retrySame.outcome.reasons).toEqual(['IN_PROGRESS']);
    expect(retrySame.outcome.replay_of).toBe(decision);
    expect(runs()).toBe(1);
  });
});
