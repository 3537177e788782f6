// Issue 4: the HTTP edge's pure parts, in process: rate limiter, Host/Origin
// guard, bearer parsing, body limit, the per-session SQLite event store, the
// operator views' redaction, the config schema, and the kernel's observer hooks.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { IncomingMessage } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { WorkspaceConfigSchema } from '../../src/config/workspace-schema.js';
import { silentLogger } from '../../src/core/log.js';
import type { Outcome } from '../../src/core/types.js';
import { hashKey, looksLikeKey, mintKey } from '../../src/http/api-keys.js';
import { bearerToken } from '../../src/http/auth.js';
import { readBody } from '../../src/http/body.js';
import { HTTP_ERRORS } from '../../src/http/errors.js';
import { SessionEventStore } from '../../src/http/event-store.js';
import { createOriginGuard } from '../../src/http/guard.js';
import { RateLimiter } from '../../src/http/rate-limit.js';
import { approvalView } from '../../src/http/approval-view.js';
import { categoryOf, outcomeView } from '../../src/http/views.js';
import type { KernelObserver, PipelineStage } from '../../src/kernel/observer.js';
import { openRuntime, type Runtime } from '../../src/runtime.js';
import { LEDGER_EVENT_TYPES } from '../../src/store/port/index.js';
import { sqlitePort } from '../../src/store/sqlite/port.js';
import { openStore } from '../../src/store/sqlite/store.js';
import { FakeWorld, ROOT, call, copyTemplate, replaceOnce, transfer } from './helpers.js';

describe('RateLimiter', () => {
  it('gives each principal its own bucket of one second, refilled continuously, with a whole-second Retry-After', () => {
    let t = 0;
    const rl = new RateLimiter({ perPrincipal: 2, overall: 100, now: () => t });
    expect(rl.take('agent:alice')).toEqual({ ok: true });
    expect(rl.take('agent:alice')).toEqual({ ok: true });
    expect(rl.take('agent:alice')).toEqual({ ok: false, scope: 'principal', retryAfterSeconds: 1 });
    expect(rl.take('agent:scribe')).toEqual({ ok: true });
    t += 500; // one token back at 2/s
    expect(rl.take('agent:alice')).toEqual({ ok: true });
    expect(rl.take('agent:alice').ok).toBe(false);
  });

  it('holds everyone to the overall rate, and a request refused overall costs its principal nothing', () => {
    let t = 0;
    const rl = new RateLimiter({ perPrincipal: 2, overall: 2, now: () => t });
    expect(rl.take('a').ok).toBe(true);
    expect(rl.take('b').ok).toBe(true);
    expect(rl.take('c')).toEqual({ ok: false, scope: 'overall', retryAfterSeconds: 1 });
    t += 500;
    // c's token was given back: it still has two.
    expect(rl.take('c').ok).toBe(true);
    t += 1_000;
    expect(rl.take('c').ok).toBe(true);
  });

  it('a fractional rate waits several seconds, and the key table stays bounded', () => {
    let t = 0;
    const rl = new RateLimiter({ perPrincipal: 0.25, overall: 1_000, now: () => t, maxKeys: 3 });
    expect(rl.take('x').ok).toBe(true);
    expect(rl.take('x')).toEqual({ ok: false, scope: 'principal', retryAfterSeconds: 4 });
    for (const k of ['a', 'b', 'c', 'd', 'e']) rl.take(k);
    t += 10;
    expect((rl as unknown as { buckets: Map<string, unknown> }).buckets.size).toBeLessThanOrEqual(3);
  });
});

