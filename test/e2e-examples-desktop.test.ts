/**
 * examples/claude-desktop-cursor: the four JSON configs have the shape each
 * client reads, and what they describe works. The stdio configs' command is
 * started by an MCP SDK client; the Claude Desktop HTTP config runs the real
 * `mcp-remote` bridge (from node_modules) as a stdio child against
 * `mandate serve --http`; the Cursor HTTP config's url + headers (with
 * ${env:NAME} expanded) connect a Streamable HTTP client.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { getDefaultEnvironment, StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { CALL_TIMEOUT_MS, E2E, REPO_ROOT } from './helpers/e2e.js';
import { BIN, EXAMPLES, finopsWorkspace, stateOf } from './helpers/examples.js';
import { createKey, startHttp, type HttpServer } from './helpers/http.js';

const DIR = join(EXAMPLES, 'claude-desktop-cursor');
const read = (name: string): unknown => JSON.parse(readFileSync(join(DIR, name), 'utf8'));

const Env = z.record(z.string(), z.string());
const StdioEntry = z.object({ command: z.string().min(1), args: z.array(z.string()), env: Env.optional() }).strict();
const UrlEntry = z.object({ url: z.string().url(), headers: Env.optional() }).strict();
const Config = <T extends z.ZodType>(entry: T) => z.object({ mcpServers: z.record(z.string().regex(/^[A-Za-z0-9_-]+$/), entry) }).strict();

const e2e = new E2E();
const servers: HttpServer[] = [];
const clients: Client[] = [];
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  await Promise.all(servers.map((s) => s.stop()));
  await e2e.cleanup();
});

/** The placeholders a user replaces, replaced. */
const fill = (s: string, ws: string) => s.replaceAll('/abs/path/to/mandate', REPO_ROOT).replaceAll('/abs/path/to/finops-ws', ws);
/** Cursor's ${env:NAME} expansion. */
const expandEnv = (s: string, env: Record<string, string>) => s.replace(/\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, n: string) => env[n] ?? '');

async function connect(transport: Transport): Promise<Client> {
  const client = new Client({ name: 'desktop-config-check', version: '0.0.0' });
  clients.push(client);
  await client.connect(transport, { timeout: CALL_TIMEOUT_MS });
  return client;
}

/** What a user sees in the client: the tools, an allowed stop and a forbidden one. */
async function exercise(client: Client, ws: string, allowed: string) {
  const { tools } = await client.listTools(undefined, { timeout: CALL_TIMEOUT_MS });
  expect(tools.map((t) => t.name)).toEqual(expect.arrayContaining(['submit_intent', 'get_decision', 'cloud_list_instances', 'cloud_stop_instance']));
  const ok = (await client.callTool({ name: 'cloud_stop_instance', arguments: { instance_id: allowed } }, undefined, { timeout: CALL_TIMEOUT_MS })) as CallToolResult;
  expect(ok.isError ?? false).toBe(false);
  expect(ok.structuredContent).toMatchObject({ verdict: 'accepted' });
  const no = (await client.callTool({ name: 'cloud_stop_instance', arguments: { instance_id: 'i-prod-db-1' } }, undefined, { timeout: CALL_TIMEOUT_MS })) as CallToolResult;
  expect(no.isError).toBe(true);
  expect(no.structuredContent).toMatchObject({ verdict: 'rejected', reasons: ['POLICY_FORBID'] });
  expect(stateOf(ws, allowed)).toBe('stopped');
  expect(stateOf(ws, 'i-prod-db-1')).toBe('running');
}

