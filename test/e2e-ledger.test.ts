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

/**
 * The hash an exported event must carry, recomputed independently of src/: for an event alone (ADR-002), SHA-256
 * over RFC 8785 JSON of its logical fields; for the events of a commit point's record (ADR-021), SHA-256 over RFC
 * 8785 JSON of { dfid, events, first_seq, prev_hash, seq, v: 2 }, the events without their chain fields.
 */
function recomputeHash(e: LedgerEvent, all: LedgerEvent[]): string {
  const sha = (v: unknown) => createHash('sha256').update(canonicalize(v)).digest('hex');
  if (!e.record) {
    const { seq, id, dfid, agent, type, time, decision_id, reasons, data, prev_hash } = e;
    return sha({ seq, id, dfid, agent, type, time, decision_id, reasons, data, prev_hash });
  }
  const { first_seq, last_seq } = e.record;
  const members = all.filter((x) => x.seq >= first_seq && x.seq <= last_seq);
  const events = members.map(({ id, dfid, agent, type, time, decision_id, reasons, data }) => ({ id, dfid, agent, type, time, decision_id, reasons, data }));
  const dfid = members.every((x) => x.dfid === e.dfid) ? e.dfid : '*';
  return sha({ dfid, events, first_seq, prev_hash: e.prev_hash, seq: last_seq, v: 2 });
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
      // An event starts a record, or is alone, or follows its record's first: the chain links records.
      const first = !e.record || e.record.first_seq === e.seq;
      expect(e.prev_hash).toBe(first ? (i === 0 ? GENESIS : events[i - 1]?.hash) : events[i - 1]?.prev_hash);
      expect(e.hash).toMatch(/^[0-9a-f]{64}$/);
      expect(recomputeHash(e, events), `seq ${e.seq}`).toBe(e.hash);
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
    // Rows are commit points' records (ADR-021): the row holding seq 4 is the one ending at or after it.
    let target = { seq: 0, first_seq: null as number | null };
    try {
      const count = (db.prepare('SELECT COUNT(*) AS n FROM events').get() as { n: number }).n;
      target = (db.prepare('SELECT seq, first_seq FROM events WHERE seq >= 4 ORDER BY seq LIMIT 1').get() as { seq: number; first_seq: number | null });
      expect(() => db.prepare("UPDATE events SET type = 'X' WHERE seq = ?").run(target.seq)).toThrow(/append-only/);
      expect(() => db.prepare('DELETE FROM events WHERE seq = ?').run(target.seq)).toThrow(/append-only/);
      expect(() => db.prepare('DELETE FROM events').run()).toThrow(/append-only/);
      expect((db.prepare('SELECT COUNT(*) AS n FROM events').get() as { n: number }).n).toBe(count);
      expect((await runCli(['ledger', 'verify', '-w', ws])).code).toBe(0);

      // An attacker with file access drops the triggers and edits one event's data (in its record, the last event's).
      db.exec('DROP TRIGGER events_no_update; DROP TRIGGER events_no_delete;');
      const row = db.prepare('SELECT data FROM events WHERE seq = ?').get(target.seq) as { data: string };
      const data = JSON.parse(row.data) as { data: Record<string, unknown> }[];
      const last = data[data.length - 1] as { data: Record<string, unknown> };
      last.data = { ...last.data, tampered: true };
      db.prepare('UPDATE events SET data = ? WHERE seq = ?').run(canonicalize(data), target.seq);
    } finally {
      db.close();
    }
    const r = await runCli(['ledger', 'verify', '-w', ws]);
    expect(r.code).toBe(1);
    // A record is named by its first event.
    expect(r.stdout).toMatch(new RegExp(`BROKEN at seq ${target.first_seq ?? target.seq}\\b`));
    expect(r.stdout).toContain('hash does not match');
  });
});
