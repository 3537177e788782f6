/**
 * The gateway in front of an upstream that speaks only MCP 2026-07-28
 * (ADR-027): a fixture on SDK v2's server, stateless, refusing any 2025
 * handshake, over a stdio pipe and over Streamable HTTP. Mandate's upstream
 * client (SDK v2, `versionNegotiation: auto`) selects 2026-07-28 for it, the
 * pin records that revision, and governed calls reach it from a 2025 agent
 * (SDK v1 client) and from a 2026 agent (SDK v2 client in auto mode), over
 * stdio and HTTP. The upstream's `input_required` elicitation is governed by
 * the contract's `client_requests` and reaches a 2025 agent as a server-sent
 * elicitation (a 2026 agent's rounds: e2e-gateway-input-rounds.test.ts). An
 * upstream whose revision changes is reported like pin drift.
 */
import type { ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { ElicitRequestSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, E2E, REPO_ROOT, cleanEnv, exportLedger, runCli, type AgentClient, type Outcome } from './helpers/e2e.js';
import { FIXTURES, NODE, OUTCOME_META, appendConfig, killStarted, modernFixtureOverHttp, pin, writeContract, y } from './helpers/gateway.js';
import { createKey, startHttp, type HttpServer } from './helpers/http.js';
import { v2Agent, type V2Agent } from './helpers/mcp2026.js';

const MODERN = join(FIXTURES, 'modern-only.mjs');
const e2e = new E2E();
let ws: string;
let httpUpstream: ChildProcess;
let server: HttpServer;
let agentKey: string;
let pinOutput: string;
let legacyAgent: AgentClient;
let closedAgent: AgentClient;
let modernAgent: Client;
const asked: string[] = [];
const v2Clients: { close(): Promise<unknown> }[] = [];
const state = () => join(ws, 'era.json');

const outcomeOf = (r: CallToolResult) => (r._meta as Record<string, unknown>)[OUTCOME_META] as Outcome;
const textOf = (r: CallToolResult) => (r.content as { type: string; text?: string }[]).map((c) => c.text ?? '').join('');

/** `mandate serve --stdio` for the agent, with a v2 client in auto mode. */
async function modernStdioAgent(agent: string): Promise<Client> {
  const client = new Client({ name: 'bridge-2026-test', version: '1.0.0' }, { versionNegotiation: { mode: 'auto' } });
  v2Clients.push(client);
  await client.connect(new StdioClientTransport({ command: NODE, args: [CLI, 'serve', '--stdio', '--agent', agent, '-w', ws, '--log-level', 'warn'], cwd: REPO_ROOT, env: cleanEnv(), stderr: 'ignore' }));
  return client;
}

beforeAll(async () => {
  ws = await e2e.workspace();
  const http = await modernFixtureOverHttp();
  httpUpstream = http.child;
  writeFileSync(state(), JSON.stringify({ era: '2025' }));
  appendConfig(
    ws,
    `upstreams:
  m26:
    command: ${y(NODE)}
    args: [${y(MODERN)}, stdio]
  h26:
    url: ${y(http.url)}
  shift:
    command: ${y(NODE)}
    args: [${y(MODERN)}, stdio, era.json]`,
  );
  const grants = 'grants:\n  - capability: m26.*\n  - capability: h26.*\n';
  writeContract(ws, 'bridger', `${grants}client_requests:\n  - upstream: m26\n    kind: elicitation\n  - upstream: h26\n    kind: elicitation\n`);
  writeContract(ws, 'closed', grants);
  pinOutput = await pin(ws);
  agentKey = (await createKey(ws, { agent: 'bridger' })).key;
  server = await startHttp(ws);
  legacyAgent = await e2e.client(ws, 'bridger', {
    capabilities: { elicitation: { form: {} } },
    beforeConnect: (c) =>
      c.setRequestHandler(ElicitRequestSchema, (r) => {
        asked.push(String(r.params.message));
        return { action: 'accept', content: { confirm: true } };
      }),
  });
  closedAgent = await e2e.client(ws, 'closed', {
    capabilities: { elicitation: { form: {} } },
    beforeConnect: (c) =>
      c.setRequestHandler(ElicitRequestSchema, (r) => {
        asked.push(`closed: ${String(r.params.message)}`);
        return { action: 'accept', content: { confirm: true } };
      }),
  });
}, 90_000);

afterAll(async () => {
  await Promise.all(v2Clients.map((c) => c.close().catch(() => undefined)));
  await server?.stop();
  httpUpstream?.kill('SIGKILL');
  killStarted(`${state()}.starts`);
  await e2e.cleanup();
});

describe('an upstream that speaks only 2026-07-28', () => {
  it('is pinned with the revision it speaks, over stdio and over HTTP', () => {
    expect(pinOutput).toMatch(/upstream m26: pinned 8 definition\(s\)[^\n]*\n {2}speaks MCP 2026-07-28\n/);
    expect(pinOutput).toMatch(/upstream h26: pinned 8 definition\(s\)[^\n]*\n {2}speaks MCP 2026-07-28\n/);
    expect(pinOutput).toMatch(/upstream shift: pinned 5 definition\(s\)[^\n]*\n {2}speaks MCP 2025-11-25\n/);
  });

  it('a 2025 agent (SDK v1 client) gets governed calls through to it over stdio and HTTP, with the trace id', async () => {
    for (const tool of ['m26_greet', 'h26_greet']) {
      const r = (await legacyAgent.client.callTool({ name: tool, arguments: { name: 'ada' } })) as CallToolResult;
      expect(r.isError, JSON.stringify(r)).toBeFalsy();
      expect(textOf(r)).toBe('hello ada');
      const outcome = outcomeOf(r);
      expect(outcome).toMatchObject({ verdict: 'accepted', capability: tool.replace('_', '.') });
      // The upstream saw Mandate's dfid as its trace id, and none of its own envelope reaches the agent.
      expect(String((r._meta as Record<string, unknown>)['traceparent_seen'])).toContain(outcome.dfid);
      expect(r._meta).not.toHaveProperty(['io.modelcontextprotocol/serverInfo']);
    }
  });

  it('a 2026 agent (SDK v2 client, auto mode) over stdio gets the same governed calls', async () => {
    const client = await modernStdioAgent('bridger');
    modernAgent = client;
    expect(client.getProtocolEra()).toBe('modern');
    for (const tool of ['m26_greet', 'h26_greet']) {
      const r = (await client.callTool({ name: tool, arguments: { name: 'grace' } })) as CallToolResult;
      expect(r.isError, JSON.stringify(r)).toBeFalsy();
      expect(textOf(r)).toBe('hello grace');
      expect(outcomeOf(r)).toMatchObject({ verdict: 'accepted', capability: tool.replace('_', '.') });
    }
  });

  it('a 2026 agent over HTTP (serve --http, no session) gets them too', async () => {
    const agent: V2Agent = await v2Agent(server.url, agentKey, 'auto');
    v2Clients.push(agent);
    expect(agent.client.getProtocolEra()).toBe('modern');
    for (const tool of ['m26_greet', 'h26_greet']) {
      const r = (await agent.client.callTool({ name: tool, arguments: { name: 'lin' } })) as CallToolResult;
      expect(r.isError, JSON.stringify(r)).toBeFalsy();
      expect(textOf(r)).toBe('hello lin');
    }
  });

  it("the upstream's input_required elicitation reaches a 2025 agent as a server-sent elicitation, governed by client_requests", async () => {
    asked.length = 0;
    for (const [tool, item] of [
      ['m26_confirm_delete', 'draft-1'],
      ['h26_confirm_delete', 'draft-2'],
    ] as const) {
      const r = (await legacyAgent.client.callTool({ name: tool, arguments: { item } })) as CallToolResult;
      expect(r.isError, JSON.stringify(r)).toBeFalsy();
      expect(textOf(r)).toBe(`deleted ${item}`);
    }
    expect(asked).toEqual(['Delete draft-1?', 'Delete draft-2?']);
    const { events } = await exportLedger(ws);
    const relayed = events.filter((e) => e.type === 'ClientRequestRelayed' && e.agent === 'bridger');
    expect(relayed.map((e) => e.data)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ upstream: 'm26', method: 'elicitation/create', during: 'confirm_delete', allowed: true, answered: true, action: 'accept' }),
        expect.objectContaining({ upstream: 'h26', method: 'elicitation/create', during: 'confirm_delete', allowed: true, answered: true, action: 'accept' }),
      ]),
    );
  });

  it('without client_requests for it, the agent is never asked and the call ends CLIENT_REQUEST_NOT_GRANTED', async () => {
    asked.length = 0;
    const r = (await closedAgent.client.callTool({ name: 'm26_confirm_delete', arguments: { item: 'draft-3' } })) as CallToolResult;
    expect(r.isError).toBe(true);
    // A 2026 upstream never hears the refusal (its input rounds stop): the call ends with the contract's reason.
    expect(outcomeOf(r)).toMatchObject({ verdict: 'rejected', reasons: ['CLIENT_REQUEST_NOT_GRANTED'] });
    expect(textOf(r)).not.toContain('deleted');
    expect(asked).toEqual([]);
    const { events } = await exportLedger(ws);
    expect(events.some((e) => e.type === 'ClientRequestRelayed' && e.agent === 'closed' && e.data['allowed'] === false)).toBe(true);
  });
});

