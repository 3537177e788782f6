/**
 * OpenTelemetry traces (ADR-026), with the real SDK exporting over OTLP/HTTP
 * to a receiver in this test, and real SDK clients over stdio and HTTP, at
 * both MCP eras: a SERVER span per request named and attributed by the MCP
 * semantic conventions, its parent the client's traceparent (from `_meta` or
 * the HTTP header) and its trace id the DFID; a span per pipeline stage; the
 * approval wait; a CLIENT span per upstream call whose context the upstream
 * receives; log lines with trace_id and span_id; and no argument value
 * anywhere in what was exported.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client as V2Client } from '@modelcontextprotocol/client';
import { StdioClientTransport as V2StdioTransport } from '@modelcontextprotocol/client/stdio';
import { ElicitRequestSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STAGES } from '../src/kernel/pipeline.js';
import { cleanEnv, CLI, E2E, REPO_ROOT, traceparent, transfer, type AgentClient } from './helpers/e2e.js';
import { FIXTURES, NODE, OUTCOME_META, appendConfig, pin, writeContract, y } from './helpers/gateway.js';
import { createKey, httpAgent, startHttp, type HttpServer } from './helpers/http.js';
import { rawRequest, REVISION } from './helpers/mcp2026.js';
import { spanWhen, startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from './helpers/otlp.js';

const SERVER = 2;
const CLIENT = 3;
/** Argument values that must never leave the process in a span. */
const MEMO = 'memo-value-never-exported-7f3a';
const NAME = 'Zanzibarquux';

const e2e = new E2E();
let ws: string;
let otlp: OtlpReceiver;
let env: Record<string, string>;

const byTrace = (traceId: string) => otlp.spans.filter((s) => s.traceId === traceId);
const childrenOf = (span: ReceivedSpan) => otlp.spans.filter((s) => s.parentSpanId === span.spanId && s.traceId === span.traceId);
const serverSpan = (traceId: string, name: string) => spanWhen(() => byTrace(traceId).find((s) => s.kind === SERVER && s.name === name), `SERVER span \`${name}\` in trace ${traceId}`);
/** Waits for a trace's govern span and its last stage, which end after the request's answer. */
const governSpan = (server: ReceivedSpan) => spanWhen(() => childrenOf(server).find((s) => s.name === 'mandate.govern'), 'mandate.govern span');

beforeAll(async () => {
  otlp = await startOtlpReceiver();
  env = { OTEL_EXPORTER_OTLP_ENDPOINT: otlp.endpoint, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_BSP_SCHEDULE_DELAY: '100', OTEL_SERVICE_NAME: 'mandate-under-test' };
  ws = await e2e.workspace();
  const yamlPath = join(ws, 'mandate.yaml');
  const yaml = readFileSync(yamlPath, 'utf8');
  writeFileSync(yamlPath, yaml.slice(0, yaml.indexOf('\nnormalizer:')));
  const contract = join(ws, 'contracts', 'alice.yaml');
  writeFileSync(contract, readFileSync(contract, 'utf8').replace('client_approval: false', 'client_approval: true'));
  writeFileSync(join(ws, 'state.json'), JSON.stringify({}));
  appendConfig(ws, `upstreams:\n  drift:\n    command: ${y(NODE)}\n    args: [${y(join(FIXTURES, 'drifting.mjs'))}, state.json]`);
  writeContract(ws, 'gw', 'grants:\n  - capability: drift.greet\n');
  await pin(ws);
}, 60_000);

afterAll(async () => {
  await e2e.cleanup();
  await otlp.close();
});

