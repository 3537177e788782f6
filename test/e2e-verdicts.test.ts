/**
 * Issue 2, requirement 3: every governed result carries verdict, reasons,
 * dfid, decision_id and a receipt (output when accepted); rejections are
 * isError results that still carry them. Each reason code is produced by a
 * real SDK client calling the built server over stdio, and side effects are
 * checked on disk.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addFixtures, balance, E2E, readBooks, runCli, transfer, type AgentClient, type Governed } from './helpers/e2e.js';

const SLOW_MODULE = `// Test fixture: a slow capability that counts its runs.
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';

export default function define({ z }) {
  return [
    {
      id: 'fixtures.slow',
      version: '1.0.0',
      description: 'Sleeps for the given time, then answers; counts its runs.',
      sideEffect: 'write',
      input: z.object({ ms: z.number().int().min(0).max(4000) }),
      output: z.object({ slept: z.number().int() }),
      limits: { deadlineMs: 5000 },
      async handler(params, ctx) {
        appendFileSync(join(ctx.workspaceDir, 'slow-runs.txt'), 'run\\n');
        await new Promise((resolve) => setTimeout(resolve, params.ms));
        return { slept: params.ms };
      },
    },
  ];
}
`;

const TESTER_CONTRACT = `# Test fixture contract.
agent: tester
version: 1
owner: qa@example.com
mission: Exercise fixture capabilities in end-to-end tests.
role: agent
grants:
  - capability: fixtures.slow
`;

/** Asserts the fields every governed result carries, and that text content mirrors structured content. */
function expectGoverned(g: Governed, verdict: 'accepted' | 'rejected' | 'escalated'): void {
  const o = g.outcome;
  expect(g.result.structuredContent, 'structuredContent present').toBeDefined();
  expect(o.verdict).toBe(verdict);
  expect(g.isError).toBe(verdict === 'rejected');
  expect(Array.isArray(o.reasons)).toBe(true);
  expect(o.dfid).toMatch(/^[0-9a-f]{32}$/);
  expect(o.decision_id).toMatch(/\S/);
  expect(o.receipt?.seq).toBeGreaterThan(0);
  expect(o.receipt?.hash).toMatch(/^[0-9a-f]{64}$/);
  if (verdict === 'accepted') {
    expect(o.reasons.filter((r) => r !== 'IDEMPOTENT_REPLAY')).toEqual([]);
    expect(o.output).toBeDefined();
  } else {
    expect(o.reasons.length).toBeGreaterThan(0);
    expect(o.output).toBeUndefined();
    for (const d of o.details) expect(o.reasons).toContain(d.code);
  }
  const text = (g.result.content as { type: string; text: string }[])[0];
  expect(text?.type).toBe('text');
  expect(JSON.parse(text?.text ?? 'null')).toEqual(g.result.structuredContent);
}

const sorted = (xs: string[]) => [...xs].sort();

const e2e = new E2E();
afterAll(() => e2e.cleanup());