describe('a 2025 agent whose client did not declare elicitation', () => {
  it('is not asked: the upstream is told what the session declared, refuses the call (-32021), and the call ends CLIENT_CAPABILITY_MISSING saying why', async () => {
    asked.length = 0;
    const bare = await e2e.client(ws, 'bridger');
    const r = (await bare.client.callTool({ name: 'm26_confirm_delete', arguments: { item: 'draft-5' } })) as CallToolResult;
    expect(r.isError).toBe(true);
    expect(outcomeOf(r)).toMatchObject({ verdict: 'rejected', reasons: ['CLIENT_CAPABILITY_MISSING'], capability: 'm26.confirm_delete' });
    // The upstream's own refusal, not the relay's: it was never told this agent could be asked.
    expect(outcomeOf(r).details[0]?.message).toContain("upstream `m26` needs the agent's client to declare `elicitation` for this call");
    expect(asked).toEqual([]);
  });
});

describe('a 2026 agent whose request did not declare elicitation', () => {
  it('is not asked: the upstream is told so, refuses the call (-32021), and the call ends CLIENT_CAPABILITY_MISSING saying why (an agent that declares it gets input_required, ADR-034)', async () => {
    asked.length = 0;
    const r = (await modernAgent.callTool({ name: 'm26_confirm_delete', arguments: { item: 'draft-4' } })) as CallToolResult;
    expect(r.isError).toBe(true);
    const outcome = JSON.parse(textOf(r)) as Outcome;
    expect(outcome).toMatchObject({ verdict: 'rejected', reasons: ['CLIENT_CAPABILITY_MISSING'], capability: 'm26.confirm_delete' });
    expect(outcome.details[0]?.message).toContain("upstream `m26` needs the agent's client to declare `elicitation` for this call, and this request did not");
    expect(asked).toEqual([]);
  });
});

