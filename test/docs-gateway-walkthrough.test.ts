/**
 * docs/guides/gateway-walkthrough.md, followed step by step against the real
 * filesystem server: its upstream block appended to a fresh workspace's
 * mandate.yaml, its contract written as contracts/writer.yaml, `validate`
 * and `upstream pin`, then a real SDK client as `writer`: the write escalates
 * and nothing is written, `approvals approve` runs it and the file holds the
 * text, a write outside notes/ is refused with POLICY_NO_PERMIT, a read answers
 * with the upstream's result, and the ledger verifies. The one change: the
 * server is started with node from node_modules instead of `npx -y`, so the
 * test needs no registry.
 */
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml, stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { E2E, REPO_ROOT, runCli, type AgentClient, type Outcome } from './helpers/e2e.js';
import { fencedBlocks, readDoc } from './helpers/markdown.js';

const PAGE = 'docs/guides/gateway-walkthrough.md';
const SERVER = join(REPO_ROOT, 'node_modules', '@modelcontextprotocol', 'server-filesystem', 'dist', 'index.js');
const e2e = new E2E();
let ws: string;
let writer: AgentClient;

const yamlBlocks = fencedBlocks({ path: PAGE, text: readDoc(PAGE) }).filter((b) => b.lang === 'yaml');

async function call(name: string, args: Record<string, unknown>): Promise<{ result: CallToolResult; outcome: Outcome }> {
  const result = (await writer.client.callTool({ name, arguments: args }, undefined, { timeout: 30_000 })) as CallToolResult;
  return { result, outcome: (result._meta as Record<string, unknown>)['mandate/outcome'] as Outcome };
}

beforeAll(async () => {
  ws = await e2e.workspace();
  mkdirSync(join(ws, 'team-files', 'notes'), { recursive: true });
  const [upstreams, contract] = yamlBlocks;
  const config = parseYaml(upstreams?.body ?? '') as { upstreams: { fs: { command: string; args: string[] } } };
  expect(config.upstreams.fs.args).toEqual(['-y', '@modelcontextprotocol/server-filesystem', 'team-files']);
  config.upstreams.fs.command = process.execPath;
  config.upstreams.fs.args = [SERVER, 'team-files'];
  appendFileSync(join(ws, 'mandate.yaml'), `\n${stringify(config)}`);
  writeFileSync(join(ws, 'contracts', 'writer.yaml'), contract?.body ?? '');
}, 120_000);

afterAll(() => e2e.cleanup());

describe('the gateway walkthrough, as the page says', () => {
  it('validates, pins the server, and governs its tools: escalate, approve, refuse, read, verify', async () => {
    expect(yamlBlocks).toHaveLength(2);
    const valid = await runCli(['validate', '-w', ws], { timeoutMs: 60_000 });
    expect(valid.code, valid.stdout + valid.stderr).toBe(0);
    const pin = await runCli(['upstream', 'pin', '-w', ws], { timeoutMs: 60_000 });
    expect(pin.code, pin.stderr).toBe(0);
    expect(pin.stdout).toMatch(/upstream fs: pinned \d+ definition\(s\)/);

    writer = await e2e.client(ws, 'writer');
    const names = (await writer.client.listTools()).tools.map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(['fs_write_file', 'fs_read_text_file', 'fs_list_directory']));

    const todo = join(ws, 'team-files', 'notes', 'todo.md');
    const write = await call('fs_write_file', { path: 'notes/todo.md', content: '- ship the docs' });
    expect(write.result.isError).toBe(true);
    expect(write.outcome.verdict).toBe('escalated');
    expect(existsSync(todo)).toBe(false);

    const listed = await runCli(['approvals', 'list', '-w', ws]);
    expect(listed.stdout).toContain(write.outcome.decision_id);
    const approved = await runCli(['approvals', 'approve', write.outcome.decision_id, '--as', 'anna', '-w', ws], { timeoutMs: 60_000 });
    expect(approved.code, approved.stdout + approved.stderr).toBe(0);
    const outcome = JSON.parse(approved.stdout) as Outcome & { output: CallToolResult };
    expect(outcome.verdict).toBe('accepted');
    expect(JSON.stringify(outcome.output.content)).toContain('Successfully wrote to notes/todo.md');
    expect(readFileSync(todo, 'utf8')).toBe('- ship the docs');

    const outside = await call('fs_write_file', { path: '../outside.md', content: 'x' });
    expect(outside.outcome.reasons).toEqual(['POLICY_NO_PERMIT']);
    expect(existsSync(join(ws, 'outside.md'))).toBe(false);

    const read = await call('fs_read_text_file', { path: 'notes/todo.md' });
    expect(read.outcome.verdict).toBe('accepted');
    expect(read.result.content).toEqual([{ type: 'text', text: '- ship the docs' }]);

    const verify = await runCli(['ledger', 'verify', '-w', ws]);
    expect(verify.code).toBe(0);
    expect(verify.stdout).toContain('ledger intact');
  }, 240_000);
});