describe('governed verdicts over stdio', () => {
  let ws: string;
  let alice: AgentClient;
  let scribe: AgentClient;
  let supervisor: AgentClient;
  let tester: AgentClient;

  beforeAll(async () => {
    ws = await e2e.workspace();
    addFixtures(ws, { capabilities: { 'fixtures.mjs': SLOW_MODULE }, contracts: { 'tester.yaml': TESTER_CONTRACT } });
    [alice, scribe, supervisor, tester] = await Promise.all([
      e2e.client(ws, 'alice'),
      e2e.client(ws, 'scribe'),
      e2e.client(ws, 'supervisor'),
      e2e.client(ws, 'tester'),
    ]);
  });

  it('accepted: a transfer runs and the balance in data/books.json really changes', async () => {
    const before = readBooks(ws);
    const g = await alice.call('invoke_capability', { capability: 'payments.transfer', params: transfer({ amount_minor: 1550 }) });
    expectGoverned(g, 'accepted');
    expect(g.outcome.status).toBe('accepted');
    expect(g.outcome.capability).toBe('payments.transfer');
    const after = readBooks(ws);
    expect(after.accounts['operating']?.balance_minor).toBe((before.accounts['operating']?.balance_minor ?? 0) - 1550);
    expect(after.version).toBe(before.version + 1);
    expect(g.outcome.output).toEqual({ transfer_id: `t-${after.version}`, balance_minor: after.accounts['operating']?.balance_minor, version: String(after.version) });
    expect(after.transfers.at(-1)).toEqual(expect.objectContaining({ payee: 'acme-supplies', amount_minor: 1550, dfid: g.outcome.dfid }));
    expect(g.outcome.policies).toContain('contract.alice.grant.payments.transfer');
  });

  it('SCHEMA_INVALID: amount_minor as a string', async () => {
    const before = balance(ws);
    const g = await alice.call('invoke_capability', { capability: 'payments.transfer', params: transfer({ amount_minor: '1550' }) });
    expectGoverned(g, 'rejected');
    expect(g.outcome.reasons).toEqual(['SCHEMA_INVALID']);
    expect(g.outcome.details[0]?.path).toBe('params.amount_minor');
    expect(balance(ws)).toBe(before);
  });

  it('CAPABILITY_NOT_GRANTED: alice calls files.write', async () => {
    const g = await alice.call('invoke_capability', { capability: 'files.write', params: { path: 'notes/a.md', content: 'hi' } });
    expectGoverned(g, 'rejected');
    expect(g.outcome.reasons).toEqual(['CAPABILITY_NOT_GRANTED']);
    expect(existsSync(join(ws, 'sandbox', 'notes', 'a.md'))).toBe(false);
  });

  it('CAPABILITY_UNKNOWN: a capability nobody defines', async () => {
    const g = await alice.call('submit_intent', { capability: 'payments.refund', params: { amount_minor: 1 } });
    expectGoverned(g, 'rejected');
    expect(g.outcome.reasons).toEqual(['CAPABILITY_UNKNOWN']);
  });

  it('CONTRACT_LIMIT_EXCEEDED: 1550000 (the "15.5 became 15,500" case) and currency USD', async () => {
    const before = balance(ws);
    const big = await alice.call('invoke_capability', { capability: 'payments.transfer', params: transfer({ amount_minor: 1_550_000 }) });
    expectGoverned(big, 'rejected');
    expect(big.outcome.reasons).toContain('CONTRACT_LIMIT_EXCEEDED');
    expect(big.outcome.details).toContainEqual(expect.objectContaining({ code: 'CONTRACT_LIMIT_EXCEEDED', path: 'amount_minor' }));
    // DIM reports every failed check, not only the first: the daily budget and the funds invariant fail too.
    expect(sorted(big.outcome.reasons)).toEqual(['BUDGET_EXCEEDED', 'CONTRACT_LIMIT_EXCEEDED', 'INVARIANT_VIOLATED']);
    expect(big.outcome.details).toContainEqual(expect.objectContaining({ code: 'INVARIANT_VIOLATED', invariant: 'sufficient_funds' }));

    const usd = await alice.call('invoke_capability', { capability: 'payments.transfer', params: transfer({ amount_minor: 1550, currency: 'USD' }) });
    expectGoverned(usd, 'rejected');
    expect(usd.outcome.details).toContainEqual(expect.objectContaining({ code: 'CONTRACT_LIMIT_EXCEEDED', path: 'currency' }));
    expect(sorted(usd.outcome.reasons)).toEqual(['CONTRACT_LIMIT_EXCEEDED', 'INVARIANT_VIOLATED']);
    expect(balance(ws)).toBe(before);
  });

  it('PAYLOAD_TOO_LARGE: an intent above limits.max_payload_bytes is refused before its schema is read', async () => {
    const g = await alice.call('submit_intent', { capability: 'payments.transfer', params: transfer({ memo: 'm'.repeat(70_000) }) });
    expectGoverned(g, 'rejected');
    expect(g.outcome.reasons).toEqual(['PAYLOAD_TOO_LARGE']);
  });

  it('STATE_DRIFT: observed_version from an older get_balance after another transfer', async () => {
    const read = await alice.call('invoke_capability', { capability: 'payments.get_balance', params: { account: 'operating' } });
    expectGoverned(read, 'accepted');
    const seen = (read.outcome.output as { version: string }).version;
    expect(seen).toBe(String(readBooks(ws).version));

    const fresh = await alice.call('submit_intent', { capability: 'payments.transfer', params: transfer({ amount_minor: 200 }), observed_version: seen });
    expectGoverned(fresh, 'accepted');
    const before = balance(ws);
    const stale = await alice.call('submit_intent', { capability: 'payments.transfer', params: transfer({ amount_minor: 300 }), observed_version: seen });
    expectGoverned(stale, 'rejected');
    expect(stale.outcome.reasons).toEqual(['STATE_DRIFT']);
    expect(stale.outcome.details[0]?.path).toBe('observed_version');
    expect(balance(ws)).toBe(before);
  });

  it('TTL_EXPIRED: created_at an hour ago with ttl_seconds 60', async () => {
    const before = balance(ws);
    const g = await alice.call('submit_intent', {
      capability: 'payments.transfer',
      params: transfer({ amount_minor: 100 }),
      created_at: new Date(Date.now() - 3_600_000).toISOString(),
      ttl_seconds: 60,
    });
    expectGoverned(g, 'rejected');
    expect(g.outcome.reasons).toEqual(['TTL_EXPIRED']);
    expect(balance(ws)).toBe(before);
  });

  it('POLICY_FORBID: payee shady-llc is blocked in the books', async () => {
    const before = balance(ws);
    const g = await alice.call('invoke_capability', { capability: 'payments.transfer', params: transfer({ payee: 'shady-llc', amount_minor: 100 }) });
    expectGoverned(g, 'rejected');
    expect(g.outcome.reasons).toEqual(['POLICY_FORBID']);
    expect(g.outcome.policies).toContain('forbid-blocked-payees');
    expect(balance(ws)).toBe(before);
  });

  it('AGENT_PAUSED: a supervisor pauses alice over its own server; alice cannot resume herself; an operator can', async () => {
    const paused = await supervisor.call('intervene', { action: 'pause', agent: 'alice', reason: 'suspicious pattern' });
    expectGoverned(paused, 'accepted');
    expect(paused.outcome.output).toEqual(expect.objectContaining({ act: 'pause', target: 'alice', agent_status: 'paused' }));

    const before = readBooks(ws);
    const refused = await alice.call('invoke_capability', { capability: 'payments.transfer', params: transfer({ amount_minor: 100 }) });
    expectGoverned(refused, 'rejected');
    // Refused before any other check: even an invalid call says only AGENT_PAUSED.
    expect(refused.outcome.reasons).toEqual(['AGENT_PAUSED']);
    const invalid = await alice.call('invoke_capability', { capability: 'payments.transfer', params: transfer({ amount_minor: 'lots' }) });
    expect(invalid.outcome.reasons).toEqual(['AGENT_PAUSED']);
    const tool = await alice.call('payments_transfer', transfer({ amount_minor: 100 }));
    expect(tool.outcome.reasons).toEqual(['AGENT_PAUSED']);
    expect(readBooks(ws)).toEqual(before);

    const self = await alice.call('intervene', { action: 'resume', agent: 'alice', reason: 'I am fine' });
    expectGoverned(self, 'rejected');
    expect(self.outcome.reasons).toEqual(['INTERVENTION_NOT_ALLOWED']);
    const still = await alice.call('invoke_capability', { capability: 'payments.get_balance', params: { account: 'operating' } });
    expect(still.outcome.reasons).toEqual(['AGENT_PAUSED']);

    // Scribe is not a supervisor: it cannot resume alice either.
    const other = await scribe.call('intervene', { action: 'resume', agent: 'alice', reason: 'helping' });
    expect(other.outcome.reasons).toEqual(['INTERVENTION_NOT_ALLOWED']);

    const op = await runCli(['intervene', 'resume', '--agent', 'alice', '--as', 'ops-anna', '--reason', 'checked', '-w', ws]);
    expect(op.code, op.stderr).toBe(0);
    expect(JSON.parse(op.stdout)).toEqual(expect.objectContaining({ verdict: 'accepted', output: expect.objectContaining({ agent_status: 'active' }) }));
    const again = await alice.call('invoke_capability', { capability: 'payments.transfer', params: transfer({ amount_minor: 100 }) });
    expectGoverned(again, 'accepted');
    expect(balance(ws)).toBe((before.accounts['operating']?.balance_minor ?? 0) - 100);
  });

  it('IDEMPOTENCY_CONFLICT: the same key with different params', async () => {
    const first = await alice.call('invoke_capability', { capability: 'payments.transfer', params: transfer({ amount_minor: 110 }), idempotency_key: 'conflict-1' });
    expectGoverned(first, 'accepted');
    const before = balance(ws);
    const second = await alice.call('invoke_capability', { capability: 'payments.transfer', params: transfer({ amount_minor: 120 }), idempotency_key: 'conflict-1' });
    expectGoverned(second, 'rejected');
    expect(second.outcome.reasons).toEqual(['IDEMPOTENCY_CONFLICT']);
    expect(balance(ws)).toBe(before);
  });

  it('idempotent replay: the same key twice returns the recorded output, replay_of, and moves money once', async () => {
    const before = balance(ws);
    const args = { capability: 'payments.transfer', params: transfer({ amount_minor: 130 }), idempotency_key: 'replay-1' };
    const first = await alice.call('invoke_capability', args);
    expectGoverned(first, 'accepted');
    expect(first.outcome.reasons).toEqual([]);
    const second = await alice.call('invoke_capability', args);
    expectGoverned(second, 'accepted');
    expect(second.outcome.reasons).toEqual(['IDEMPOTENT_REPLAY']);
    expect(second.outcome.output).toEqual(first.outcome.output);
    expect(second.outcome.replay_of).toBe(first.outcome.decision_id);
    expect(second.outcome.decision_id).not.toBe(first.outcome.decision_id);
    expect(second.outcome.receipt?.seq).toBeGreaterThan(first.outcome.receipt?.seq ?? Infinity);
    expect(balance(ws)).toBe(before - 130);
    // The key may also come from _meta.
    const viaMeta = await alice.call('invoke_capability', { capability: 'payments.transfer', params: transfer({ amount_minor: 130 }) }, { idempotency_key: 'replay-1' });
    expect(viaMeta.outcome.reasons).toEqual(['IDEMPOTENT_REPLAY']);
    expect(balance(ws)).toBe(before - 130);
    expect(readBooks(ws).transfers.filter((t) => t.dfid === first.outcome.dfid)).toHaveLength(1);
  });

  it('IN_PROGRESS: two concurrent calls with the same key on a slow capability; the handler runs once', async () => {
    const runs = () => (existsSync(join(ws, 'slow-runs.txt')) ? readFileSync(join(ws, 'slow-runs.txt'), 'utf8').split('\n').filter(Boolean).length : 0);
    const before = runs();
    const args = { capability: 'fixtures.slow', params: { ms: 1500 }, idempotency_key: 'slow-1' };
    const [a, b] = await Promise.all([tester.call('invoke_capability', args), tester.call('invoke_capability', args)]);
    const accepted = [a, b].filter((g) => g.outcome.verdict === 'accepted');
    const busy = [a, b].filter((g) => g.outcome.verdict === 'rejected');
    expect(accepted).toHaveLength(1);
    expect(busy).toHaveLength(1);
    expectGoverned(accepted[0] as Governed, 'accepted');
    expectGoverned(busy[0] as Governed, 'rejected');
    expect(busy[0]?.outcome.reasons).toEqual(['IN_PROGRESS']);
    expect(busy[0]?.outcome.replay_of).toBe(accepted[0]?.outcome.decision_id);
    expect(runs()).toBe(before + 1);
    // Once finished, the same key replays the recorded outcome.
    const later = await tester.call('invoke_capability', args);
    expect(later.outcome.reasons).toEqual(['IDEMPOTENT_REPLAY']);
    expect(later.outcome.output).toEqual({ slept: 1500 });
    expect(runs()).toBe(before + 1);
  });

  it('the per-capability tool payments_transfer goes through the same pipeline (accepted and a limit rejection)', async () => {
    const before = balance(ws);
    const ok = await alice.call('payments_transfer', { ...transfer({ amount_minor: 140 }), mandate: { idempotency_key: 'tool-1', rationale: 'invoice 42' } });
    expectGoverned(ok, 'accepted');
    expect(ok.outcome.capability).toBe('payments.transfer');
    expect(ok.outcome.idempotency_key).toBe('tool-1');
    expect(balance(ws)).toBe(before - 140);
    const replay = await alice.call('invoke_capability', { capability: 'payments.transfer', params: transfer({ amount_minor: 140 }), idempotency_key: 'tool-1' });
    expect(replay.outcome.reasons).toEqual(['IDEMPOTENT_REPLAY']);

    const over = await alice.call('payments_transfer', transfer({ amount_minor: 60_000 }));
    expectGoverned(over, 'rejected');
    expect(over.outcome.reasons).toEqual(['CONTRACT_LIMIT_EXCEEDED']);
    const bad = await alice.call('payments_transfer', transfer({ amount_minor: '140' }));
    expectGoverned(bad, 'rejected');
    expect(bad.outcome.reasons).toEqual(['SCHEMA_INVALID']);
    expect(balance(ws)).toBe(before - 140);
  });

  it('files.write: inside the sandbox it writes; ../escape.txt is INVARIANT_VIOLATED; notes/x.sh is POLICY_FORBID', async () => {
    const ok = await scribe.call('invoke_capability', { capability: 'files.write', params: { path: 'notes/today.md', content: '# Today\n' } });
    expectGoverned(ok, 'accepted');
    expect(readFileSync(join(ws, 'sandbox', 'notes', 'today.md'), 'utf8')).toBe('# Today\n');

    const escape = await scribe.call('invoke_capability', { capability: 'files.write', params: { path: '../escape.txt', content: 'out' } });
    expectGoverned(escape, 'rejected');
    expect(escape.outcome.reasons).toEqual(['INVARIANT_VIOLATED']);
    expect(escape.outcome.details).toContainEqual(expect.objectContaining({ invariant: 'inside_sandbox' }));
    expect(existsSync(join(ws, 'escape.txt'))).toBe(false);
    expect(existsSync(join(ws, 'sandbox', '..', 'escape.txt'))).toBe(false);

    const script = await scribe.call('files_write', { path: 'notes/x.sh', content: 'rm -rf /' });
    expectGoverned(script, 'rejected');
    expect(script.outcome.reasons).toEqual(['POLICY_FORBID']);
    expect(script.outcome.policies).toContain('forbid-executable-files');
    expect(existsSync(join(ws, 'sandbox', 'notes', 'x.sh'))).toBe(false);
  });
});
