/**
 * Issue 2, ledger: append-only, hash-chained, content-safe, verified and
 * exported through the CLI; the caller's W3C traceparent becomes the dfid of
 * every event of its flow; tampering is detected and named.
 */
import Database from 'better-sqlite3';
import canonicalizeImport from 'canonicalize';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { E2E, exportLedger, runCli, traceparent, transfer, type AgentClient, type LedgerEvent } from './helpers/e2e.js';

const canonicalize = canonicalizeImport as unknown as (value: unknown) => string;
const SECRET_MEMO = 'SECRET-MEMO-123';
const SECRET_RATIONALE = 'RATIONALE-TEXT-456';
const GENESIS = '0'.repeat(64);

/** The hash ADR-002 specifies, recomputed independently of src/: SHA-256 over RFC 8785 JSON of the logical fields. */
function recomputeHash(e: LedgerEvent): string {
  const { seq, id, dfid, agent, type, time, decision_id, reasons, data, prev_hash } = e;
  return createHash('sha256').update(canonicalize({ seq, id, dfid, agent, type, time, decision_id, reasons, data, prev_hash })).digest('hex');
}

const e2e = new E2E();
afterAll(() => e2e.cleanup());

describe('the ledger', () => {
  let ws: string;
  let alice: AgentClient;
  let scribe: AgentClient;
  let supervisor: AgentClient;
  const tp = traceparent();
  let tracedDecision = '';

  beforeAll(async () => {
    ws = await e2e.workspace();
    // Trace-level logging: even the most verbose logs must not carry argument values.
    [alice, scribe, supervisor] = await Promise.all([
      e2e.client(ws, 'alice', { logLevel: 'trace' }),
      e2e.client(ws, 'scribe', { logLevel: 'trace' }),
      e2e.client(ws, 'supervisor', { logLevel: 'trace' }),
    ]);
    // A scenario touching every kind of step, with secrets in params and rationale.
    const memo = { memo: SECRET_MEMO };
    const traced = await alice.call(
      'submit_intent',
      { capability: 'payments.transfer', params: transfer({ amount_minor: 1234, ...memo }), rationale: SECRET_RATIONALE, idempotency_key: 'ledger-1' },
      { traceparent: tp.traceparent },
    );
    expect(traced.outcome.verdict).toBe('accepted');
    tracedDecision = traced.outcome.decision_id;
    await alice.call('submit_intent', { capability: 'payments.transfer', params: transfer({ amount_minor: 1234, ...memo }), idempotency_key: 'ledger-1' });
    expect((await alice.call('invoke_capability', { capability: 'payments.transfer', params: transfer({ amount_minor: 99_999, ...memo }) })).outcome.verdict).toBe('rejected');
    expect((await alice.call('invoke_capability', { capability: 'payments.transfer', params: transfer({ amount_minor: 20_000, ...memo }) })).outcome.verdict).toBe('escalated');
    expect((await alice.call('invoke_capability', { capability: 'payments.transfer', params: transfer({ payee: 'shady-llc', ...memo }) })).outcome.reasons).toEqual(['POLICY_FORBID']);
    expect((await alice.call('payments_transfer', transfer({ amount_minor: '12', ...memo }))).outcome.reasons).toEqual(['SCHEMA_INVALID']);
    expect((await scribe.call('invoke_capability', { capability: 'files.write', params: { path: 'notes/secret.md', content: SECRET_MEMO } })).outcome.verdict).toBe('accepted');
    expect((await alice.call('read_memory', { scope: 'suppliers', key: 'acme-supplies' })).outcome.verdict).toBe('accepted');
    expect((await supervisor.call('intervene', { action: 'pause', agent: 'scribe', reason: SECRET_MEMO })).outcome.verdict).toBe('accepted');
    expect((await supervisor.call('intervene', { action: 'resume', agent: 'scribe', reason: 'ok' })).outcome.verdict).toBe('accepted');
  });

  it('ledger verify exits 0 after a scenario', async () => {
    const r = await runCli(['ledger', 'verify', '-w', ws]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/ledger intact: \d+ events/);
  });

  it('ledger export: every line has seq, dfid, type, prev_hash, hash, and the chain links and recomputes', async () => {
    const { events, raw } = await exportLedger(ws);
    expect(raw.endsWith('\n')).toBe(true);
    expect(events.length).toBeGreaterThan(20);
    events.forEach((e, i) => {
      expect(e.seq).toBe(i + 1);
      expect(e.dfid).toMatch(/^[0-9a-f]{32}$/);
      expect(typeof e.type).toBe('string');
      expect(e.prev_hash).toBe(i === 0 ? GENESIS : events[i - 1]?.hash);
      expect(e.hash).toMatch(/^[0-9a-f]{64}$/);
      expect(recomputeHash(e), `seq ${e.seq}`).toBe(e.hash);
    });
    const types = new Set(events.map((e) => e.type));
    for (const t of ['IntentReceived', 'IntentValidated', 'IntentRejected', 'PolicyDecided', 'EscalationOpened', 'ActionStarted', 'ActionOutcome', 'IntentReplayed', 'MemoryRead', 'InterventionIssued', 'InterventionApplied']) {
      expect(types, t).toContain(t);
    }
    // --from pages the same chain.
    const from = await runCli(['ledger', 'export', '--from', '5', '-w', ws]);
    expect(from.stdout.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as LedgerEvent).seq)[0]).toBe(5);
  });

  it('the ledger and the server logs hold no param values (memo, rationale, file content, reasons)', async () => {
    const { raw } = await exportLedger(ws);
    expect(raw).not.toContain(SECRET_MEMO);
    expect(raw).not.toContain(SECRET_RATIONALE);
    expect(raw).not.toContain('acme-supplies');
    expect(raw).not.toContain('Acme Supplies Ltd'); // a memory value
    const logs = alice.stderr() + scribe.stderr() + supervisor.stderr();
    expect(logs.length).toBeGreaterThan(0);
    expect(logs).not.toContain(SECRET_MEMO);
    expect(logs).not.toContain(SECRET_RATIONALE);
    expect(logs).not.toContain('acme-supplies');
    expect(logs).not.toContain('Acme Supplies Ltd');
    // The tail view is content-safe too.
    const tail = await runCli(['ledger', 'tail', '-n', '1000', '-w', ws]);
    expect(tail.code).toBe(0);
    expect(tail.stdout).not.toContain(SECRET_MEMO);
  });

  it('a W3C traceparent in _meta becomes the dfid on every event of that flow, and on its log lines', async () => {
    const { events } = await exportLedger(ws);
    const flow = events.filter((e) => e.decision_id === tracedDecision);
    expect(flow.map((e) => e.type)).toEqual(['IntentReceived', 'IntentValidated', 'PolicyDecided', 'ActionStarted', 'ActionOutcome']);
    for (const e of flow) expect(e.dfid).toBe(tp.traceId);
    // Nothing else carries that dfid.
    expect(events.filter((e) => e.dfid === tp.traceId).map((e) => e.seq)).toEqual(flow.map((e) => e.seq));
    // The decision records the policy set it was decided under and which policies matched.
    const policy = flow.find((e) => e.type === 'PolicyDecided');
    expect(policy?.data).toEqual(expect.objectContaining({ decision: 'permit', policy_set_hash: expect.stringMatching(/^[0-9a-f]{64}$/) }));
    expect(policy?.data['policies']).toContain('contract.alice.grant.payments.transfer');

    const lines = alice
      .stderr()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const traced = lines.filter((l) => l['dfid'] === tp.traceId);
    expect(traced.length).toBeGreaterThanOrEqual(3);
    // Every decision-step log line carries a dfid.
    for (const l of lines.filter((x) => typeof x['step'] === 'string')) expect(l['dfid'], JSON.stringify(l)).toMatch(/^[0-9a-f]{32}$/);
  });

  it('UPDATE and DELETE on the events table throw; tampering makes verify exit 1 naming the seq', async () => {
    await Promise.all([alice.close(), scribe.close(), supervisor.close()]);
    const dbPath = join(ws, 'mandate.db');
    const db = new Database(dbPath);
    try {
      const count = (db.prepare('SELECT COUNT(*) AS n FROM events').get() as { n: number }).n;
      expect(() => db.prepare("UPDATE events SET type = 'X' WHERE seq = 3").run()).toThrow(/append-only/);
      expect(() => db.prepare('DELETE FROM events WHERE seq = 3').run()).toThrow(/append-only/);
      expect(() => db.prepare('DELETE FROM events').run()).toThrow(/append-only/);
      expect((db.prepare('SELECT COUNT(*) AS n FROM events').get() as { n: number }).n).toBe(count);
      expect((await runCli(['ledger', 'verify', '-w', ws])).code).toBe(0);

      // An attacker with file access drops the triggers and edits one event's data.
      const target = 4;
      db.exec('DROP TRIGGER events_no_update; DROP TRIGGER events_no_delete;');
      const row = db.prepare('SELECT data FROM events WHERE seq = ?').get(target) as { data: string };
      const data = JSON.parse(row.data) as Record<string, unknown>;
      db.prepare('UPDATE events SET data = ? WHERE seq = ?').run(JSON.stringify({ ...data, tampered: true }), target);
    } finally {
      db.close();
    }
    const r = await runCli(['ledger', 'verify', '-w', ws]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/BROKEN at seq 4\b/);
    expect(r.stdout).toContain('hash does not match');
  });
});