describe('tracing over stdio, MCP 2025 (SDK v1 client)', () => {
  let alice: AgentClient;
  const asked: unknown[] = [];

  beforeAll(async () => {
    alice = await e2e.client(ws, 'alice', {
      env,
      logLevel: 'info',
      capabilities: { elicitation: {} },
      beforeConnect: (c) =>
        c.setRequestHandler(ElicitRequestSchema, (r) => {
          asked.push(r.params);
          return { action: 'accept', content: { decision: 'approve', reason: 'ok' } };
        }),
    });
  }, 30_000);

  it('a tools/call is a SERVER span named `tools/call invoke_capability`, a child of the client traceparent in _meta, with the MCP attributes and the DFID', async () => {
    const tp = traceparent();
    const parentSpanId = tp.traceparent.split('-')[2] as string;
    const g = await alice.call('invoke_capability', { capability: 'payments.transfer', params: transfer({ memo: MEMO }) }, { traceparent: tp.traceparent });
    expect(g.outcome).toMatchObject({ verdict: 'accepted', dfid: tp.traceId });
    const span = await serverSpan(tp.traceId, 'tools/call invoke_capability');
    expect(span.parentSpanId).toBe(parentSpanId);
    expect(span.service).toBe('mandate-under-test');
    expect(span.attributes).toMatchObject({
      'mcp.method.name': 'tools/call',
      'gen_ai.tool.name': 'invoke_capability',
      'gen_ai.operation.name': 'execute_tool',
      'mcp.protocol.version': expect.stringMatching(/^2025-/),
      'network.transport': 'pipe',
      'mandate.dfid': tp.traceId,
      'mandate.verdict': 'accepted',
      'mandate.decision_id': g.outcome.decision_id,
      'mandate.capability': 'payments.transfer',
    });
    expect(typeof span.attributes['jsonrpc.request.id']).toBe('string');
    expect(span.attributes).not.toHaveProperty('error.type');

    // The pipeline: one govern span, and a child per stage, in order, up to the effect.
    const govern = await governSpan(span);
    expect(govern.attributes).toMatchObject({ 'mandate.contract.id': 'alice', 'mandate.contract.version': '1.0.0', 'mandate.verdict': 'accepted', 'mandate.agent': 'alice' });
    expect(String(govern.attributes['mandate.policy_set.hash'])).toMatch(/^[0-9a-f]{16,}/);
    expect(g.outcome).not.toHaveProperty('replay_of');
    const stages = await spanWhen(() => {
      const s = childrenOf(govern).map((c) => c.attributes['mandate.stage']);
      return s.includes('execute') ? s : undefined;
    }, 'stage spans');
    expect(stages).toEqual(expect.arrayContaining(['receive', 'checkStanding', 'checkShape', 'answerRepeats', 'validate', 'decidePolicy', 'escalateIfNeeded', 'execute']));
    expect(childrenOf(govern).every((c) => c.name === `mandate.stage ${String(c.attributes['mandate.stage'])}`)).toBe(true);
  });

  it('a refused call ends its span with error.type tool_error and the reason codes under mandate.*', async () => {
    const tp = traceparent();
    const g = await alice.call('invoke_capability', { capability: 'payments.transfer', params: transfer({ payee: 'shady-llc', memo: MEMO }) }, { traceparent: tp.traceparent });
    expect(g.outcome.verdict).toBe('rejected');
    const span = await serverSpan(tp.traceId, 'tools/call invoke_capability');
    expect(span.attributes).toMatchObject({ 'error.type': 'tool_error', 'mandate.verdict': 'rejected', 'mandate.reason_codes': g.outcome.reasons, 'mandate.policy_ids': expect.arrayContaining(['forbid-blocked-payees']) });
    expect(span.status.code).toBe(2);
  });

  it('an escalation the client human answers has an approval wait span under the request span', async () => {
    const tp = traceparent();
    const g = await alice.call('invoke_capability', { capability: 'payments.transfer', params: transfer({ amount_minor: 25_000, memo: MEMO }) }, { traceparent: tp.traceparent });
    expect(g.outcome).toMatchObject({ verdict: 'accepted', status: 'approved' });
    expect(asked).toHaveLength(1);
    const span = await serverSpan(tp.traceId, 'tools/call invoke_capability');
    const wait = await spanWhen(() => childrenOf(span).find((s) => s.name === 'mandate.approval.wait'), 'approval wait span');
    expect(wait.attributes).toMatchObject({ 'mandate.decision_id': g.outcome.decision_id, 'mandate.approval.via': 'elicitation', 'mandate.status': 'approved' });
    // The escalation itself is decided in the govern span, whose verdict was `escalated`.
    const govern = await spanWhen(() => childrenOf(span).find((s) => s.name === 'mandate.govern' && s.attributes['mandate.verdict'] === 'escalated'), 'escalated govern span');
    expect(childrenOf(govern).map((c) => c.attributes['mandate.stage'])).toContain('escalateIfNeeded');
  });

  it('without a traceparent the request starts a trace, and its trace id is the DFID, time-ordered as a minted DFID is', async () => {
    const before = Date.now();
    const g = await alice.call('invoke_capability', { capability: 'payments.get_balance', params: { account: 'operating' } });
    const span = await serverSpan(g.outcome.dfid, 'tools/call invoke_capability');
    expect(span.parentSpanId).toBe('');
    expect(span.attributes['mandate.dfid']).toBe(g.outcome.dfid);
    // The tracer's new trace id carries the clock in its first 48 bits (ADR-047).
    const minted = parseInt(g.outcome.dfid.slice(0, 12), 16);
    expect(minted).toBeGreaterThanOrEqual(before);
    expect(minted).toBeLessThanOrEqual(Date.now());
  });

  it('log lines written during a call carry the trace_id and span_id of the span they were written in', async () => {
    const tp = traceparent();
    const g = await alice.call('invoke_capability', { capability: 'payments.transfer', params: transfer({ amount_minor: 26_000 }) }, { traceparent: tp.traceparent });
    expect(g.outcome.status).toBe('approved');
    const span = await serverSpan(tp.traceId, 'tools/call invoke_capability');
    const escalateStage = await spanWhen(
      () => byTrace(tp.traceId).find((s) => s.attributes['mandate.stage'] === 'escalateIfNeeded' && s.name === 'mandate.stage escalateIfNeeded'),
      'escalate stage span',
    );
    const lines = alice
      .stderr()
      .split('\n')
      .filter((l) => l.includes(tp.traceId))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const escalated = lines.find((l) => l['msg'] === 'escalated; awaiting a human');
    expect(escalated).toMatchObject({ trace_id: tp.traceId, span_id: escalateStage.spanId, dfid: tp.traceId });
    expect(span.traceId).toBe(tp.traceId);
  });
});

