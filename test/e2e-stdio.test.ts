/**
 * Issue 2, stdio transport: stdout carries only JSON-RPC (checked on the raw
 * byte stream, without an SDK client in between), logs go to stderr, and
 * `serve` fails clearly when it cannot know which agent it serves.
 */
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanEnv, CLI, E2E, REPO_ROOT, runCli, transfer } from './helpers/e2e.js';

interface RpcMessage {
  jsonrpc: string;
  id?: number | string;
  method?: string;
  result?: Record<string, unknown>;
  error?: { code: number; message: string };
}

const e2e = new E2E();
afterAll(() => e2e.cleanup());

describe('stdio hygiene and serve', () => {
  let ws: string;
  beforeAll(async () => {
    ws = await e2e.workspace();
  });

  it('everything on stdout is JSON-RPC 2.0; logs are JSON lines on stderr; closing stdin stops the server cleanly', async () => {
    const child = spawn(process.execPath, [CLI, 'serve', '--stdio', '--agent', 'alice', '-w', ws, '--log-level', 'debug'], {
      env: cleanEnv(),
      cwd: REPO_ROOT,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const killer = setTimeout(() => child.kill('SIGKILL'), 20_000);

    // Only complete lines: a response may be mid-write when we look.
    const messages = (): RpcMessage[] =>
      stdout
        .slice(0, stdout.lastIndexOf('\n') + 1)
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as RpcMessage);
    const response = async (id: number): Promise<RpcMessage> => {
      const until = Date.now() + 10_000;
      for (;;) {
        const m = messages().find((x) => x.id === id);
        if (m) return m;
        if (Date.now() > until) throw new Error(`no response ${id}; stdout: ${stdout}; stderr: ${stderr}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    const send = (msg: object) => child.stdin.write(`${JSON.stringify(msg)}\n`);

    try {
      send({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '0' } } });
      const init = await response(1);
      expect(init.result?.['serverInfo']).toEqual(expect.objectContaining({ name: 'mandate' }));
      send({ jsonrpc: '2.0', method: 'notifications/initialized' });
      send({ jsonrpc: '2.0', id: 2, method: 'tools/list' });
      const list = await response(2);
      expect((list.result?.['tools'] as { name: string }[]).map((t) => t.name)).toContain('invoke_capability');
      send({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'invoke_capability', arguments: { capability: 'payments.transfer', params: transfer({ amount_minor: 100 }) } } });
      const call = await response(3);
      expect((call.result?.['structuredContent'] as { verdict: string }).verdict).toBe('accepted');
      send({ jsonrpc: '2.0', id: 4, method: 'tools/call', params: { name: 'invoke_capability', arguments: { capability: 'payments.transfer', params: transfer({ amount_minor: 'x' }) } } });
      const rejected = await response(4);
      expect(rejected.result?.['isError']).toBe(true);
      send({ jsonrpc: '2.0', id: 5, method: 'tools/call', params: { name: 'no_such_tool', arguments: {} } });
      const unknown = await response(5);
      expect(unknown.error ?? unknown.result?.['isError']).toBeTruthy();
      send({ jsonrpc: '2.0', id: 6, method: 'no/such/method' });
      expect((await response(6)).error?.code).toBe(-32601);
      send({ jsonrpc: '2.0', id: 7, method: 'ping' });
      expect((await response(7)).result).toEqual({});

      child.stdin.end();
      expect(await exited).toBe(0);
    } finally {
      clearTimeout(killer);
      child.kill('SIGKILL');
    }

    // stdout: complete lines, each a JSON-RPC 2.0 response to one of our ids.
    expect(stdout.endsWith('\n')).toBe(true);
    const all = messages();
    expect(all.length).toBe(7);
    for (const m of all) {
      expect(m.jsonrpc).toBe('2.0');
      expect(typeof m.id === 'number' || typeof m.method === 'string').toBe(true);
      expect('result' in m || 'error' in m || 'method' in m).toBe(true);
    }
    expect(all.map((m) => m.id).sort()).toEqual([1, 2, 3, 4, 5, 6, 7]);

    // stderr: pino JSON log lines, including the decision steps with their dfid.
    const logs = stderr
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(logs.length).toBeGreaterThan(3);
    expect(logs.some((l) => l['msg'] === 'serving over stdio')).toBe(true);
    expect(logs.filter((l) => l['step'] === 'engine' && typeof l['dfid'] === 'string').length).toBeGreaterThanOrEqual(1);
    // Nothing that belongs in the logs reached stdout.
    expect(stdout).not.toContain('"level"');
  });

  it('serve with an unknown agent exits 2 with a clear message', async () => {
    const r = await runCli(['serve', '--stdio', '--agent', 'mallory', '-w', ws]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/unknown agent `mallory`/);
    expect(r.stderr).toMatch(/known: .*alice/);
  });

  it('serve without --agent and without MANDATE_AGENT exits 2', async () => {
    const r = await runCli(['serve', '--stdio', '-w', ws]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/--agent/);
    expect(r.stderr).toMatch(/MANDATE_AGENT/);
  });

  it('serve without --stdio exits 2 naming the transport', async () => {
    const r = await runCli(['serve', '--agent', 'alice', '-w', ws]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--stdio/);
  });

  it('MANDATE_AGENT (and MANDATE_WORKSPACE) from the environment work', async () => {
    const viaEnv = await e2e.client(ws, null, { env: { MANDATE_AGENT: 'scribe' } });
    const { result } = await viaEnv.call('list_capabilities', {});
    expect((result.structuredContent as { agent: string }).agent).toBe('scribe');
    const names = (await viaEnv.client.listTools()).tools.map((t) => t.name);
    expect(names).toContain('files_write');
    expect(names).not.toContain('payments_transfer');
    // --agent wins over the environment.
    const flag = await e2e.client(ws, 'alice', { env: { MANDATE_AGENT: 'scribe' } });
    expect(((await flag.call('list_capabilities', {})).result.structuredContent as { agent: string }).agent).toBe('alice');
    // An unknown agent from the environment is refused like a flag.
    const bad = await runCli(['serve', '--stdio', '-w', ws], { env: { MANDATE_AGENT: 'mallory' } });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/unknown agent `mallory`/);
    // The workspace may come from MANDATE_WORKSPACE as well.
    const v = await runCli(['validate'], { env: { MANDATE_WORKSPACE: ws } });
    expect(v.code, v.stderr).toBe(0);
  });
});
