/**
 * An upstream's prompts and completions on the 2026-07-28 wire, governed as
 * on the 2025 wire (ADR-013, ADR-024): Mandate fronts the everything server
 * and a fixture with a prompt; a real `@modelcontextprotocol/client` 2.x,
 * pinned over HTTP and in auto mode over stdio, lists only the granted
 * prompts, gets one whose Cedar condition holds, is refused one that is not
 * granted or whose condition fails (with the reason codes, recorded in the
 * ledger), and completes a granted prompt's argument. Lists carry
 * `resultType`, `ttlMs` and `cacheScope: "private"`; `server/discover`
 * declares prompts and completions only when an upstream offers them.
 */
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, E2E, REPO_ROOT, cleanEnv, exportLedger, type AgentClient } from './helpers/e2e.js';
import { EVERYTHING_SERVER, FIXTURES, NODE, appendConfig, killStarted, pin, refusedWith, writeContract, y } from './helpers/gateway.js';
import { createKey, startHttp, type HttpServer } from './helpers/http.js';
import { rawRequest, v2Agent, type V2Agent } from './helpers/mcp2026.js';

const e2e = new E2E();
let ws: string;
let server: HttpServer;
let key: string;
let overHttp: V2Agent;
let legacy: AgentClient;
const v2Clients: Client[] = [];
const state = () => join(ws, 'notes.json');

/** `mandate serve --stdio` for the agent, with a v2 client in auto mode. */
async function stdioAgent(workspace: string, agent: string): Promise<Client> {
  const client = new Client({ name: 'prompts-2026-test', version: '1.0.0' }, { versionNegotiation: { mode: 'auto' } });
  v2Clients.push(client);
  await client.connect(new StdioClientTransport({ command: NODE, args: [CLI, 'serve', '--stdio', '--agent', agent, '-w', workspace, '--log-level', 'warn'], cwd: REPO_ROOT, env: cleanEnv(), stderr: 'ignore' }));
  return client;
}

beforeAll(async () => {
  ws = await e2e.workspace();
  writeFileSync(state(), JSON.stringify({}));
  appendConfig(
    ws,
    `upstreams:
  every:
    command: ${y(NODE)}
    args: [${y(EVERYTHING_SERVER)}, stdio]
    expose: transparent
    deadline_ms: 15000
  notes:
    command: ${y(NODE)}
    args: [${y(join(FIXTURES, 'drifting-primitives.mjs'))}, notes.json]`,
  );
  writeContract(
    ws,
    'narrow',
    `grants:
  - capability: every.echo
prompts:
  - upstream: every
    name: args-prompt
    when: context.arguments has city && context.arguments.city == "Paris"
  - upstream: every
    name: completable-prompt
  - upstream: notes
    name: "*"
`,
  );
  await pin(ws);
  key = (await createKey(ws, { agent: 'narrow' })).key;
  server = await startHttp(ws);
  overHttp = await v2Agent(server.url, key, 'pin');
  legacy = await e2e.client(ws, 'narrow');
}, 90_000);

afterAll(async () => {
  await overHttp?.close().catch(() => undefined);
  await Promise.all(v2Clients.map((c) => c.close().catch(() => undefined)));
  await server?.stop();
  killStarted(`${state()}.starts`);
  await e2e.cleanup();
});