describe('Host and Origin guard', () => {
  const guard = createOriginGuard({ host: '127.0.0.1', port: 8080, allowedHosts: [], allowedOrigins: [] });

  it('on loopback accepts the loopback names on its own port only', () => {
    for (const h of ['127.0.0.1:8080', 'localhost:8080', 'LOCALHOST:8080', '[::1]:8080']) expect(guard.hostAllowed(h), h).toBe(true);
    for (const h of [undefined, '127.0.0.1', '127.0.0.1:8081', 'evil.example', 'evil.example:8080', '10.0.0.1:8080']) expect(guard.hostAllowed(h), String(h)).toBe(false);
  });

  it('accepts no Origin (non-browser clients) and same-origin ones; refuses foreign, https-downgraded and null origins', () => {
    expect(guard.originAllowed(undefined)).toBe(true);
    expect(guard.originAllowed('http://127.0.0.1:8080')).toBe(true);
    expect(guard.originAllowed('http://localhost:8080')).toBe(true);
    for (const o of ['null', 'http://evil.example', 'http://localhost:8081', 'https://localhost:8080', 'http://localhost']) expect(guard.originAllowed(o), o).toBe(false);
  });

  it('adds public_url and configured hosts and origins; on 0.0.0.0 only loopback names unless configured', () => {
    const g = createOriginGuard({ host: '0.0.0.0', port: 9000, publicUrl: 'https://mandate.example.com', allowedHosts: ['mandate.internal:9000'], allowedOrigins: ['https://ops.example.com'] });
    expect(g.hostAllowed('mandate.example.com')).toBe(true);
    expect(g.hostAllowed('mandate.internal:9000')).toBe(true);
    expect(g.hostAllowed('localhost:9000')).toBe(true);
    expect(g.hostAllowed('0.0.0.0:9000')).toBe(false);
    expect(g.hostAllowed('192.168.1.5:9000')).toBe(false);
    expect(g.originAllowed('https://mandate.example.com')).toBe(true);
    expect(g.originAllowed('https://ops.example.com')).toBe(true);
    expect(g.originAllowed('http://mandate.example.com')).toBe(false);
  });
});

