/**
 * The gateway in transparent mode (ADR-013), end to end: a real SDK client
 * talks to @modelcontextprotocol/server-everything directly, and through
 * Mandate, with the upstream over stdio and over Streamable HTTP, and the
 * agent reaching Mandate over stdio and over Streamable HTTP. For
 * every primitive the server has, both get the same results, compared
 * structurally except for Mandate's `_meta` entries: tool lists and results
 * of every content type, resources, templates, reads, subscriptions and
 * their updates, prompts with arguments and embedded resources,
 * completions, logging, progress, sampling, elicitation and roots.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CallToolResultSchema, type CallToolResult, type ClientCapabilities, type Progress } from '@modelcontextprotocol/sdk/types.js';
import type { ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { E2E, exportLedger, waitFor } from './helpers/e2e.js';
import { callWithProgressTap } from './helpers/progress-tap.js';
import { EVERYTHING_SERVER, NODE, appendConfig, pin, writeContract, y } from './helpers/gateway.js';
import { createKey, startHttp, type HttpServer } from './helpers/http.js';
import { answering, bare, everythingOverHttp, type Peer } from './helpers/peer.js';

/** Everything a client can offer, as Mandate's own client offers it to an upstream (the upstream lists tools by it). */
const CAPS: ClientCapabilities = { sampling: {}, elicitation: { form: {}, url: {} }, roots: { listChanged: true } };

const byName = <T extends { name: string }>(xs: T[]) => [...xs].sort((a, b) => a.name.localeCompare(b.name));

/** A workspace that fronts server-everything transparently, with only the upstream's primitives listed. */
async function transparentWorkspace(e2e: E2E, upstream: string): Promise<string> {
  const ws = await e2e.workspace();
  const path = join(ws, 'mandate.yaml');
  writeFileSync(path, readFileSync(path, 'utf8').replace('expose_capabilities: true', 'expose_capabilities: true\n  mandate_tools: false'));
  appendConfig(ws, `upstreams:\n  every:\n${upstream}\n    expose: transparent\n    deadline_ms: 15000\n    max_output_bytes: 1048576`);
  writeContract(
    ws,
    'everyone',
    `grants:
  - capability: every.*
resources:
  - upstream: every
    uri: "*"
prompts:
  - upstream: every
    name: "*"
client_requests:
  - upstream: every
    kind: sampling
  - upstream: every
    kind: elicitation
`,
  );
  return ws;
}

