/**
 * An upstream's request for input reaching a 2026-07-28 agent (ADR-034), in
 * both directions: a 2026 upstream's `input_required` and a 2025 upstream's
 * server-sent elicitation or sampling become the agent's own
 * `input_required`, governed by the contract's `client_requests`; the agent's
 * retry carries the answer to the call held in Mandate, which goes on as the
 * one decision it is. Real SDK v2 clients (pinned over HTTP, auto over
 * stdio) and raw requests for the wire details; two replicas for a retry that
 * reaches the process that does not hold the call; a call that has become a
 * task shows the upstream's request in tasks/get and takes the answer in
 * tasks/update; a prompts/get is held the same way. A 2026 upstream's rounds reach the agent as it wrote them:
 * under its own keys, a new state per round, and only the input the agent's
 * request declared it can give.
 */
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, E2E, REPO_ROOT, cleanEnv, exportLedger, type Outcome } from './helpers/e2e.js';
import { FIXTURES, NODE, appendConfig, eventsOf, killStarted, modernFixtureOverHttp, pin, writeContract, y } from './helpers/gateway.js';
import { createKey, startHttp, type HttpServer } from './helpers/http.js';
import { rawRequest, REVISION } from './helpers/mcp2026.js';
import { taskClient } from './helpers/tasks2026.js';

const MODERN = join(FIXTURES, 'modern-only.mjs');
const e2e = new E2E();
let ws: string;
let httpUpstream: ChildProcess;
let a: HttpServer;
let b: HttpServer;
let askerKey: string;
let closedKey: string;
const clients: Client[] = [];
const asked: string[] = [];
const legacyState = () => join(ws, 'legacy.json');
const ASKS = { elicitation: { form: {} }, sampling: {} };

const textOf = (r: CallToolResult) => (r.content as { type: string; text?: string }[]).map((c) => c.text ?? '').join('');
const outcomeOf = (r: { structuredContent?: unknown; content: unknown }) => JSON.parse(textOf(r as CallToolResult)) as Outcome;

/** An SDK v2 client that answers elicitation (`confirm` as given) and sampling, and says what it was asked. */
function answeringClient(confirm: boolean | 'decline', opts: ConstructorParameters<typeof Client>[1]): Client {
  const client = new Client({ name: 'input-rounds-test', version: '1.0.0' }, { ...opts, capabilities: ASKS });
  client.setRequestHandler('elicitation/create', (r) => {
    asked.push(String((r.params as { message?: unknown }).message));
    return (confirm === 'decline' ? { action: 'decline' } : { action: 'accept', content: { confirm } }) as never;
  });
  client.setRequestHandler('sampling/createMessage', (r) => {
    const first = (r.params as { messages: { content: { text?: string } }[] }).messages[0];
    asked.push(`sampling: ${first?.content.text ?? ''}`);
    return { role: 'assistant', content: { type: 'text', text: 'short' }, model: 'stub-model' } as never;
  });
  clients.push(client);
  return client;
}

async function pinnedOverHttp(url: string, key: string, confirm: boolean | 'decline' = true): Promise<Client> {
  const client = answeringClient(confirm, { versionNegotiation: { mode: { pin: REVISION } } });
  const { StreamableHTTPClientTransport } = await import('@modelcontextprotocol/client');
  await client.connect(new StreamableHTTPClientTransport(new URL('/mcp', url), { requestInit: { headers: { Authorization: `Bearer ${key}` } } }));
  return client;
}

beforeAll(async () => {
  ws = await e2e.workspace();
  const http = await modernFixtureOverHttp();
  httpUpstream = http.child;
  writeFileSync(legacyState(), JSON.stringify({ era: '2025' }));
  // Long deadlines: a held call waits for the agent's human inside its deadline, as on the 2025 wire.
  appendConfig(
    ws,
    `upstreams:
  m26:
    command: ${y(NODE)}
    args: [${y(MODERN)}, stdio]
    deadline_ms: 30000
  h26:
    url: ${y(http.url)}
    deadline_ms: 30000
  l25:
    command: ${y(NODE)}
    args: [${y(MODERN)}, stdio, legacy.json]
    deadline_ms: 30000`,
  );
  const grants = 'grants:\n  - capability: m26.*\n  - capability: h26.*\n  - capability: l25.*\n';
  const relays = ['m26', 'h26', 'l25'].flatMap((u) => [`  - upstream: ${u}\n    kind: elicitation\n`, `  - upstream: ${u}\n    kind: sampling\n`]).join('');
  writeContract(ws, 'asker', `${grants}client_requests:\n${relays}prompts:\n  - upstream: m26\n    name: "*"\n`);
  writeContract(ws, 'closed', grants);
  await pin(ws);
  askerKey = (await createKey(ws, { agent: 'asker' })).key;
  closedKey = (await createKey(ws, { agent: 'closed' })).key;
  [a, b] = await Promise.all([startHttp(ws), startHttp(ws)]);
}, 120_000);

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  await Promise.all([a?.stop(), b?.stop()]);
  httpUpstream?.kill('SIGKILL');
  killStarted(`${legacyState()}.starts`);
  await e2e.cleanup();
});

