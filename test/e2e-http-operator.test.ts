/**
 * Issue 4, the operator side of the HTTP service: the REST API (approvals,
 * interventions, agents, decisions, ledger; the viewer role is read-only),
 * GET /events (escalation then resolution, Last-Event-ID resumption, agent
 * filter, keepalive), /healthz, /readyz and /metrics.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { E2E, balance, transfer } from './helpers/e2e.js';
import { api, configureHttp, createKey, httpAgent, openSse, startHttp, streamEvent, type HttpAgent, type HttpServer, type SseReader } from './helpers/http.js';

const e2e = new E2E();
const agents: HttpAgent[] = [];
const streams: SseReader[] = [];
let ws: string;
let s: HttpServer;
let opKey: string;
let viewerKey: string;
let alice: HttpAgent;
let scribe: HttpAgent;

beforeAll(async () => {
  ws = await e2e.workspace();
  configureHttp(ws, { events: { keepalive_ms: 300, poll_ms: 50 } });
  const keys = await Promise.all([createKey(ws, { operator: 'anna' }), createKey(ws, { operator: 'vera', role: 'viewer' }), createKey(ws, { agent: 'alice' }), createKey(ws, { agent: 'scribe' })]);
  [opKey, viewerKey] = [keys[0].key, keys[1].key];
  s = await startHttp(ws);
  alice = await httpAgent(s.url, keys[2].key);
  scribe = await httpAgent(s.url, keys[3].key);
  agents.push(alice, scribe);
});

afterAll(async () => {
  for (const r of streams) r.close();
  await Promise.all(agents.map((a) => a.close().catch(() => undefined)));
  await s?.stop();
  await e2e.cleanup();
});

const escalate = async (amount: number, key: string) => {
  const g = await alice.call('invoke_capability', { capability: 'payments.transfer', params: transfer({ amount_minor: amount }), idempotency_key: key });
  expect(g.outcome.verdict).toBe('escalated');
  return g.outcome;
};

describe('health', () => {
  it('/healthz is alive; /readyz checks the store and the policies', async () => {
    expect((await api(s.url, null, '/healthz')).body).toEqual({ status: 'ok' });
    const ready = await api(s.url, null, '/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body).toEqual(expect.objectContaining({ ready: true, checks: { store: 'ok', policies: 'ok', accepting: 'ok' } }));
  });
});

describe('operator API', () => {
  it('whoami names the operator and role from the key', async () => {
    expect((await api(s.url, opKey, '/api/v1/whoami')).body).toEqual({ kind: 'operator', operator: 'anna', role: 'operator' });
    expect((await api(s.url, viewerKey, '/api/v1/whoami')).body).toEqual({ kind: 'operator', operator: 'vera', role: 'viewer' });
  });

  it('approvals: listed with capability, agent, dfid, policies, reason and expiry, params redacted; a viewer cannot approve (403); the operator approves once (then 409)', async () => {
    const before = balance(ws);
    const esc = await escalate(23_000, 'op-approve-1');
    const list = await api(s.url, viewerKey, '/api/v1/approvals');
    expect(list.status).toBe(200);
    const row = (list.body['approvals'] as Record<string, unknown>[]).find((a) => a['decision_id'] === esc.decision_id);
    expect(row).toEqual(
      expect.objectContaining({
        agent: 'alice',
        capability: 'payments.transfer',
        dfid: esc.dfid,
        policies: esc.policies,
        reason: 'transfers above 100.00 need a human approval',
        params: null,
        params_redacted: true,
        expires_at: esc.expires_at,
      }),
    );
    expect(JSON.stringify(list.body)).not.toContain('23000');

    const denied = await api(s.url, viewerKey, `/api/v1/approvals/${esc.decision_id}/approve`, { json: {} });
    expect(denied.status).toBe(403);
    expect(denied.body).toEqual({ error: expect.objectContaining({ code: 'READ_ONLY_ROLE' }) });
    expect(((await api(s.url, opKey, `/api/v1/approvals/${esc.decision_id}`)).body['approval'] as { status: string }).status).toBe('pending');
    expect(balance(ws)).toBe(before);

    const ok = await api(s.url, opKey, `/api/v1/approvals/${esc.decision_id}/approve`, { json: { reason: 'invoice 42 checked' } });
    expect(ok.status).toBe(200);
    expect(ok.body['outcome']).toEqual(expect.objectContaining({ decision_id: esc.decision_id, verdict: 'accepted', status: 'approved', output_redacted: true }));
    expect(balance(ws)).toBe(before - 23_000);
    const twice = await api(s.url, opKey, `/api/v1/approvals/${esc.decision_id}/approve`, { json: {} });
    expect(twice.status).toBe(409);
    expect(twice.body).toEqual({ error: expect.objectContaining({ code: 'DECISION_NOT_PENDING', status: 'approved' }) });
    const decision = await api(s.url, opKey, `/api/v1/decisions/${esc.decision_id}`);
    expect(decision.body['decision']).toEqual(expect.objectContaining({ status: 'approved', resolved_by: 'anna' }));
    // The agent sees it too.
    expect((await alice.call('get_decision', { decision_id: esc.decision_id })).outcome.status).toBe('approved');
  });

  it('deny, unknown decisions (404) and bad bodies (400, 415)', async () => {
    const esc = await escalate(24_000, 'op-deny-1');
    const denied = await api(s.url, opKey, `/api/v1/approvals/${esc.decision_id}/deny`, { json: { reason: 'no invoice' } });
    expect(denied.status).toBe(200);
    expect(denied.body['outcome']).toEqual(expect.objectContaining({ verdict: 'rejected', status: 'denied', reasons: ['ESCALATION_DENIED'] }));
    expect((await api(s.url, opKey, '/api/v1/approvals/nope/approve', { json: {} })).status).toBe(404);
    expect((await api(s.url, opKey, `/api/v1/approvals/${esc.decision_id}/approve`, { json: { reason: 5 } })).status).toBe(400);
    const text = await api(s.url, opKey, `/api/v1/approvals/${esc.decision_id}/approve`, { json: {}, headers: { 'Content-Type': 'text/plain' } });
    expect(text.status).toBe(415);
    expect((await api(s.url, opKey, '/api/v1/nothing')).status).toBe(404);
    expect((await api(s.url, opKey, '/api/v1/approvals', { json: {} })).status).toBe(405);
  });

  it('interventions: the operator pauses and resumes an agent (recorded as operator:anna); the viewer cannot (403)', async () => {
    expect((await api(s.url, viewerKey, '/api/v1/interventions', { json: { act: 'pause', agent: 'scribe' } })).status).toBe(403);
    const paused = await api(s.url, opKey, '/api/v1/interventions', { json: { act: 'pause', agent: 'scribe', reason: 'investigating' } });
    expect(paused.status).toBe(200);
    expect(paused.body['outcome']).toEqual(expect.objectContaining({ verdict: 'accepted', output: expect.objectContaining({ act: 'pause', agent_status: 'paused' }) }));
    const refused = await scribe.call('invoke_capability', { capability: 'files.write', params: { path: 'notes/a.md', content: 'x' } });
    expect(refused.outcome.reasons).toEqual(['AGENT_PAUSED']);

    const agentsList = await api(s.url, viewerKey, '/api/v1/agents');
    expect(agentsList.body['agents']).toEqual(expect.arrayContaining([expect.objectContaining({ agent: 'scribe', status: 'paused', status_updated_by: 'operator:anna', sessions: 1 })]));
    const list = await api(s.url, viewerKey, '/api/v1/interventions?limit=5');
    expect((list.body['interventions'] as Record<string, unknown>[])[0]).toEqual(expect.objectContaining({ act: 'pause', target_agent: 'scribe', issued_by: 'operator:anna', issuer_role: 'operator', state: 'applied' }));

    const bad = await api(s.url, opKey, '/api/v1/interventions', { json: { act: 'constrain', agent: 'alice', capability: 'payments.transfer', field: 'amount_minor', max: 10_000_000 } });
    expect(bad.status).toBe(422);
    expect((bad.body['outcome'] as { reasons: string[] }).reasons).toEqual(['INTERVENTION_NOT_ALLOWED']);
    expect((await api(s.url, opKey, '/api/v1/interventions', { json: { act: 'pause' } })).status).toBe(400);

    expect((await api(s.url, opKey, '/api/v1/interventions', { json: { act: 'resume', agent: 'scribe' } })).status).toBe(200);
    expect((await scribe.call('invoke_capability', { capability: 'files.write', params: { path: 'notes/a.md', content: 'x' } })).outcome.verdict).toBe('accepted');
  });

  it('ledger: pages and verification', async () => {
    const page = await api(s.url, viewerKey, '/api/v1/ledger?after=0&limit=3');
    expect((page.body['events'] as { seq: number }[]).map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(page.body['next_after']).toBe(3);
    const tail = await api(s.url, viewerKey, '/api/v1/ledger?tail=2');
    expect((tail.body['events'] as { seq: number }[]).map((e) => e.seq)).toEqual([(tail.body['head'] as number) - 1, tail.body['head']]);
    const verify = await api(s.url, viewerKey, '/api/v1/ledger/verify');
    expect(verify.body).toEqual(expect.objectContaining({ intact: true, events: tail.body['head'] }));
  });
});

describe('GET /events', () => {
  const sse = async (query = '', headers: Record<string, string> = {}) => {
    const r = await openSse(`${s.url}/events${query}`, { Authorization: `Bearer ${viewerKey}`, ...headers });
    streams.push(r);
    return r;
  };

  it('streams an escalation and then its resolution, with the ledger seq as the event id; keepalives arrive', async () => {
    const stream = await sse('?agent=alice');
    const esc = await escalate(25_000, 'sse-1');
    const opened = await stream.until(() => stream.messages.find((m) => m.event === 'escalation' && streamEvent(m).type === 'EscalationOpened' && streamEvent(m).decision_id === esc.decision_id), 10_000, 'EscalationOpened');
    expect(Number(opened.id)).toBe(streamEvent(opened).seq);
    expect(streamEvent(opened)).toEqual(expect.objectContaining({ category: 'escalation', agent: 'alice', concerns: 'alice', dfid: esc.dfid, reasons: ['ESCALATION_REQUIRED'] }));
    // Content-safe: hashes, ids and codes, never the params.
    expect(opened.data).not.toContain('25000');
    expect(opened.data).not.toContain('acme-supplies');

    await api(s.url, opKey, `/api/v1/approvals/${esc.decision_id}/approve`, { json: {} });
    const resolved = await stream.until(() => stream.messages.find((m) => streamEvent(m).type === 'EscalationResolved' && streamEvent(m).decision_id === esc.decision_id), 10_000, 'EscalationResolved');
    expect(streamEvent(resolved).data).toEqual(expect.objectContaining({ resolution: 'approved', by: 'anna' }));
    expect(Number(resolved.id)).toBeGreaterThan(Number(opened.id));
    await stream.until(() => (stream.comments.some((c) => c.startsWith('keepalive')) ? true : undefined), 3_000, 'a keepalive comment');
  });

  it('resumes exactly after Last-Event-ID: nothing missed, nothing repeated', async () => {
    const first = await sse('?category=decision,escalation,intervention,system');
    await alice.call('invoke_capability', { capability: 'payments.get_balance', params: { account: 'operating' } });
    const got = await first.until(() => first.messages.find((m) => streamEvent(m).type === 'ActionOutcome'), 10_000, 'ActionOutcome');
    first.close();
    const lastId = got.id as string;

    // Events happen while nobody listens.
    const missed = await alice.call('invoke_capability', { capability: 'payments.get_balance', params: { account: 'operating' } });
    const resumed = await sse('?category=decision,escalation,intervention,system', { 'Last-Event-ID': lastId });
    await resumed.until(() => resumed.messages.find((m) => streamEvent(m).decision_id === missed.outcome.decision_id && streamEvent(m).type === 'ActionOutcome'), 10_000, 'the missed outcome');
    const seqs = resumed.messages.map((m) => Number(m.id));
    expect(seqs[0]).toBe(Number(lastId) + 1);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(seqs.length);
    // Contiguous: with every category, the stream is the ledger itself.
    expect(seqs).toEqual(seqs.map((_, i) => Number(lastId) + 1 + i));
  });

  it('filters by agent: scribe\'s events do not reach an ?agent=alice stream; an operator\'s intervention on alice does', async () => {
    const onlyAlice = await sse('?agent=alice');
    const everyone = await sse('');
    const w = await scribe.call('invoke_capability', { capability: 'files.write', params: { path: 'notes/b.md', content: 'y' } });
    await api(s.url, opKey, '/api/v1/interventions', { json: { act: 'pause', agent: 'alice', reason: 'filter test' } });
    await onlyAlice.until(() => onlyAlice.messages.find((m) => streamEvent(m).type === 'InterventionApplied'), 10_000, 'the intervention on alice');
    await everyone.until(() => everyone.messages.find((m) => streamEvent(m).decision_id === w.outcome.decision_id), 10_000, "scribe's decision on the unfiltered stream");
    const applied = onlyAlice.messages.map(streamEvent).find((e) => e.type === 'InterventionApplied');
    expect(applied).toEqual(expect.objectContaining({ agent: 'operator:anna', concerns: 'alice', category: 'intervention' }));
    expect(onlyAlice.messages.map(streamEvent).every((e) => e.concerns === 'alice')).toBe(true);
    expect(onlyAlice.messages.some((m) => streamEvent(m).decision_id === w.outcome.decision_id)).toBe(false);
    await api(s.url, opKey, '/api/v1/interventions', { json: { act: 'resume', agent: 'alice' } });
  });

  it('refuses a bad Last-Event-ID, an unknown category and an oversized backlog (400)', async () => {
    expect((await api(s.url, viewerKey, '/events', { headers: { 'Last-Event-ID': 'abc' } })).status).toBe(400);
    expect((await api(s.url, viewerKey, '/events?category=secrets')).status).toBe(400);
    expect((await api(s.url, viewerKey, '/events?backlog=100000')).status).toBe(400);
  });
});

describe('/metrics', () => {
  it('exposes decisions by verdict and reason, stage latencies, circuit states, rate-limit rejections and pending approvals', async () => {
    await escalate(26_000, 'metrics-pending');
    const res = await fetch(`${s.url}/metrics`, { signal: AbortSignal.timeout(5_000) });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await res.text();
    expect(text).toMatch(/^mandate_decisions_total\{verdict="accepted",reason="none"\} [1-9]/m);
    expect(text).toMatch(/^mandate_decisions_total\{verdict="escalated",reason="ESCALATION_REQUIRED"\} [1-9]/m);
    expect(text).toMatch(/^mandate_decisions_total\{verdict="rejected",reason="AGENT_PAUSED"\} 1$/m);
    for (const stage of ['received', 'checks', 'facts', 'dim', 'policy', 'escalate', 'reserve', 'pre_effect', 'handler', 'record']) {
      expect(text, stage).toMatch(new RegExp(`^mandate_pipeline_stage_duration_seconds_count\\{stage="${stage}"\\} [1-9]`, 'm'));
    }
    expect(text).toMatch(/^mandate_decision_duration_seconds_bucket\{le="0\.1",verdict="accepted"\} \d+/m);
    expect(text).toMatch(/^mandate_circuit_state\{capability="payments\.transfer"\} 0$/m);
    expect(text).toMatch(/^# TYPE mandate_rate_limit_rejections_total counter$/m);
    expect(text).toMatch(/^mandate_pending_approvals [1-9]/m);
    expect(text).toMatch(/^mandate_mcp_sessions 2$/m);
    expect(text).toMatch(/^mandate_http_requests_total\{route="api",status="200"\} [1-9]/m);
  });
});