describe('over HTTP, a v2 client pinned to 2026-07-28', () => {
  it('sees prompts and completions declared, and lists only the granted prompts, as the 2025 wire does', async () => {
    const { client } = overHttp;
    expect(client.getProtocolEra()).toBe('modern');
    expect(client.getServerCapabilities()).toMatchObject({ prompts: {}, completions: {} });
    const listed = (await client.listPrompts()).prompts;
    expect(listed.map((p) => p.name).sort()).toEqual(['args-prompt', 'completable-prompt', 'notes_summarise']);
    // The same pinned definitions the 2025 wire lists, entry for entry.
    expect(listed).toEqual((await legacy.client.listPrompts()).prompts);
  });

  it('gets a granted prompt whose condition holds, with Mandate’s record, and the same messages as on the 2025 wire', async () => {
    const req = { name: 'args-prompt', arguments: { city: 'Paris' } };
    const paris = await overHttp.client.getPrompt(req);
    expect(JSON.stringify(paris.messages)).toContain('Paris');
    expect(paris._meta?.['mandate/access']).toMatchObject({ dfid: expect.stringMatching(/^[0-9a-f]{32}$/), decision_id: expect.any(String) });
    expect(paris.messages).toEqual((await legacy.client.getPrompt(req)).messages);
    const notes = await overHttp.client.getPrompt({ name: 'notes_summarise', arguments: { style: 'briefly' } });
    expect(JSON.stringify(notes.messages)).toContain('Summarise the notes, briefly.');
  });

  it('refuses what the contract does not grant, a failed condition and an unknown prompt, with the reason codes', async () => {
    const notGranted = await refusedWith(overHttp.client.getPrompt({ name: 'simple-prompt' }));
    expect(notGranted.code).toBe(-32003);
    expect(notGranted.data?.reasons).toEqual(['PROMPT_NOT_GRANTED']);
    const london = await refusedWith(overHttp.client.getPrompt({ name: 'args-prompt', arguments: { city: 'London' } }));
    expect(london.code).toBe(-32003);
    expect(london.data?.reasons).toEqual(['POLICY_NO_PERMIT']);
    const unknown = await refusedWith(overHttp.client.getPrompt({ name: 'no-such-prompt' }));
    expect(unknown.code).toBe(-32602);
    expect(unknown.data?.reasons).toEqual(['PRIMITIVE_UNKNOWN']);
  });

  it('completes a granted prompt’s argument as the 2025 wire does, and refuses an ungranted one', async () => {
    const req = { ref: { type: 'ref/prompt' as const, name: 'completable-prompt' }, argument: { name: 'department', value: 'E' } };
    const mine = await overHttp.client.complete(req);
    expect(mine.completion.values.length).toBeGreaterThan(0);
    expect(mine.completion).toEqual((await legacy.client.complete(req)).completion);
    const refused = await refusedWith(overHttp.client.complete({ ref: { type: 'ref/prompt', name: 'simple-prompt' }, argument: { name: 'x', value: '' } }));
    expect(refused.code).toBe(-32602);
    expect(refused.message).toContain('PRIMITIVE_UNKNOWN');
  });

  it('on the wire: prompts/list carries resultType, ttlMs and cacheScope "private"; server/discover declares prompts and completions', async () => {
    const listed = await rawRequest(server.url, key, 'prompts/list');
    expect(listed.status).toBe(200);
    expect(listed.body.result).toMatchObject({ resultType: 'complete', ttlMs: expect.any(Number), cacheScope: 'private' });
    const got = await rawRequest(server.url, key, 'prompts/get', { name: 'args-prompt', arguments: { city: 'Paris' } });
    expect(got.body.result).toMatchObject({ resultType: 'complete', messages: expect.any(Array) });
    const discover = await rawRequest(server.url, key, 'server/discover');
    expect(discover.body.result?.['capabilities']).toMatchObject({ prompts: {}, completions: {} });
  });

  it('the ledger records each 2026 get, allowed or refused, without the prompt’s arguments', async () => {
    const { events, raw } = await exportLedger(ws);
    const gets = events.filter((e) => e.type === 'PromptAccessed' && e.agent === 'narrow');
    expect(gets.filter((e) => e.data['allowed'] === true && e.data['prompt'] === 'args-prompt').length).toBeGreaterThanOrEqual(2);
    expect(gets.some((e) => e.data['allowed'] === false && e.reasons.includes('POLICY_NO_PERMIT'))).toBe(true);
    expect(gets.some((e) => e.data['allowed'] === false && e.reasons.includes('PROMPT_NOT_GRANTED'))).toBe(true);
    expect(raw).not.toContain('London');
  });
});

describe('over stdio, a v2 client in auto mode', () => {
  it('selects 2026-07-28 and gets the same governed prompts and refusals', async () => {
    const client = await stdioAgent(ws, 'narrow');
    expect(client.getProtocolEra()).toBe('modern');
    expect(client.getServerCapabilities()).toMatchObject({ prompts: {}, completions: {} });
    expect((await client.listPrompts()).prompts.map((p) => p.name).sort()).toEqual(['args-prompt', 'completable-prompt', 'notes_summarise']);
    expect(JSON.stringify((await client.getPrompt({ name: 'args-prompt', arguments: { city: 'Paris' } })).messages)).toContain('Paris');
    expect((await refusedWith(client.getPrompt({ name: 'args-prompt', arguments: { city: 'London' } }))).data?.reasons).toEqual(['POLICY_NO_PERMIT']);
    const done = await client.complete({ ref: { type: 'ref/prompt', name: 'completable-prompt' }, argument: { name: 'department', value: 'E' } });
    expect(done.completion.values.length).toBeGreaterThan(0);
  });

  it('without upstreams, nothing declares prompts or completions and prompts/list is not served', async () => {
    const bare = await stdioAgent(await e2e.workspace(), 'alice');
    expect(bare.getProtocolEra()).toBe('modern');
    const caps = bare.getServerCapabilities();
    expect(caps?.prompts).toBeUndefined();
    expect(caps?.completions).toBeUndefined();
    // The SDK client's listPrompts answers an empty list itself when nothing is declared: ask the server directly.
    expect((await refusedWith(bare.request({ method: 'prompts/list', params: {} }))).code).toBe(-32601);
  });
});