describe("an upstream's request for input reaches a 2026 agent as input_required", () => {
  it('over HTTP (client pinned to 2026-07-28): elicitation from a 2026 upstream (stdio and HTTP) and from a 2025 one, answered in one governed call each', async () => {
    asked.length = 0;
    const client = await pinnedOverHttp(a.url, askerKey);
    for (const [tool, item] of [
      ['m26_confirm_delete', 'draft-1'],
      ['h26_confirm_delete', 'draft-2'],
      ['l25_confirm_delete', 'draft-3'],
    ] as const) {
      const r = (await client.callTool({ name: tool, arguments: { item } })) as CallToolResult;
      expect(r.isError, JSON.stringify(r)).toBeFalsy();
      expect(textOf(r)).toBe(`deleted ${item}`);
      const outcome = (r._meta as Record<string, unknown>)['mandate/outcome'] as Outcome;
      expect(outcome).toMatchObject({ verdict: 'accepted', capability: tool.replace('_', '.') });
      // One decision: received, validated, decided, started, the relayed request, and one outcome.
      const { events } = await exportLedger(ws);
      expect(eventsOf(events, outcome.decision_id).filter((t) => t === 'ActionOutcome')).toHaveLength(1);
      const relayed = events.filter((e) => e.type === 'ClientRequestRelayed' && e.dfid === outcome.dfid);
      expect(relayed.map((e) => e.data)).toEqual([expect.objectContaining({ upstream: tool.slice(0, 3), method: 'elicitation/create', during: 'confirm_delete', allowed: true, answered: true, action: 'accept' })]);
    }
    expect(asked).toEqual(['Delete draft-1?', 'Delete draft-2?', 'Delete draft-3?']);
  });

  it("sampling too, from either upstream revision, and a declined elicitation reaches the upstream as declined", async () => {
    asked.length = 0;
    const client = await pinnedOverHttp(a.url, askerKey);
    for (const tool of ['m26_summarize', 'l25_summarize']) {
      const r = (await client.callTool({ name: tool, arguments: { text: 'a long text' } })) as CallToolResult;
      expect(r.isError, JSON.stringify(r)).toBeFalsy();
      expect(textOf(r)).toBe('summary: short');
    }
    expect(asked).toEqual(['sampling: Summarize: a long text', 'sampling: Summarize: a long text']);
    const declining = await pinnedOverHttp(a.url, askerKey, 'decline');
    for (const tool of ['m26_confirm_delete', 'l25_confirm_delete']) {
      const r = (await declining.callTool({ name: tool, arguments: { item: 'keep-me' } })) as CallToolResult;
      expect(textOf(r)).toBe('kept keep-me (decline)');
    }
  });

  it('over stdio (client in auto mode): the same rounds', async () => {
    asked.length = 0;
    const client = answeringClient(true, { versionNegotiation: { mode: 'auto' } });
    await client.connect(new StdioClientTransport({ command: NODE, args: [CLI, 'serve', '--stdio', '--agent', 'asker', '-w', ws, '--log-level', 'warn'], cwd: REPO_ROOT, env: cleanEnv(), stderr: 'ignore' }));
    expect(client.getProtocolEra()).toBe('modern');
    for (const tool of ['m26_confirm_delete', 'l25_confirm_delete']) {
      const r = (await client.callTool({ name: tool, arguments: { item: 'stdio-1' } })) as CallToolResult;
      expect(textOf(r)).toBe('deleted stdio-1');
    }
    expect(asked).toEqual(['Delete stdio-1?', 'Delete stdio-1?']);
  });

  it('without client_requests for it, the agent is never asked: the call ends CLIENT_REQUEST_NOT_GRANTED', async () => {
    asked.length = 0;
    const client = await pinnedOverHttp(a.url, closedKey);
    const r = (await client.callTool({ name: 'm26_confirm_delete', arguments: { item: 'draft-9' } })) as CallToolResult;
    expect(r.isError).toBe(true);
    expect(outcomeOf(r)).toMatchObject({ verdict: 'rejected', reasons: ['CLIENT_REQUEST_NOT_GRANTED'] });
    expect(asked).toEqual([]);
  });
});