describe('credentials', () => {
  const req = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage;

  it('keys are mdt_ + 256 random bits; only the SHA-256 is kept', () => {
    const a = mintKey();
    const b = mintKey();
    expect(a.key).not.toBe(b.key);
    expect(looksLikeKey(a.key)).toBe(true);
    expect(a.hash).toBe(hashKey(a.key));
    expect(a.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(a.prefix).toBe(a.key.slice(0, 12));
    expect(looksLikeKey('mdt_short')).toBe(false);
  });

  it('the bearer token comes from Authorization: Bearer or X-API-Key, never both different', () => {
    expect(bearerToken(req({}))).toEqual({ token: null, malformed: false });
    expect(bearerToken(req({ authorization: 'Bearer abc' }))).toEqual({ token: 'abc', malformed: false });
    expect(bearerToken(req({ authorization: 'bearer  abc ' }))).toEqual({ token: 'abc', malformed: false });
    expect(bearerToken(req({ 'x-api-key': 'abc' }))).toEqual({ token: 'abc', malformed: false });
    expect(bearerToken(req({ authorization: 'Bearer abc', 'x-api-key': 'abc' }))).toEqual({ token: 'abc', malformed: false });
    expect(bearerToken(req({ authorization: 'Bearer abc', 'x-api-key': 'def' })).malformed).toBe(true);
    expect(bearerToken(req({ authorization: 'Basic abc' })).malformed).toBe(true);
    expect(bearerToken(req({ authorization: `Bearer ${'x'.repeat(9_000)}` })).malformed).toBe(true);
  });
});

describe('readBody', () => {
  const stream = (chunks: string[], headers: Record<string, string> = {}) => Object.assign(Readable.from(chunks.map((c) => Buffer.from(c))), { headers }) as unknown as IncomingMessage;

  it('reads up to the limit; refuses a declared or streamed body over it', async () => {
    expect(await readBody(stream(['ab', 'cd']), 4)).toEqual({ ok: true, body: Buffer.from('abcd') });
    expect(await readBody(stream(['ab', 'cde']), 4)).toEqual({ ok: false, code: 'PAYLOAD_TOO_LARGE' });
    expect(await readBody(stream([], { 'content-length': '5' }), 4)).toEqual({ ok: false, code: 'PAYLOAD_TOO_LARGE' });
    expect(await readBody(stream([], { 'content-length': 'x' }), 4)).toEqual({ ok: false, code: 'INVALID_REQUEST' });
  });
});

describe('SessionEventStore (resumability)', () => {
  it('replays only its own session\'s stream after the given id, skipping priming events; foreign ids are unknown', async () => {
    const store = openStore(':memory:', new FakeWorld());
    try {
      const a = new SessionEventStore(sqlitePort(store, ':memory:').mcpEvents, 'session-a', { keep: 100, now: () => 1 });
      const b = new SessionEventStore(sqlitePort(store, ':memory:').mcpEvents, 'session-b', { keep: 100, now: () => 1 });
      const prime = await a.storeEvent('s1', {} as never);
      const m1 = await a.storeEvent('s1', { jsonrpc: '2.0', method: 'notifications/progress', params: { progress: 1, progressToken: 1 } });
      const other = await a.storeEvent('s2', { jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data: 'x' } });
      const foreign = await b.storeEvent('s1', { jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data: 'b' } });
      const m2 = await a.storeEvent('s1', { jsonrpc: '2.0', id: 3, result: {} });

      const sent: [string, unknown][] = [];
      const stream = await a.replayEventsAfter(prime, { send: async (id, msg) => void sent.push([id, msg]) });
      expect(stream).toBe('s1');
      expect(sent.map(([id]) => id)).toEqual([m1, m2]);
      expect(await a.getStreamIdForEventId(other)).toBe('s2');
      expect(await a.getStreamIdForEventId(foreign)).toBeUndefined();
      expect(await a.getStreamIdForEventId('not-a-number')).toBeUndefined();
      await expect(a.replayEventsAfter(foreign, { send: async () => undefined })).rejects.toThrow();

      a.drop();
      expect(await a.getStreamIdForEventId(m1)).toBeUndefined();
      expect(await b.getStreamIdForEventId(foreign)).toBe('s1');
    } finally {
      store.close();
    }
  });

  it('keeps at most `keep` events per session', async () => {
    const store = openStore(':memory:', new FakeWorld());
    try {
      const a = new SessionEventStore(sqlitePort(store, ':memory:').mcpEvents, 's', { keep: 10, now: () => 1 });
      const ids: string[] = [];
      for (let i = 0; i < 64; i++) ids.push(await a.storeEvent('x', { jsonrpc: '2.0', method: 'ping', id: i }));
      const count = (store.db.prepare("SELECT count(*) AS n FROM mcp_events WHERE session_id = 's'").get() as { n: number }).n;
      expect(count).toBeLessThanOrEqual(10 + 32);
      expect(await a.getStreamIdForEventId(ids[63] as string)).toBe('x');
      expect(await a.getStreamIdForEventId(ids[0] as string)).toBeUndefined();
    } finally {
      store.close();
    }
  });
});

describe('edge error catalogue', () => {
  it('every code is a 4xx or 5xx with a one-line message', () => {
    for (const [code, e] of Object.entries(HTTP_ERRORS)) {
      expect(e.status >= 400 && e.status < 600, code).toBe(true);
      expect(e.message).not.toContain('\n');
    }
  });

  it('docs/reference/http-api.md lists every code with its status, in catalogue order, and nothing else', () => {
    const readme = readFileSync(join(ROOT, 'docs', 'reference', 'http-api.md'), 'utf8');
    const rows = [...readme.matchAll(/^\| (\d{3}) \| `([A-Z_]+)` \| .+ \|$/gm)].map((m) => [m[2], Number(m[1])]);
    expect(rows).toEqual(Object.entries(HTTP_ERRORS).map(([code, e]) => [code, e.status]));
  });

  it('every ledger event type has a stream category', () => {
    for (const t of LEDGER_EVENT_TYPES) expect(['decision', 'escalation', 'intervention', 'system']).toContain(categoryOf(t));
  });
});

