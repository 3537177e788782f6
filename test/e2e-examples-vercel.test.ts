/**
 * examples/vercel-ai: createMCPClient (@ai-sdk/mcp) + generateText with
 * MockLanguageModelV4 (ai/test), with elicitation answered by the client's
 * human under a client_approval contract, over stdio and HTTP. ai 7 declares
 * engines node >= 22: the example runs under Node 22 with the clients of
 * scripts/test-clients.ts, Mandate under this repository's Node.
 * Plus: Mandate's answer to the `server/discover` probe this client sends
 * before initialize, raw over stdio and HTTP.
 */
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, cleanEnv, E2E, exportLedger, REPO_ROOT, runCli } from './helpers/e2e.js';
import { eventsOf, finopsWorkspace, runExample, stateOf } from './helpers/examples.js';
import { createKey, startHttp, type HttpServer } from './helpers/http.js';
import { NODE22_CLIENTS, requires } from './helpers/requires.js';

const clients = await requires(import.meta.url, [NODE22_CLIENTS]);

interface VercelRun {
  tools: string[];
  elicitations: { message: string; fields: string[] }[];
  toolResults: { tool: string; input: Record<string, unknown>; isError: boolean; outcome: { verdict: string; status: string; reasons: string[]; decision_id: string } | null }[];
  text: string;
  steps: number;
}

const e2e = new E2E();
/** One `serve --http` for the HTTP tests of this file, with a key for finops-copilot. */
let httpWs = '';
let server: HttpServer | undefined;
let copilotKey = '';
beforeAll(async () => {
  httpWs = await finopsWorkspace(e2e);
  copilotKey = (await createKey(httpWs, { agent: 'finops-copilot' })).key;
  server = await startHttp(httpWs);
});
afterAll(async () => {
  await server?.stop();
  await e2e.cleanup();
});

describe.skipIf(clients.skip)(clients.title('examples/vercel-ai under Node 22'), () => {
  it('stdio: the STG stop escalates, the human at the client approves through elicitation, PROD is an isError result', async () => {
    const ws = await finopsWorkspace(e2e);
    const out = await runExample<VercelRun>('vercel-ai', ['--workspace', ws, '--human', 'approve'], { node22Clients: true });
    expect(out.tools).toEqual(expect.arrayContaining(['cloud_stop_instance', 'get_decision']));
    expect(out.elicitations).toHaveLength(1);
    expect(out.elicitations[0]?.message).toContain('`finops-copilot` asks to run `cloud.stop_instance`');
    expect(out.elicitations[0]?.message).toContain('stopping a staging instance needs a human approval');
    expect(out.elicitations[0]?.fields).toEqual(['decision', 'reason']);
    const [stg, prod] = out.toolResults;
    expect(stg).toMatchObject({ tool: 'cloud_stop_instance', isError: false, outcome: { verdict: 'accepted', status: 'approved' } });
    expect(prod).toMatchObject({ tool: 'cloud_stop_instance', isError: true, outcome: { verdict: 'rejected', reasons: ['POLICY_FORBID'] } });
    expect(out.steps).toBe(3);
    expect(stateOf(ws, 'i-stg-api-1')).toBe('stopped');
    expect(stateOf(ws, 'i-prod-db-1')).toBe('running');
    const { events } = await exportLedger(ws);
    const resolved = eventsOf(events, stg?.outcome?.decision_id ?? '').find((e) => e.type === 'EscalationResolved');
    expect(resolved).toMatchObject({ agent: 'finops-copilot', reasons: ['ESCALATION_APPROVED'], data: { by: 'client-human:finops-copilot' } });
  });

  it('HTTP: the human denies in the client; nothing is stopped', async () => {
    const ws = httpWs;
    const out = await runExample<VercelRun>('vercel-ai', ['--url', `${server?.url}/mcp`, '--human', 'deny'], { node22Clients: true, env: { MANDATE_KEY: copilotKey } });
    expect(out.elicitations).toHaveLength(1);
    const [stg, prod] = out.toolResults;
    expect(stg).toMatchObject({ isError: true, outcome: { verdict: 'rejected', status: 'denied', reasons: ['ESCALATION_DENIED'] } });
    expect(prod).toMatchObject({ isError: true, outcome: { reasons: ['POLICY_FORBID'] } });
    expect(stateOf(ws, 'i-stg-api-1')).toBe('running');
    const show = await runCli(['approvals', 'show', stg?.outcome?.decision_id ?? '', '-w', ws]);
    expect(JSON.parse(show.stdout)).toMatchObject({ status: 'denied', resolved_by: 'client-human:finops-copilot' });
  });
});

