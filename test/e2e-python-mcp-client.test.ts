/**
 * The official Python MCP SDK (`mcp`, at the range examples/crewai pins)
 * drives Mandate over a real stdio pipe, started with exactly the command the
 * CrewAI example gives its adapter: a DEV stop is accepted, a PROD stop is
 * refused by policy, a STG stop escalates, a person approves it from the CLI,
 * and the agent then sees it approved through get_decision. CrewAI itself
 * cannot be installed here; its adapter hands this same command to this SDK.
 * Both connect modes the SDK has run: "legacy" (the initialize handshake, what
 * CrewAI's adapter uses) and "auto" (server/discover, so 2026-07-28).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { ensurePythonMcp } from '../scripts/python-mcp.js';
import { crewai, crewaiStdioArgs } from './helpers/crewai-config.js';
import { cleanEnv, E2E, REPO_ROOT, runCli } from './helpers/e2e.js';
import { finopsWorkspace, stateOf } from './helpers/examples.js';
import { PYTHON_MCP, requires } from './helpers/requires.js';

const DRIVER = join(REPO_ROOT, 'test', 'fixtures', 'python', 'mcp_stdio_driver.py');
const ANSWER_TIMEOUT_MS = 60_000;

const need = await requires(import.meta.url, [PYTHON_MCP]);
const e2e = new E2E();
const drivers: ChildProcessWithoutNullStreams[] = [];
afterAll(async () => {
  for (const d of drivers) if (d.exitCode === null) d.kill('SIGKILL');
  await e2e.cleanup();
});

type Answer = { op: string; protocol_version?: string; names?: string[]; is_error?: boolean; structured?: Record<string, unknown>; text?: string[]; message?: string };

/** The Python driver, connected to `serve --stdio` as the CrewAI example starts it. */
function pythonClient(workspace: string, mode: 'legacy' | 'auto') {
  const python = ensurePythonMcp();
  if (!python) throw new Error('the Python MCP SDK venv disappeared');
  const spec = { command: crewai.stdioCommand, args: crewaiStdioArgs(workspace), env: { ...cleanEnv(), MANDATE_LOG_LEVEL: 'warn' }, mode };
  const child = spawn(python, [DRIVER, JSON.stringify(spec)], { env: cleanEnv(), stdio: 'pipe' });
  drivers.push(child);
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-4000)));
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async (): Promise<Answer> => {
    const timer = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no answer from the Python client in ${ANSWER_TIMEOUT_MS} ms; stderr: ${stderr}`)), ANSWER_TIMEOUT_MS).unref());
    const r = await Promise.race([lines.next(), timer]);
    if (r.done) throw new Error(`the Python client exited (${String(child.exitCode)}); stderr: ${stderr}`);
    return JSON.parse(r.value) as Answer;
  };
  return {
    next,
    async send(cmd: Record<string, unknown>): Promise<Answer> {
      child.stdin.write(JSON.stringify(cmd) + '\n');
      return next();
    },
    async close(): Promise<number | null> {
      child.stdin.end();
      if (child.exitCode === null) await once(child, 'exit');
      return child.exitCode;
    },
  };
}

describe.skipIf(need.skip)(need.title('the official Python MCP SDK over stdio, as the CrewAI example starts Mandate'), () => {
  for (const mode of ['legacy', 'auto'] as const) {
    it(`${mode} connect: accept, policy refusal, escalation approved from the CLI`, async () => {
      const ws = await finopsWorkspace(e2e);
      const client = pythonClient(ws, mode);
      const connected = await client.next();
      expect(connected.op).toBe('connected');
      expect(connected.protocol_version).toBe(mode === 'legacy' ? '2025-11-25' : '2026-07-28');

      const tools = await client.send({ op: 'list_tools' });
      for (const t of crewai.toolNames) expect(tools.names).toContain(t);

      const dev = await client.send({ op: 'call', name: 'cloud_stop_instance', arguments: { instance_id: 'i-dev-web-1' } });
      expect(dev.is_error).toBe(false);
      expect(dev.structured).toMatchObject({ verdict: 'accepted', status: 'accepted' });

      const prod = await client.send({ op: 'call', name: 'cloud_stop_instance', arguments: { instance_id: 'i-prod-db-1' } });
      expect(prod.is_error).toBe(true);
      expect(prod.structured).toMatchObject({ verdict: 'rejected', reasons: ['POLICY_FORBID'] });

      const stg = await client.send({ op: 'call', name: 'cloud_stop_instance', arguments: { instance_id: 'i-stg-api-1' } });
      expect(stg.structured).toMatchObject({ verdict: 'escalated', status: 'pending', reasons: ['ESCALATION_REQUIRED'] });
      const id = String(stg.structured?.['decision_id']);

      const approved = await runCli(['approvals', 'approve', id, '-w', ws]);
      expect(approved.code, approved.stderr).toBe(0);
      const after = await client.send({ op: 'call', name: 'get_decision', arguments: { decision_id: id, wait_seconds: 30 } });
      expect(after.is_error).toBe(false);
      expect(after.structured).toMatchObject({ verdict: 'accepted', status: 'approved', decision_id: id });
      expect(stateOf(ws, 'i-dev-web-1')).toBe('stopped');
      expect(stateOf(ws, 'i-stg-api-1')).toBe('stopped');
      expect(stateOf(ws, 'i-prod-db-1')).toBe('running');

      expect(await client.close()).toBe(0);
    });
  }
});