describe('an upstream asking for input during a prompts/get', () => {
  it("holds the get like a call: the agent is asked under the upstream's key, and its retry gets the prompt", async () => {
    asked.length = 0;
    const client = await pinnedOverHttp(a.url, askerKey);
    const prompt = await client.getPrompt({ name: 'm26_confirm_prompt' });
    expect(prompt.messages).toEqual([{ role: 'user', content: { type: 'text', text: 'confirmed' } }]);
    expect(asked).toEqual(['Show the prompt?']);

    const get = (requestState?: unknown, inputResponses?: Record<string, unknown>) =>
      rawRequest(a.url, askerKey, 'prompts/get', { name: 'm26_confirm_prompt', ...(requestState ? { requestState } : {}), ...(inputResponses ? { inputResponses } : {}) }, { capabilities: ASKS });
    const first = await get();
    expect(first.body.result).toMatchObject({ resultType: 'input_required', inputRequests: { confirm: { method: 'elicitation/create', params: expect.objectContaining({ message: 'Show the prompt?' }) } } });
    const state = first.body.result?.['requestState'];
    // On the replica that does not hold it, the retry is refused, and the get goes on where it is held.
    const elsewhere = await rawRequest(b.url, askerKey, 'prompts/get', { name: 'm26_confirm_prompt', requestState: state, inputResponses: { confirm: { action: 'accept', content: { confirm: true } } } }, { capabilities: ASKS });
    expect(elsewhere.body.error?.message).toContain('INPUT_ROUND_NOT_HELD');
    const done = await get(state, { confirm: { action: 'accept', content: { confirm: true } } });
    expect(done.body.result).toMatchObject({ resultType: 'complete', messages: [{ role: 'user', content: { type: 'text', text: 'confirmed' } }] });
  });
});

describe('the rounds on the wire', () => {
  const call = (url: string, requestState?: string, inputResponses?: Record<string, unknown>, item = 'wire-1') =>
    rawRequest(url, askerKey, 'tools/call', { name: 'l25_confirm_delete', arguments: { item }, ...(requestState ? { requestState } : {}), ...(inputResponses ? { inputResponses } : {}) }, { capabilities: ASKS });

  it('embeds the upstream request, asks again without an answer, refuses a tampered state or another call, and ends with the answer', async () => {
    const first = await call(a.url);
    expect(first.body.result).toMatchObject({ resultType: 'input_required', inputRequests: { input_1: { method: 'elicitation/create', params: expect.objectContaining({ message: 'Delete wire-1?' }) } } });
    const state = first.body.result?.['requestState'] as string;
    expect(state).toEqual(expect.any(String));

    const again = await call(a.url, state);
    expect(again.body.result).toMatchObject({ resultType: 'input_required', inputRequests: { input_1: { method: 'elicitation/create' } } });
    const fresh = again.body.result?.['requestState'] as string;

    const tampered = fresh.slice(0, -2) + (fresh.endsWith('AA') ? 'BB' : 'AA');
    expect((await call(a.url, tampered, { input_1: { action: 'accept', content: { confirm: true } } })).body.error?.code).toBe(-32602);
    const other = await call(a.url, fresh, { input_1: { action: 'accept', content: { confirm: true } } }, 'wire-other');
    expect(outcomeOf(other.body.result as never)).toMatchObject({ verdict: 'rejected', reasons: ['SCHEMA_INVALID'] });

    const done = await call(a.url, fresh, { input_1: { action: 'accept', content: { confirm: true } } });
    expect(done.body.result).toMatchObject({ resultType: 'complete', content: [{ type: 'text', text: 'deleted wire-1' }] });
    // The same retry once more: the call has ended, so its recorded outcome answers; nothing runs again.
    const replay = await call(b.url, fresh, { input_1: { action: 'accept', content: { confirm: true } } });
    expect(replay.body.result).toMatchObject({ content: [{ type: 'text', text: 'deleted wire-1' }] });
  });

  it('a retry that reaches the replica not holding the call is refused INPUT_ROUND_NOT_HELD; the holding replica goes on', async () => {
    const first = await call(a.url, undefined, undefined, 'wire-2');
    const state = first.body.result?.['requestState'] as string;
    const elsewhere = await call(b.url, state, { input_1: { action: 'accept', content: { confirm: true } } }, 'wire-2');
    const refused = outcomeOf(elsewhere.body.result as never);
    expect(refused).toMatchObject({ verdict: 'rejected', reasons: ['INPUT_ROUND_NOT_HELD'] });
    expect(refused.details[0]?.message).toContain('held by another Mandate process');
    const done = await call(a.url, state, { input_1: { action: 'accept', content: { confirm: true } } }, 'wire-2');
    expect(done.body.result).toMatchObject({ content: [{ type: 'text', text: 'deleted wire-2' }] });
  });
});