describe.each([
  ['upstream over stdio, agent over stdio', null, 'stdio'],
  ['upstream over Streamable HTTP, agent over stdio', 'http', 'stdio'],
  ['upstream over stdio, agent over Streamable HTTP', null, 'http'],
] as const)('transparent mode, %s', (_label, transport, served) => {
  const e2e = new E2E();
  let http: { url: string; child: ChildProcess } | null = null;
  let mandateHttp: HttpServer | null = null;
  let ws: string;
  let through: Peer;
  let direct: Peer;


  beforeAll(async () => {
    let upstreamYaml: string;
    if (transport === 'http') {
      http = await everythingOverHttp();
      upstreamYaml = `    url: ${y(http.url)}`;
    } else upstreamYaml = `    command: ${y(NODE)}\n    args: [${y(EVERYTHING_SERVER)}, stdio]`;
    ws = await transparentWorkspace(e2e, upstreamYaml);
    await pin(ws, 'every');
    if (served === 'http') {
      const { key } = await createKey(ws, { agent: 'everyone' });
      mandateHttp = await startHttp(ws);
      const client = new Client({ name: 'agent', version: '0.0.0' }, { capabilities: CAPS });
      through = answering(client);
      await client.connect(new StreamableHTTPClientTransport(new URL(`${mandateHttp.url}/mcp`), { requestInit: { headers: { Authorization: `Bearer ${key}` } } }));
    } else await e2e.client(ws, 'everyone', { capabilities: CAPS, beforeConnect: (c) => void (through = answering(c)) });
    const client = new Client({ name: 'direct', version: '0.0.0' }, { capabilities: CAPS });
    direct = answering(client);
    await client.connect(http ? new StreamableHTTPClientTransport(new URL(http.url)) : new StdioClientTransport({ command: NODE, args: [EVERYTHING_SERVER, 'stdio'], stderr: 'pipe' }));
  }, 60_000);

  afterAll(async () => {
    await direct?.client.close();
    if (served === 'http') await through?.client.close();
    await mandateHttp?.stop();
    await e2e.cleanup();
    http?.child.kill();
  });

  it('introduces itself as the upstream: its name, version, instructions and capabilities, as pinned', async () => {
    expect(through.client.getServerVersion()).toEqual(direct.client.getServerVersion());
    expect(through.client.getInstructions()).toBe(direct.client.getInstructions());
    // Tasks are Mandate's own (ADR-014), kept in its store: offered because the upstream offers them, for tool calls.
    const { tasks: upstreamTasks, ...theirs } = direct.client.getServerCapabilities() ?? {};
    const { tasks: ours, ...rest } = through.client.getServerCapabilities() ?? {};
    expect(rest).toEqual(theirs);
    expect(upstreamTasks).toBeDefined();
    expect(ours).toMatchObject({ requests: { tools: { call: {} } }, cancel: {}, list: {} });
  });

  it('lists the same tools, resources, templates and prompts, byte for byte ($schema kept, no Mandate tools)', async () => {
    const [mine, theirs] = [through.client, direct.client];
    const tools = byName((await mine.listTools()).tools);
    expect(tools).toEqual(byName((await theirs.listTools()).tools));
    expect(tools.find((t) => t.name === 'echo')?.inputSchema['$schema']).toBe('http://json-schema.org/draft-07/schema#');
    expect(tools.some((t) => t.name === 'submit_intent')).toBe(false);
    // The tool that can only run as an MCP task is proxied, not skipped.
    expect(tools.find((t) => t.name === 'simulate-research-query')?.execution).toEqual({ taskSupport: 'required' });
    // Lists are compared as sets: MCP gives their order no meaning, and Mandate lists pins in name order.
    expect(byName((await mine.listResources()).resources)).toEqual(byName((await theirs.listResources()).resources));
    expect(byName((await mine.listResourceTemplates()).resourceTemplates)).toEqual(byName((await theirs.listResourceTemplates()).resourceTemplates));
    expect(byName((await mine.listPrompts()).prompts)).toEqual(byName((await theirs.listPrompts()).prompts));
  });

  it.each([
    ['get-tiny-image', {}],
    ['get-resource-links', { count: 3 }],
    ['get-resource-reference', { resourceType: 'Blob', resourceId: 2 }],
    ['get-structured-content', { location: 'Chicago' }],
    ['get-annotated-message', { messageType: 'error', includeImage: true }],
    ['get-sum', { a: 2, b: 40 }],
    ['echo', { message: 'hello through the gateway' }],
  ])('tool %s: the same result', async (tool, args) => {
    const mine = (await through.client.callTool({ name: tool, arguments: args })) as CallToolResult;
    expect(mine._meta?.['mandate/outcome']).toMatchObject({ verdict: 'accepted', capability: `every.${tool}` });
    expect(bare(mine)).toEqual(bare(await direct.client.callTool({ name: tool, arguments: args })));
  });

  it('resources: static and templated reads, text and blob, are the same', async () => {
    for (const uri of ['demo://resource/static/document/features.md', 'demo://resource/dynamic/text/3', 'demo://resource/dynamic/blob/4']) {
      const mine = await through.client.readResource({ uri });
      expect(mine._meta?.['mandate/access']).toMatchObject({ dfid: expect.stringMatching(/^[0-9a-f]{32}$/) });
      expect(bare(mine), uri).toEqual(bare(await direct.client.readResource({ uri })));
    }
  });

  it('prompts: without and with arguments, and with an embedded resource, are the same', async () => {
    const prompts: [string, Record<string, string> | undefined][] = [
      ['simple-prompt', undefined],
      ['args-prompt', { city: 'Paris', state: 'Texas' }],
      ['resource-prompt', { resourceType: 'Text', resourceId: '5' }],
    ];
    for (const [name, args] of prompts) {
      const req = { name, ...(args ? { arguments: args } : {}) };
      expect(bare(await through.client.getPrompt(req)), name).toEqual(bare(await direct.client.getPrompt(req)));
    }
  });

  it('completions of a prompt argument and of a template variable are the same', async () => {
    const prompt = { ref: { type: 'ref/prompt' as const, name: 'completable-prompt' }, argument: { name: 'department', value: 'E' } };
    const mine = await through.client.complete(prompt);
    expect(mine.completion.values.length).toBeGreaterThan(0);
    expect(mine).toEqual(await direct.client.complete(prompt));
    const template = { ref: { type: 'ref/resource' as const, uri: 'demo://resource/dynamic/text/{resourceId}' }, argument: { name: 'resourceId', value: '1' } };
    expect(await through.client.complete(template)).toEqual(await direct.client.complete(template));
  });

  it('progress reaches the caller as it does directly, all of it before the answer', async () => {
    const call = { name: 'trigger-long-running-operation', arguments: { duration: 0.6, steps: 3 } };
    const mine = await callWithProgressTap(through.client, call);
    const theirs = await callWithProgressTap(direct.client, call);
    const steps = (p: Progress[]) => p.map((x) => [x.progress, x.total]);
    expect(steps(mine.progress)).toEqual([
      [1, 3],
      [2, 3],
      [3, 3],
    ]);
    expect(steps(mine.progress)).toEqual(steps(theirs.progress));
    expect(mine.late).toEqual([]);
  });

  it('sampling and elicitation are relayed to the agent’s own client and answered the same', async () => {
    const args = { prompt: 'two plus two', maxTokens: 20 };
    const mine = (await through.client.callTool({ name: 'trigger-sampling-request', arguments: args })) as CallToolResult;
    expect(through.sampled).toBe(1);
    expect(bare(mine)).toEqual(bare(await direct.client.callTool({ name: 'trigger-sampling-request', arguments: args })));
    const elicited = (await through.client.callTool({ name: 'trigger-elicitation-request', arguments: {} })) as CallToolResult;
    expect(through.elicited).toBe(1);
    expect(bare(elicited)).toEqual(bare(await direct.client.callTool({ name: 'trigger-elicitation-request', arguments: {} })));
    // Each relay is in the call's lineage: who asked, during which tool, hashes of the request and of the answer.
    const { events, raw } = await exportLedger(ws);
    const relays = events.filter((e) => e.type === 'ClientRequestRelayed');
    expect(relays.map((e) => [e.dfid, e.data['during'], e.data['allowed'], e.data['action'] ?? null])).toEqual([
      [(mine._meta?.['mandate/outcome'] as { dfid: string }).dfid, 'trigger-sampling-request', true, null],
      [(elicited._meta?.['mandate/outcome'] as { dfid: string }).dfid, 'trigger-elicitation-request', true, 'accept'],
    ]);
    for (const r of relays) expect(r.data).toMatchObject({ upstream: 'every', request_hash: expect.stringMatching(/^[0-9a-f]{64}$/), answer_hash: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(raw).not.toContain('a sampled answer');
    expect(raw).not.toContain('two plus two');
  });

  it('roots come from the agent’s client', async () => {
    const mine = (await through.client.callTool({ name: 'get-roots-list', arguments: {} })) as CallToolResult;
    expect(JSON.stringify(mine.content)).toContain('file:///srv/project');
    expect(bare(mine)).toEqual(bare(await direct.client.callTool({ name: 'get-roots-list', arguments: {} })));
  });

  it('a tool that can only run as an MCP task is called upstream as a task; its final result is the same', async () => {
    const params = { name: 'simulate-research-query', arguments: { topic: 'governance' } };
    // The agent's SDK client would insist on a task of its own (Mandate's server-side tasks are not part of this); a plain call is answered.
    const mine = await through.client.request({ method: 'tools/call', params }, CallToolResultSchema, { timeout: 20_000 });
    let theirs: unknown = null;
    for await (const m of direct.client.experimental.tasks.callToolStream(params, CallToolResultSchema, { timeout: 20_000 })) if (m.type === 'result') theirs = m.result;
    expect(mine._meta?.['mandate/outcome']).toMatchObject({ verdict: 'accepted', capability: 'every.simulate-research-query' });
    expect(bare(mine)).toEqual(bare(theirs as CallToolResult));
  }, 30_000);

  it('logging: the level is forwarded and log messages reach the agent', async () => {
    await through.client.setLoggingLevel('debug');
    through.logs.length = 0;
    await through.client.callTool({ name: 'toggle-simulated-logging', arguments: {} });
    await waitFor(() => through.logs.length > 0, 8_000, 'a log message through Mandate');
    await through.client.callTool({ name: 'toggle-simulated-logging', arguments: {}, _meta: { idempotency_key: 'logging-off' } });
  });

  it('list_changed an upstream sends while starting changes nothing the agent lists, so it is not passed on (server-everything sends one per tool it adds after initialize)', () => {
    // Over HTTP the upstream sends them before any client has opened its stream for server messages: nobody gets them.
    expect(direct.toolListChanged > 0).toBe(transport !== 'http');
    // The agent's lists are the pins, which already hold those tools (test/e2e-gateway-list-changed.test.ts: a real change is passed on once).
    expect(through.toolListChanged).toBe(0);
  });

  it('subscriptions: updates of a subscribed resource reach the agent, and stop after unsubscribing', async () => {
    const uri = 'demo://resource/static/document/architecture.md';
    await through.client.subscribeResource({ uri });
    through.updates.length = 0;
    await through.client.callTool({ name: 'toggle-subscriber-updates', arguments: {} });
    await waitFor(() => through.updates.includes(uri), 8_000, 'a resources/updated notification');
    await through.client.unsubscribeResource({ uri });
    await through.client.callTool({ name: 'toggle-subscriber-updates', arguments: {}, _meta: { idempotency_key: 'updates-off' } });
  });
});