describe('http config', () => {
  it('defaults when absent; headers timeout may not exceed the request timeout; JWT takes exactly one key source', () => {
    const base = { version: 1 };
    const parsed = WorkspaceConfigSchema.parse(base);
    expect(parsed.http).toEqual(expect.objectContaining({ host: '127.0.0.1', port: 8080, max_body_bytes: 20_480, rate_limit: { per_principal_per_second: 100, overall_per_second: 1_000 } }));
    expect(WorkspaceConfigSchema.safeParse({ ...base, http: { headers_timeout_ms: 5_000, request_timeout_ms: 1_000 } }).success).toBe(false);
    const jwt = { issuer: 'i', audience: 'a' };
    expect(WorkspaceConfigSchema.safeParse({ ...base, http: { auth: { jwt } } }).success).toBe(false);
    expect(WorkspaceConfigSchema.safeParse({ ...base, http: { auth: { jwt: { ...jwt, secret_env: 'X', jwks_file: 'k.json' } } } }).success).toBe(false);
    expect(WorkspaceConfigSchema.safeParse({ ...base, http: { auth: { jwt: { ...jwt, secret_env: 'MY_SECRET' } } } }).success).toBe(true);
    expect(WorkspaceConfigSchema.safeParse({ ...base, http: { auth: { jwt: { ...jwt, secret: 'inline' } } } }).success).toBe(false);
    expect(WorkspaceConfigSchema.safeParse({ ...base, http: { public_url: 'https://x.example/path' } }).success).toBe(false);
  });
});