describe("a 2026 upstream's rounds, passed on as the upstream wrote them", () => {
  const accept = (content: Record<string, unknown>) => ({ action: 'accept', content });
  const twoStep = (requestState?: string, inputResponses?: Record<string, unknown>) =>
    rawRequest(a.url, askerKey, 'tools/call', { name: 'm26_two_step', arguments: { label: 'raw' }, ...(requestState ? { requestState } : {}), ...(inputResponses ? { inputResponses } : {}) }, { capabilities: ASKS });

  it("asks under the upstream's own keys, and an SDK client answers a call that asks twice", async () => {
    const first = await rawRequest(a.url, askerKey, 'tools/call', { name: 'm26_confirm_delete', arguments: { item: 'keyed-1' } }, { capabilities: ASKS });
    expect(first.body.result).toMatchObject({ resultType: 'input_required', inputRequests: { confirm: { method: 'elicitation/create', params: expect.objectContaining({ message: 'Delete keyed-1?' }) } } });
    expect(Object.keys(first.body.result?.['inputRequests'] as object)).toEqual(['confirm']);
    // Answered under that key, the held call ends (and frees its upstream slot).
    const answered = await rawRequest(a.url, askerKey, 'tools/call', { name: 'm26_confirm_delete', arguments: { item: 'keyed-1' }, requestState: first.body.result?.['requestState'], inputResponses: { confirm: accept({ confirm: true }) } }, { capabilities: ASKS });
    expect(answered.body.result).toMatchObject({ resultType: 'complete', content: [{ type: 'text', text: 'deleted keyed-1' }] });

    const client = new Client({ name: 'two-step-test', version: '1.0.0' }, { versionNegotiation: { mode: { pin: REVISION } }, capabilities: ASKS });
    client.setRequestHandler('elicitation/create', (r) => accept(r.params.message === 'Your name?' ? { name: 'Ada' } : { colour: 'teal' }) as never);
    clients.push(client);
    const { StreamableHTTPClientTransport } = await import('@modelcontextprotocol/client');
    await client.connect(new StreamableHTTPClientTransport(new URL('/mcp', a.url), { requestInit: { headers: { Authorization: `Bearer ${askerKey}` } } }));
    const r = (await client.callTool({ name: 'm26_two_step', arguments: {} })) as CallToolResult;
    expect(r.isError, JSON.stringify(r)).toBeFalsy();
    expect(textOf(r)).toBe('Ada likes teal');
  });

  it("gives each round a new state, and applies no answer sent with an earlier round's state to the next round", async () => {
    const first = await twoStep();
    const state1 = first.body.result?.['requestState'] as string;
    expect(first.body.result).toMatchObject({ resultType: 'input_required', inputRequests: { step: { params: expect.objectContaining({ message: 'Your name?' }) } } });
    const second = await twoStep(state1, { step: accept({ name: 'Bo' }) });
    const state2 = second.body.result?.['requestState'] as string;
    expect(second.body.result).toMatchObject({ resultType: 'input_required', inputRequests: { step: { params: expect.objectContaining({ message: 'Your colour?' }) } } });
    expect(state2).not.toBe(state1);
    // The first round's retry repeated (its answer lost, say): the same key now names the second round's request, which it must not answer.
    const stale = await twoStep(state1, { step: accept({ name: 'Bo', colour: 'red' }) });
    expect(stale.body.result).toMatchObject({ resultType: 'input_required', inputRequests: { step: { params: expect.objectContaining({ message: 'Your colour?' }) } } });
    const done = await twoStep(stale.body.result?.['requestState'] as string, { step: accept({ colour: 'blue' }) });
    expect(done.body.result).toMatchObject({ resultType: 'complete', content: [{ type: 'text', text: 'Bo likes blue' }] });
  });

  it("tells the upstream, per call, only what the agent's request declared: it asks for no more, and a call needing more ends CLIENT_CAPABILITY_MISSING", async () => {
    asked.length = 0;
    const samplingOnly = new Client({ name: 'sampling-only', version: '1.0.0' }, { versionNegotiation: { mode: { pin: REVISION } }, capabilities: { sampling: {} } });
    samplingOnly.setRequestHandler('sampling/createMessage', () => ({ role: 'assistant', content: { type: 'text', text: 'short' }, model: 'stub-model' }) as never);
    clients.push(samplingOnly);
    const { StreamableHTTPClientTransport } = await import('@modelcontextprotocol/client');
    await samplingOnly.connect(new StreamableHTTPClientTransport(new URL('/mcp', a.url), { requestInit: { headers: { Authorization: `Bearer ${askerKey}` } } }));
    const r = (await samplingOnly.callTool({ name: 'm26_ask_declared', arguments: { label: 'sampling only' } })) as CallToolResult;
    expect(r.isError, JSON.stringify(r)).toBeFalsy();
    expect(textOf(r)).toBe('got summary');
    // Nothing declared: the upstream hears nothing declared (Mandate's client could relay all three, its agent cannot be asked).
    const none = await rawRequest(a.url, askerKey, 'tools/call', { name: 'm26_ask_declared', arguments: { label: 'none' } }, { capabilities: {} });
    expect(none.body.result).toMatchObject({ resultType: 'complete', content: [{ type: 'text', text: 'nothing declared' }] });
    // A tool that needs elicitation, called by a request that declared only sampling: the upstream refuses it (-32021), and says so.
    const refused = (await samplingOnly.callTool({ name: 'm26_confirm_delete', arguments: { item: 'needs-elicitation' } })) as CallToolResult;
    expect(refused.isError).toBe(true);
    const outcome = outcomeOf(refused);
    expect(outcome).toMatchObject({ verdict: 'rejected', reasons: ['CLIENT_CAPABILITY_MISSING'] });
    expect(outcome.details[0]?.message).toContain("upstream `m26` needs the agent's client to declare `elicitation` for this call");
  });
});