describe('tracing an upstream call through the gateway', () => {
  it('the upstream call is a CLIENT span under the execute stage, and the upstream receives that span as its traceparent in _meta', async () => {
    const gw = await e2e.client(ws, 'gw', { env });
    const tp = traceparent();
    // The first call starts the upstream process: on a loaded machine that alone can take seconds.
    const r = (await gw.client.callTool({ name: 'drift_greet', arguments: { name: NAME }, _meta: { traceparent: tp.traceparent } }, undefined, { timeout: 45_000 })) as CallToolResult;
    expect((r.content[0] as { text: string }).text).toBe(`hello ${NAME}!`);
    expect(((r._meta as Record<string, unknown>)[OUTCOME_META] as { dfid: string }).dfid).toBe(tp.traceId);
    const seen = String((r._meta as Record<string, unknown>)['traceparent_seen']);
    const server = await serverSpan(tp.traceId, 'tools/call drift_greet');
    expect(server.attributes).toMatchObject({ 'gen_ai.tool.name': 'drift_greet', 'gen_ai.operation.name': 'execute_tool', 'mandate.verdict': 'accepted', 'mandate.capability': 'drift.greet' });
    const client = await spanWhen(() => byTrace(tp.traceId).find((s) => s.kind === CLIENT), 'CLIENT span');
    expect(client.name).toBe('tools/call greet');
    expect(client.attributes).toMatchObject({ 'mcp.method.name': 'tools/call', 'gen_ai.tool.name': 'greet', 'gen_ai.operation.name': 'execute_tool', 'network.transport': 'pipe', 'mandate.upstream': 'drift', 'mandate.dfid': tp.traceId });
    // The upstream's parent is the client span itself, in the caller's trace.
    expect(seen).toBe(`00-${tp.traceId}-${client.spanId}-01`);
    const execute = byTrace(tp.traceId).find((s) => s.spanId === client.parentSpanId);
    expect(execute?.name).toBe('mandate.stage execute');
    await gw.close();
  });
});