describe('server/discover (the draft-protocol probe @ai-sdk/mcp sends before initialize)', () => {
  it('stdio: a JSON-RPC -32601 error with the request id, and initialize works after it', async () => {
    const ws = await finopsWorkspace(e2e);
    const proc = spawn(process.execPath, [CLI, 'serve', '--stdio', '--agent', 'finops', '-w', ws, '--log-level', 'silent'], { cwd: REPO_ROOT, env: cleanEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    proc.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
    const lines = async (n: number) => {
      const until = Date.now() + 10_000;
      while (out.split('\n').filter(Boolean).length < n) {
        if (Date.now() > until) throw new Error(`timed out; got: ${out}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      return out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    };
    try {
      proc.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', id: 'probe-1', method: 'server/discover', params: {} })}\n`);
      const [discover] = await lines(1);
      expect(discover).toEqual({ jsonrpc: '2.0', id: 'probe-1', error: { code: -32601, message: 'Method not found' } });
      proc.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '0' } } })}\n`);
      const [, init] = await lines(2);
      expect(init).toMatchObject({ id: 2, result: { protocolVersion: '2025-11-25', serverInfo: { name: 'mandate' } } });
    } finally {
      proc.kill('SIGTERM');
    }
  });

  it('HTTP: a probe claiming 2026-07-28 without its _meta envelope is 400 -32602 naming the missing envelope, with the envelope it is answered; nothing opened; initialize works after it', async () => {
    const url = server?.url as string;
    const headers = { Authorization: `Bearer ${copilotKey}`, 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' };
    const probe = await fetch(`${url}/mcp`, { method: 'POST', headers: { ...headers, 'MCP-Protocol-Version': '2026-07-28', 'Mcp-Method': 'server/discover' }, body: JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'server/discover', params: {} }) });
    expect(probe.status).toBe(400);
    expect(probe.headers.get('mcp-session-id')).toBeNull();
    expect(await probe.json()).toMatchObject({ jsonrpc: '2.0', id: 7, error: { code: -32602, data: { envelope: { missing: ['_meta'] } } } });
    const meta = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} };
    const discover = await fetch(`${url}/mcp`, { method: 'POST', headers: { ...headers, 'MCP-Protocol-Version': '2026-07-28', 'Mcp-Method': 'server/discover' }, body: JSON.stringify({ jsonrpc: '2.0', id: 8, method: 'server/discover', params: { _meta: meta } }) });
    expect(discover.status).toBe(200);
    expect(discover.headers.get('mcp-session-id')).toBeNull();
    expect(await discover.json()).toMatchObject({ id: 8, result: { resultType: 'complete', supportedVersions: expect.arrayContaining(['2026-07-28']) } });
    // Any other request without a session is still SESSION_REQUIRED (-32000), now answering its id.
    const other = await fetch(`${url}/mcp`, { method: 'POST', headers, body: JSON.stringify({ jsonrpc: '2.0', id: 'x', method: 'tools/list', params: {} }) });
    expect(other.status).toBe(400);
    expect(await other.json()).toMatchObject({ id: 'x', error: { code: -32000, data: { code: 'SESSION_REQUIRED' } } });
    const init = await fetch(`${url}/mcp`, { method: 'POST', headers, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '0' } } }) });
    expect(init.status).toBe(200);
    expect(init.headers.get('mcp-session-id')).toMatch(/^[0-9a-f-]{36}$/);
    await init.body?.cancel();
  });
});