describe('operator views and the kernel observer', () => {
  let rt: Runtime | undefined;
  let cleanup: (() => void) | undefined;
  afterEach(() => {
    rt?.close();
    cleanup?.();
    rt = undefined;
  });

  class Recorder implements KernelObserver {
    t = 0;
    stages: PipelineStage[] = [];
    decisions: Outcome[] = [];
    now() {
      return (this.t += 1);
    }
    stage(stage: PipelineStage, ms: number) {
      expect(ms).toBeGreaterThan(0);
      this.stages.push(stage);
    }
    decision(outcome: Outcome) {
      this.decisions.push(outcome);
    }
  }

  it('params are redacted unless the capability opts in with audit.recordParams; outputs unless audit.recordOutput', async () => {
    const ws = copyTemplate();
    cleanup = ws.cleanup;
    rt = await openRuntime(ws.dir, silentLogger, new FakeWorld(Date.now()));
    const esc = await rt.kernel.govern(call('alice', transfer(20_000)));
    expect(esc.verdict).toBe('escalated');
    const view = approvalView(rt.kernel, (await rt.store.decisions.get(esc.decision_id)) as never);
    expect(view).toEqual(expect.objectContaining({ params: null, params_redacted: true, capability: 'payments.transfer', capability_version: '1.0.0', side_effect: 'write' }));
    const ok = await rt.kernel.govern(call('alice', transfer(100)));
    expect(outcomeView(rt.kernel, ok)).toEqual(expect.objectContaining({ output_redacted: true }));
    expect(outcomeView(rt.kernel, ok)).not.toHaveProperty('output');
  });

  it('an approver sees the exact call the kernel keeps to run on approval (params as sent, values as derived, facts, request hash); a viewer does not', async () => {
    const ws = copyTemplate();
    cleanup = ws.cleanup;
    rt = await openRuntime(ws.dir, silentLogger, new FakeWorld(Date.now()));
    const esc = await rt.kernel.govern(call('alice', transfer(20_000)));
    const d = (await rt.store.decisions.get(esc.decision_id)) as NonNullable<Awaited<ReturnType<typeof rt.store.decisions.get>>>;
    const approver = approvalView(rt.kernel, d, 'approver');
    expect(approver.params_redacted).toBe(false);
    expect(approver.params).toEqual(d.intent?.params);
    expect(approver.params).toEqual(expect.objectContaining({ amount_minor: 20_000, payee: 'acme-supplies' }));
    expect(approver.values).toEqual(expect.objectContaining({ amount_minor: 20_000, payee: 'acme-supplies' }));
    expect(approver.facts).toEqual(d.facts);
    expect(approver.facts).toEqual(expect.objectContaining({ payee_known: true }));
    expect(approver).toEqual(expect.objectContaining({ request_hash: d.request_hash, facts_hash: d.facts_hash, policies: esc.policies, reason: 'transfers above 100.00 need a human approval' }));
    expect(approver.details.map((x) => x.code)).toContain('ESCALATION_REQUIRED');
    const viewer = approvalView(rt.kernel, d, 'viewer');
    expect(viewer).toEqual(expect.objectContaining({ params: null, values: null, facts: null, params_redacted: true, request_hash: d.request_hash }));
  });

  it('with the opt-in, the operator sees the params and the output', async () => {
    const ws = copyTemplate({
      'capabilities/payments.mjs': replaceOnce(
        "output: z.object({ transfer_id: z.string(), balance_minor: z.number().int(), version: z.string() }),",
        "output: z.object({ transfer_id: z.string(), balance_minor: z.number().int(), version: z.string() }),\n    audit: { recordParams: true, recordOutput: true },",
      ),
    });
    cleanup = ws.cleanup;
    rt = await openRuntime(ws.dir, silentLogger, new FakeWorld(Date.now()));
    const esc = await rt.kernel.govern(call('alice', transfer(20_000)));
    const view = approvalView(rt.kernel, (await rt.store.decisions.get(esc.decision_id)) as never);
    expect(view.params_redacted).toBe(false);
    expect(view.params).toEqual(expect.objectContaining({ amount_minor: 20_000, payee: 'acme-supplies' }));
    const ok = await rt.kernel.govern(call('alice', transfer(100)));
    expect(outcomeView(rt.kernel, ok)?.output).toEqual(expect.objectContaining({ transfer_id: expect.any(String) }));
  });

  it('the observer is told each stage and each decision, once, for govern and approve', async () => {
    const ws = copyTemplate();
    cleanup = ws.cleanup;
    const obs = new Recorder();
    rt = await openRuntime(ws.dir, silentLogger, new FakeWorld(Date.now()), { observer: obs });
    await rt.kernel.govern(call('alice', transfer(100)));
    expect(obs.stages).toEqual(['received', 'checks', 'facts', 'dim', 'policy', 'reserve', 'pre_effect', 'handler', 'record']);
    expect(obs.decisions.map((d) => d.verdict)).toEqual(['accepted']);

    obs.stages = [];
    const esc = await rt.kernel.govern(call('alice', transfer(20_000)));
    expect(obs.stages).toEqual(['received', 'checks', 'facts', 'dim', 'policy', 'escalate']);
    obs.stages = [];
    await rt.kernel.approve(esc.decision_id, 'anna', null);
    expect(obs.stages).toEqual(['pre_effect', 'handler', 'record']);
    expect(obs.decisions.map((d) => d.status)).toEqual(['accepted', 'pending', 'approved']);

    await rt.kernel.govern(call('nobody', transfer(1)));
    expect(obs.decisions.at(-1)?.reasons).toEqual(['UNKNOWN_AGENT']);
    expect(obs.decisions).toHaveLength(4);
  });

  it('an observer that throws changes no decision', async () => {
    const ws = copyTemplate();
    cleanup = ws.cleanup;
    const broken: KernelObserver = {
      now: () => 1,
      stage: () => {
        throw new Error('metrics down');
      },
      decision: () => {
        throw new Error('metrics down');
      },
    };
    rt = await openRuntime(ws.dir, silentLogger, new FakeWorld(Date.now()), { observer: broken });
    const ok = await rt.kernel.govern(call('alice', transfer(100)));
    expect(ok).toEqual(expect.objectContaining({ verdict: 'accepted', reasons: [] }));
    expect((await rt.store.ledger.page(0, 100)).map((e) => e.type)).not.toContain('IntentRejected');
  });
});