describe('tracing over stdio, MCP 2026-07-28 (SDK v2 client)', () => {
  it('a pinned v2 client gets the same SERVER span, with mcp.protocol.version 2026-07-28 from the request envelope', async () => {
    const client = new V2Client({ name: 'tracing-2026', version: '1.0.0' }, { versionNegotiation: { mode: { pin: REVISION } } });
    const transport = new V2StdioTransport({ command: process.execPath, args: [CLI, 'serve', '--stdio', '--agent', 'alice', '-w', ws, '--log-level', 'warn'], cwd: REPO_ROOT, env: cleanEnv(env), stderr: 'ignore' });
    await client.connect(transport);
    try {
      const tp = traceparent();
      const result = await client.callTool({ name: 'invoke_capability', arguments: { capability: 'payments.transfer', params: transfer({ amount_minor: 1601, memo: MEMO }) }, _meta: { traceparent: tp.traceparent } });
      expect(result.structuredContent).toMatchObject({ dfid: tp.traceId, verdict: 'accepted' });
      expect(result.structuredContent).not.toHaveProperty('replay_of');
      const span = await serverSpan(tp.traceId, 'tools/call invoke_capability');
      expect(span.parentSpanId).toBe(tp.traceparent.split('-')[2]);
      expect(span.attributes).toMatchObject({ 'mcp.protocol.version': REVISION, 'network.transport': 'pipe', 'mandate.verdict': 'accepted' });
      const govern = await governSpan(span);
      // A call that runs: every stage of the pipeline is a span, in the pipeline's order.
      expect(childrenOf(govern).map((c) => c.attributes['mandate.stage'])).toEqual(STAGES.map((stage) => stage.name));
    } finally {
      await client.close();
    }
  });
});

describe('tracing over HTTP, both eras', () => {
  let http: HttpServer;
  let key: string;

  beforeAll(async () => {
    key = (await createKey(ws, { agent: 'alice' })).key;
    http = await startHttp(ws, { env });
  }, 30_000);

  afterAll(async () => {
    await http.stop();
  });

  it('MCP 2025 over Streamable HTTP: the traceparent HTTP header is the parent when _meta has none', async () => {
    const tp = traceparent();
    const agent = await httpAgent(http.url, key, { requestInit: { headers: { Authorization: `Bearer ${key}`, traceparent: tp.traceparent } } });
    try {
      const g = await agent.call('invoke_capability', { capability: 'payments.transfer', params: transfer({ amount_minor: 1602, memo: MEMO }) });
      expect(g.outcome).toMatchObject({ dfid: tp.traceId, verdict: 'accepted' });
      const span = await serverSpan(tp.traceId, 'tools/call invoke_capability');
      expect(span.parentSpanId).toBe(tp.traceparent.split('-')[2]);
      expect(span.attributes).toMatchObject({ 'network.transport': 'tcp', 'mcp.protocol.version': expect.stringMatching(/^2025-/), 'mandate.verdict': 'accepted' });
      // Every request of the session is a span: initialize and tools/list too.
      await spanWhen(() => byTrace(tp.traceId).find((s) => s.kind === SERVER && s.name === 'initialize'), 'initialize span');
      await spanWhen(() => byTrace(tp.traceId).find((s) => s.kind === SERVER && s.name === 'tools/list'), 'tools/list span');
    } finally {
      await agent.close();
    }
  });

  it('MCP 2026-07-28 over HTTP: _meta traceparent wins over the header, and an unknown tool is error.type -32602', async () => {
    const inMeta = traceparent();
    const inHeader = traceparent();
    const ok = await rawRequest(http.url, key, 'tools/call', { name: 'invoke_capability', arguments: { capability: 'payments.transfer', params: transfer({ amount_minor: 1603, memo: MEMO }) }, _meta: { traceparent: inMeta.traceparent } }, { headers: { traceparent: inHeader.traceparent } });
    expect(ok.status).toBe(200);
    const span = await serverSpan(inMeta.traceId, 'tools/call invoke_capability');
    expect(span.parentSpanId).toBe(inMeta.traceparent.split('-')[2]);
    expect(span.attributes).toMatchObject({ 'mcp.protocol.version': REVISION, 'network.transport': 'tcp', 'mandate.dfid': inMeta.traceId });
    expect(byTrace(inHeader.traceId)).toEqual([]);

    const bad = traceparent();
    const unknown = await rawRequest(http.url, key, 'tools/call', { name: 'no_such_tool', arguments: {}, _meta: { traceparent: bad.traceparent } });
    expect(unknown.body.error?.code).toBe(-32602);
    const failed = await serverSpan(bad.traceId, 'tools/call no_such_tool');
    expect(failed.attributes).toMatchObject({ 'error.type': '-32602', 'rpc.response.status_code': '-32602' });
    expect(failed.status.code).toBe(2);
  });
});

