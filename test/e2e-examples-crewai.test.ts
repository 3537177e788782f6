/**
 * examples/crewai: CrewAI cannot be installed here (Python packages), so the
 * script is checked against the real CLI instead of run: its MCP server
 * adapter config (stdio command and args, HTTP URL, transport and header)
 * and the tool names it asks for are read out of the file, and Mandate is
 * started exactly that way over stdio and HTTP to see that it serves those
 * tools to the contract the example names.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { getDefaultEnvironment, StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { crewai, crewaiStdioArgs, CREWAI_SCRIPT } from './helpers/crewai-config.js';
import { CALL_TIMEOUT_MS, E2E } from './helpers/e2e.js';
import { EXAMPLES, finopsWorkspace } from './helpers/examples.js';
import { createKey, startHttp, type HttpServer } from './helpers/http.js';
import { PYTHON3, requires } from './helpers/requires.js';

const { agent, toolNames, stdioCommand, httpUrl, httpTransport, httpAuth } = crewai;
const SCRIPT = CREWAI_SCRIPT;

const e2e = new E2E();
const clients: Client[] = [];
const servers: HttpServer[] = [];
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  await Promise.all(servers.map((s) => s.stop()));
  await e2e.cleanup();
});

async function toolsVia(client: Client, transport: Parameters<Client['connect']>[0]) {
  clients.push(client);
  await client.connect(transport, { timeout: CALL_TIMEOUT_MS });
  const { tools } = await client.listTools(undefined, { timeout: CALL_TIMEOUT_MS });
  const caps = await client.callTool({ name: 'list_capabilities', arguments: {} }, undefined, { timeout: CALL_TIMEOUT_MS });
  return { names: tools.map((t) => t.name), caps: caps.structuredContent as { agent: string; capabilities: { id: string }[] } };
}

const python = await requires(import.meta.url, [PYTHON3]);

describe('examples/crewai (checked, not run)', () => {
  it.skipIf(python.skip)(python.title('is valid Python'), () => {
    // ast.parse compiles without importing crewai, which is not installed here, and writes no .pyc.
    execFileSync('python3', ['-c', 'import ast, sys; ast.parse(open(sys.argv[1]).read(), sys.argv[1])', SCRIPT], { stdio: 'pipe' });
  });

  it('names a contract of the FinOps workspace and tools that map to its grants; the README shows that contract', () => {
    const contract = parse(readFileSync(join(EXAMPLES, 'finops-workspace', 'overlay', 'contracts', `${agent}.yaml`), 'utf8')) as {
      agent: string;
      grants: { capability: string }[];
      escalation: { rules: { when: string }[] };
    };
    expect(contract.agent).toBe(agent);
    const granted = contract.grants.map((g) => g.capability.replaceAll('.', '_'));
    for (const t of toolNames.filter((n) => n.startsWith('cloud_'))) expect(granted).toContain(t);
    const readme = readFileSync(join(EXAMPLES, 'crewai', 'README.md'), 'utf8');
    for (const rule of contract.escalation.rules) expect(readme).toContain(rule.when);
    expect(readme).toContain(`"--agent", "${agent}"`);
  });

  it('stdio: `node <MANDATE_CLI> serve --stdio --agent finops -w <ws>` as StdioServerParameters states it serves every tool the crew asks for', async () => {
    expect(stdioCommand).toBe('node');
    const ws = await finopsWorkspace(e2e);
    const args = crewaiStdioArgs(ws);
    expect(args.slice(1)).toEqual(['serve', '--stdio', '--agent', agent, '-w', ws]);
    const { names, caps } = await toolsVia(new Client({ name: 'crewai-config-check', version: '0' }), new StdioClientTransport({ command: stdioCommand, args, env: { ...getDefaultEnvironment(), MANDATE_LOG_LEVEL: 'warn' }, stderr: 'pipe' }));
    for (const t of toolNames) expect(names).toContain(t);
    expect(caps.agent).toBe(agent);
    expect(caps.capabilities.map((c) => c.id)).toEqual(['cloud.list_instances', 'cloud.stop_instance']);
  });

  it('HTTP: the streamable-http URL and Bearer header reach `serve --http` and the agent its key names', async () => {
    // mcpadapt passes the dict to the MCP Python SDK's streamablehttp_client(url=..., headers=...).
    expect(httpTransport).toBe('streamable-http');
    expect(httpAuth).toBeTruthy();
    const url = new URL(httpUrl);
    expect(url.pathname).toBe('/mcp');
    const ws = await finopsWorkspace(e2e);
    const key = await createKey(ws, { agent });
    const server = await startHttp(ws);
    servers.push(server);
    const target = new URL(url.pathname, server.url);
    const { names, caps } = await toolsVia(new Client({ name: 'crewai-config-check', version: '0' }), new StreamableHTTPClientTransport(target, { requestInit: { headers: { Authorization: `Bearer ${key.key}` } } }));
    for (const t of toolNames) expect(names).toContain(t);
    expect(caps.agent).toBe(agent);
  });
});