describe('a call that became a task before its upstream asked', () => {
  it('shows the request in tasks/get as input_required, takes the answer in tasks/update, and completes', async () => {
    const { StreamableHTTPClientTransport } = await import('@modelcontextprotocol/client');
    const tasks = await taskClient(new StreamableHTTPClientTransport(new URL('/mcp', a.url), { requestInit: { headers: { Authorization: `Bearer ${askerKey}` } } }), { elicitation: true });
    clients.push(tasks.client);
    for (const tool of ['m26_confirm_delete', 'l25_confirm_delete']) {
      const started = await tasks.call(tool, { item: `slow-${tool}`, delay_ms: 1500 });
      expect(started.task, JSON.stringify(started)).toBeDefined();
      const taskId = started.task?.taskId as string;
      const asking = await tasks.until(taskId, (t) => t.status === 'input_required');
      // A 2026 upstream's request keeps its own key; a 2025 upstream's, sent without one, gets Mandate's.
      const key = tool.startsWith('m26') ? 'confirm' : 'input_1';
      expect(asking.inputRequests).toMatchObject({ [key]: { method: 'elicitation/create', params: { message: `Delete slow-${tool}?` } } });
      await tasks.update(taskId, { [key]: { action: 'accept', content: { confirm: true } } });
      const done = await tasks.until(taskId, (t) => t.status === 'completed');
      expect(done.result?.isError, JSON.stringify(done)).toBeFalsy();
      expect(JSON.stringify(done.result?.content)).toContain(`deleted slow-${tool}`);
    }
  });
});