describe('off, and content opt-in', () => {
  it('without an OTLP endpoint nothing is exported, and OTEL_SDK_DISABLED=true turns it off even with one', async () => {
    const before = otlp.spans.length;
    for (const extra of [{}, { ...env, OTEL_SDK_DISABLED: 'true' }]) {
      const client = await e2e.client(ws, 'alice', { env: extra });
      const tp = traceparent();
      const g = await client.call('invoke_capability', { capability: 'payments.get_balance', params: { account: 'operating' } }, { traceparent: tp.traceparent });
      expect(g.outcome.dfid).toBe(tp.traceId);
      await client.close();
      await new Promise((r) => setTimeout(r, 500));
      expect(byTrace(tp.traceId)).toEqual([]);
    }
    expect(otlp.spans.slice(before).filter((s) => s.attributes['mandate.agent'] !== undefined)).toEqual([]);
  });

  it('values become gen_ai.tool.call.arguments and .result only where telemetry.record_content and the capability (audit.recordParams, recordOutput) both opt in', async () => {
    const ws2 = await e2e.workspace();
    const yamlPath = join(ws2, 'mandate.yaml');
    const yaml = readFileSync(yamlPath, 'utf8');
    writeFileSync(yamlPath, `${yaml.slice(0, yaml.indexOf('\nnormalizer:'))}\ntelemetry:\n  record_content: true\n`);
    const module = join(ws2, 'capabilities', 'payments.mjs');
    const source = readFileSync(module, 'utf8');
    const opted = source.replace("sideEffect: 'read',", "sideEffect: 'read',\n    audit: { recordParams: true, recordOutput: true },");
    expect(opted).not.toBe(source);
    writeFileSync(module, opted);
    const client = await e2e.client(ws2, 'alice', { env });
    try {
      const tp = traceparent();
      const g = await client.call('invoke_capability', { capability: 'payments.get_balance', params: { account: 'operating' } }, { traceparent: tp.traceparent });
      expect(g.outcome.verdict).toBe('accepted');
      const govern = await spanWhen(() => byTrace(tp.traceId).find((s) => s.name === 'mandate.govern'), 'govern span');
      expect(JSON.parse(String(govern.attributes['gen_ai.tool.call.arguments']))).toEqual({ account: 'operating' });
      expect(JSON.parse(String(govern.attributes['gen_ai.tool.call.result']))).toMatchObject({ account: 'operating', balance_minor: expect.any(Number) });
      // The transfer does not opt in: its memo stays out, in the same workspace.
      const other = traceparent();
      const t = await client.call('invoke_capability', { capability: 'payments.transfer', params: transfer({ amount_minor: 1604, memo: MEMO }) }, { traceparent: other.traceparent });
      expect(t.outcome.verdict).toBe('accepted');
      const plain = await spanWhen(() => byTrace(other.traceId).find((s) => s.name === 'mandate.govern'), 'govern span of the transfer');
      expect(plain.attributes).not.toHaveProperty('gen_ai.tool.call.arguments');
      expect(plain.attributes).not.toHaveProperty('gen_ai.tool.call.result');
    } finally {
      await client.close();
    }
  });
});

describe('content safety', () => {
  it('no argument value was exported, in any span of any test above, and every body was OTLP JSON', async () => {
    expect(otlp.spans.length).toBeGreaterThan(20);
    expect(otlp.rejected).toEqual([]);
    const raw = otlp.raw();
    expect(raw).not.toContain(MEMO);
    expect(raw).not.toContain(NAME);
    expect(raw).not.toContain('acme-supplies');
    // Only the one capability that opted in, in the workspace that opted in, exported its arguments.
    expect(otlp.spans.filter((s) => 'gen_ai.tool.call.arguments' in s.attributes).map((s) => s.attributes['mandate.capability'])).toEqual(['payments.get_balance']);
  });
});