describe("an upstream's revision is part of its pin", () => {
  it('a change from 2025-11-25 to 2026-07-28 is reported like other drift, by pin and by doctor', async () => {
    writeFileSync(state(), JSON.stringify({ era: '2026' }));
    const doctor = await runCli(['doctor', '-w', ws]);
    expect(doctor.stdout).toMatch(/upstream shift [^\n]*\n {2}speaks MCP 2026-07-28, pinned speaking 2025-11-25: its identity \(server:info\) changed\n {2}CHANGED since pinned[^\n]*server:info/);
    const dry = await runCli(['upstream', 'pin', '--dry-run', '--server', 'shift', '-w', ws, '--as', 'tester']);
    expect(dry.code, dry.stdout + dry.stderr).toBe(0);
    expect(dry.stdout).toContain('speaks MCP 2026-07-28 (it spoke 2025-11-25 when last pinned)');
    expect(dry.stdout).toMatch(/changed \(re-pinned, out of quarantine\): [^\n]*server:info/);
    const json = await runCli(['upstream', 'pin', '--json', '--server', 'shift', '-w', ws, '--as', 'tester']);
    const report = (JSON.parse(json.stdout) as { reports: Record<string, unknown>[] }).reports[0];
    expect(report).toMatchObject({ ok: true, revision: '2026-07-28', revision_before: '2025-11-25' });
    const { events } = await exportLedger(ws);
    const pinned = events.filter((e) => e.type === 'UpstreamPinned' && e.data['upstream'] === 'shift').map((e) => e.data['revision']);
    expect(pinned).toEqual(['2025-11-25', '2026-07-28']);
  });
});