describe('examples/claude-desktop-cursor', () => {
  it('every config has the shape its client reads', () => {
    const claudeStdio = Config(StdioEntry).parse(read('claude_desktop_config.stdio.json'));
    const claudeHttp = Config(StdioEntry).parse(read('claude_desktop_config.http.json'));
    const cursorStdio = Config(StdioEntry).parse(read('cursor.mcp.stdio.json'));
    const cursorHttp = Config(UrlEntry).parse(read('cursor.mcp.http.json'));
    const only = <T>(c: { mcpServers: Record<string, T> }) => Object.values(c.mcpServers)[0] as T;
    expect(only(claudeStdio).args).toEqual(expect.arrayContaining(['serve', '--stdio', '--agent', 'finops', '-w']));
    expect(only(claudeHttp).command).toBe('npx');
    expect(only(claudeHttp).args.slice(0, 3)).toEqual(['-y', 'mcp-remote', 'http://127.0.0.1:8080/mcp']);
    // No spaces around the colon (the Windows quoting bug), the value from env.
    expect(only(claudeHttp).args).toContain('Authorization:${MANDATE_AUTH}');
    expect(only(claudeHttp).env?.['MANDATE_AUTH']).toMatch(/^Bearer /);
    expect(only(cursorStdio).env).toMatchObject({ MANDATE_AGENT: 'finops', MANDATE_WORKSPACE: '/abs/path/to/finops-ws' });
    expect(only(cursorHttp)).toEqual({ url: 'http://127.0.0.1:8080/mcp', headers: { Authorization: 'Bearer ${env:MANDATE_KEY}' } });
  });

  it('stdio configs (Claude Desktop: --agent in args; Cursor: MANDATE_AGENT in env) start a working server', async () => {
    for (const [file, allowed] of [
      ['claude_desktop_config.stdio.json', 'i-dev-web-1'],
      ['cursor.mcp.stdio.json', 'i-dev-web-2'],
    ] as const) {
      const ws = await finopsWorkspace(e2e);
      const entry = Object.values(Config(StdioEntry).parse(read(file)).mcpServers)[0] as z.infer<typeof StdioEntry>;
      const env = Object.fromEntries(Object.entries(entry.env ?? {}).map(([k, v]) => [k, fill(v, ws)]));
      const client = await connect(new StdioClientTransport({ command: entry.command, args: entry.args.map((a) => fill(a, ws)), env: { ...getDefaultEnvironment(), ...env }, stderr: 'pipe' }));
      await exercise(client, ws, allowed);
    }
  });

  describe('over HTTP, against one serve --http', () => {
  let ws = '';
  let key = { key: '' };
  let server: HttpServer;
  beforeAll(async () => {
    ws = await finopsWorkspace(e2e);
    key = await createKey(ws, { agent: 'finops' });
    server = await startHttp(ws);
    servers.push(server);
  });

  it('Claude Desktop: the real mcp-remote bridge, with the header from env', async () => {
    const entry = Object.values(Config(StdioEntry).parse(read('claude_desktop_config.http.json')).mcpServers)[0] as z.infer<typeof StdioEntry>;
    // `npx -y mcp-remote` is the installed bin here (no network); the URL points at this test's port.
    const args = entry.args.slice(2).map((a) => a.replace('http://127.0.0.1:8080', server.url));
    const env = { ...getDefaultEnvironment(), ...entry.env, MANDATE_AUTH: `Bearer ${key.key}`, MCP_REMOTE_CONFIG_DIR: e2e.tempDir('mcp-remote-') };
    let stderr = '';
    const transport = new StdioClientTransport({ command: BIN('mcp-remote'), args, env, stderr: 'pipe' });
    transport.stderr?.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    const client = await connect(transport);
    await exercise(client, ws, 'i-dev-web-1');
    expect(stderr).toContain('Replacing ${MANDATE_AUTH} with environment value');
    expect(stderr).toContain('Connected to remote server using StreamableHTTPClientTransport');
    expect(client.getServerVersion()).toMatchObject({ name: 'mandate' });
  });

  it('Cursor: url + headers with ${env:MANDATE_KEY} expanded', async () => {
    const entry = Object.values(Config(UrlEntry).parse(read('cursor.mcp.http.json')).mcpServers)[0] as z.infer<typeof UrlEntry>;
    const headers = Object.fromEntries(Object.entries(entry.headers ?? {}).map(([k, v]) => [k, expandEnv(v, { MANDATE_KEY: key.key })]));
    const url = new URL(entry.url.replace('http://127.0.0.1:8080', server.url));
    const client = await connect(new StreamableHTTPClientTransport(url, { requestInit: { headers } }));
    await exercise(client, ws, 'i-dev-batch-1');
  });
  });
});
