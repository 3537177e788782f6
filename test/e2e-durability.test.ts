/**
 * Durability under kill -9 (ADR-010, ADR-017): no answer goes out before its
 * record is committed, so `kill -9` right after an acknowledged call loses
 * nothing and leaves an intact chain that a new server continues; an effect
 * cut short by the kill is reconciled or marked outcome-unknown, never run twice.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processAlive } from '../src/kernel/recovery.js';
import { addFixtures, balance, E2E, exportLedger, runCli, transfer, waitFor } from './helpers/e2e.js';

const SLOW = `// Test fixtures: slow side effects that record when they start.
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
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
  }, {
    id: 'fixtures.record',
    version: '1.0.0',
    description: 'Records its decision id, then takes a while to report back.',
    sideEffect: 'write',
    input: z.object({ ms: z.number().int() }),
    output: z.object({ ok: z.boolean() }),
    limits: { deadlineMs: 10000 },
    async handler(params, ctx) {
      appendFileSync(join(ctx.workspaceDir, 'records.log'), ctx.decisionId + '\\n');
      await new Promise((r) => setTimeout(r, params.ms));
      return { ok: true };
    },
    reconcile(params, ctx) {
      const log = existsSync(join(ctx.workspaceDir, 'records.log')) ? readFileSync(join(ctx.workspaceDir, 'records.log'), 'utf8') : '';
      return log.split('\\n').includes(ctx.decisionId) ? { status: 'applied', output: { ok: true } } : { status: 'not_applied' };
    },
  }];
}
`;
const TESTER = 'agent: tester\nversion: 1\nowner: qa@example.com\nmission: Crash tests.\nrole: agent\ngrants:\n  - capability: fixtures.slow\n  - capability: fixtures.record\n';

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
    await waitFor(() => !processAlive(alice.pid), 5_000, 'the killed server to exit');

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
    await waitFor(() => !processAlive(alice.pid), 5_000, 'the killed server to exit');
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
    await waitFor(() => !processAlive(tester.pid), 5_000, 'the killed server to exit');

    expect((await runCli(['ledger', 'verify', '-w', ws])).code).toBe(0);
    const { events } = await exportLedger(ws);
    const started = events.filter((e) => e.type === 'ActionStarted' && e.data['capability'] === 'fixtures.slow');
    expect(started).toHaveLength(1);
    const decision = started[0]?.decision_id as string;
    expect(events.filter((e) => e.decision_id === decision).map((e) => e.type)).toEqual(['IntentReceived', 'IntentValidated', 'PolicyDecided', 'ActionStarted']);

    // Whether the effect happened is unknown after a crash, so the key must not run again (docs/reference/idempotency-and-dfid.md).
    const again = await e2e.client(ws, 'tester');
    const retry = await again.call('invoke_capability', { capability: 'fixtures.slow', params: { ms: 10 }, idempotency_key: 'crash-1' });
    expect(retry.outcome.reasons).toEqual(['IDEMPOTENCY_CONFLICT']);
    const retrySame = await again.call('invoke_capability', { capability: 'fixtures.slow', params: { ms: 5000 }, idempotency_key: 'crash-1' });
    // The new server settled what the dead one left: fixtures.slow cannot reconcile, so the outcome is unknown, not "still running".
    expect(retrySame.outcome.reasons).toEqual(['OUTCOME_UNKNOWN']);
    expect(retrySame.outcome.replay_of).toBe(decision);
    const found = await again.call('get_decision', { decision_id: decision });
    expect(found.outcome).toMatchObject({ decision_id: decision, status: 'outcome_unknown', reasons: ['OUTCOME_UNKNOWN'] });
    expect(runs()).toBe(1);

    // An operator settles it; the ledger records who. Not applied: the key is released and a retry runs afresh.
    const settled = await runCli(['decisions', 'settle', decision, '--not-applied', '--reason', 'checked the log', '--as', 'ops', '-w', ws]);
    expect(settled.code).toBe(0);
    expect(JSON.parse(settled.stdout)).toMatchObject({ status: 'failed', reasons: ['OUTCOME_NOT_APPLIED'] });
    const after = await again.call('invoke_capability', { capability: 'fixtures.slow', params: { ms: 5000 }, idempotency_key: 'crash-1' });
    expect(after.outcome).toMatchObject({ verdict: 'accepted' });
    expect(runs()).toBe(2);
    const lineage = (await exportLedger(ws)).events.filter((e) => e.decision_id === decision);
    expect(lineage.map((e) => e.type)).toEqual(['IntentReceived', 'IntentValidated', 'PolicyDecided', 'ActionStarted', 'ActionOutcomeUnknown', 'ActionOutcome']);
    expect(lineage.at(-1)?.data).toMatchObject({ ok: false, ran: false, settled_by: 'operator:ops' });
  });

  it('kill -9 after the effect and before its record: the capability reconciles it at restart, and a retry replays it once', async () => {
    const records = () => (existsSync(join(ws, 'records.log')) ? readFileSync(join(ws, 'records.log'), 'utf8').split('\n').filter(Boolean) : []);
    const tester = await e2e.client(ws, 'tester');
    const pending = tester.call('invoke_capability', { capability: 'fixtures.record', params: { ms: 5000 }, idempotency_key: 'crash-2' }).catch((err: Error) => err);
    await waitFor(() => records().length === 1, 5_000, 'the effect to happen');
    process.kill(tester.pid, 'SIGKILL');
    await pending;
    await waitFor(() => !processAlive(tester.pid), 5_000, 'the killed server to exit');

    const again = await e2e.client(ws, 'tester');
    const retry = await again.call('invoke_capability', { capability: 'fixtures.record', params: { ms: 5000 }, idempotency_key: 'crash-2' });
    expect(retry.outcome).toMatchObject({ verdict: 'accepted', reasons: ['IDEMPOTENT_REPLAY'] });
    const decision = retry.outcome.replay_of as string;
    expect(records()).toEqual([decision]);
    const lineage = (await exportLedger(ws)).events.filter((e) => e.decision_id === decision);
    expect(lineage.map((e) => e.type)).toEqual(['IntentReceived', 'IntentValidated', 'PolicyDecided', 'ActionStarted', 'ActionOutcomeUnknown', 'ActionOutcome']);
    expect(lineage.at(-1)?.data).toMatchObject({ ok: true, settled_by: 'system:reconcile' });
    expect((await runCli(['ledger', 'verify', '-w', ws])).code).toBe(0);
  });
});
