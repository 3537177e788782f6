/**
 * The README's quick start, run as written in a scratch folder: the
 * `npx mandate …` lines of "Your first workspace" (init, validate, test,
 * and serve --stdio driven by a real MCP SDK client), the Claude Desktop and
 * Cursor configs started exactly as those clients would (the `mandate`
 * command is the built CLI here, as after the packed install), and the
 * approvals commands deciding a real escalation. `npx mandate` and
 * `mandate` are both the built CLI: the packed install itself is
 * e2e-packed-install.test.ts.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, cleanEnv, E2E, runCli, transfer, type Outcome } from './helpers/e2e.js';
import { docFiles, fencedBlocks, type FencedBlock } from './helpers/markdown.js';
import { mandateWords, simpleCommands } from './helpers/shell-words.js';

const README = docFiles().find((f) => f.path === 'README.md');
const BLOCKS: FencedBlock[] = README ? fencedBlocks(README) : [];
const e2e = new E2E();
/** Bounds for one request and one test: generous, since a loaded 2-core machine runs these beside other suites. */
const CALL_TIMEOUT_MS = 60_000;
const TEST_TIMEOUT_MS = 240_000;
const clients: Client[] = [];
let scratch: string;

/** The `mandate` words of every command in the first block that holds `needle`. */
function commandsOf(needle: string): string[][] {
  const block = BLOCKS.find((b) => b.lang === 'sh' && b.body.includes(needle));
  if (!block) throw new Error(`README.md has no sh block with \`${needle}\``);
  return simpleCommands(block.body).map((c) => mandateWords(c) ?? []);
}

/** The README's JSON config blocks, each one `mcpServers.mandate`. */
function configs(): { command: string; args: string[]; env?: Record<string, string> }[] {
  return BLOCKS.filter((b) => b.lang === 'json').map((b) => (JSON.parse(b.body) as { mcpServers: { mandate: { command: string; args: string[]; env?: Record<string, string> } } }).mcpServers.mandate);
}

/** Starts the server a client config describes, as that client would: `mandate` is the built CLI. */
async function connect(command: string[], env: Record<string, string> = {}): Promise<Client> {
  const words = mandateWords(command);
  if (!words) throw new Error(`not a mandate command: ${command.join(' ')}`);
  const transport = new StdioClientTransport({ command: process.execPath, args: [CLI, ...words], env: cleanEnv({ ...env, MANDATE_LOG_LEVEL: env['MANDATE_LOG_LEVEL'] ?? 'warn' }), cwd: scratch, stderr: 'pipe' });
  const client = new Client({ name: 'docs-quick-start', version: '0.0.0' });
  await client.connect(transport, { timeout: CALL_TIMEOUT_MS });
  clients.push(client);
  return client;
}

async function invoke(client: Client, params: Record<string, unknown>): Promise<Outcome> {
  const result = (await client.callTool({ name: 'invoke_capability', arguments: { capability: 'payments.transfer', params } }, undefined, { timeout: CALL_TIMEOUT_MS })) as CallToolResult;
  return result.structuredContent as unknown as Outcome;
}

beforeAll(() => {
  scratch = e2e.tempDir('mandate-docs-');
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
  await e2e.cleanup();
});

describe("the README's quick start, run as written", () => {
  it('init, validate and test succeed; serve --stdio serves the governed tools to alice', async () => {
    const lines = commandsOf('npx mandate init my-workspace');
    expect(lines.map((w) => w[0])).toEqual(['init', 'validate', 'test', 'serve']);
    rmSync(join(scratch, 'my-workspace'), { recursive: true, force: true }); // a retry starts afresh
    for (const words of lines.slice(0, 3)) {
      const r = await runCli(words, { cwd: scratch, timeoutMs: 60_000 });
      expect(r.code, `mandate ${words.join(' ')}\n${r.stdout}${r.stderr}`).toBe(0);
    }
    const client = await connect(['mandate', ...(lines[3] as string[])]);
    const names = (await client.listTools(undefined, { timeout: CALL_TIMEOUT_MS })).tools.map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(['submit_intent', 'invoke_capability', 'read_memory', 'intervene', 'get_decision', 'list_capabilities']));
    expect((await invoke(client, transfer())).verdict).toBe('accepted');
  }, TEST_TIMEOUT_MS);

  it("the Claude Desktop and Cursor configs start a server for alice in the workspace they name", async () => {
    const ws = join(scratch, 'my-workspace');
    const found = configs();
    expect(found.length).toBeGreaterThanOrEqual(2);
    for (const config of found) {
      expect(config.command).toBe('mandate');
      const env = Object.fromEntries(Object.entries(config.env ?? {}).map(([k, v]) => [k, v.replace('/abs/path/my-workspace', ws)]));
      const client = await connect([config.command, ...config.args.map((a) => a.replace('/abs/path/my-workspace', ws))], env);
      const caps = (await client.callTool({ name: 'list_capabilities', arguments: {} }, undefined, { timeout: CALL_TIMEOUT_MS })) as CallToolResult;
      expect(JSON.stringify(caps.structuredContent)).toContain('payments.transfer');
      await client.close();
    }
  }, TEST_TIMEOUT_MS);

  it('an escalation from the agent is listed and approved by the approvals commands as written', async () => {
    const ws = join(scratch, 'my-workspace');
    const client = await connect(['mandate', 'serve', '--stdio', '--agent', 'alice', '-w', ws]);
    const escalated = await invoke(client, transfer({ amount_minor: 25_000, memo: 'docs quick start' }));
    expect(escalated.verdict).toBe('escalated');
    const [list, approve] = commandsOf('approvals approve <decision_id>').map((w) => w.map((x) => x.replace('/abs/path/my-workspace', ws).replace('<decision_id>', escalated.decision_id)));
    const listed = await runCli(list as string[], { cwd: scratch, timeoutMs: 60_000 });
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain(escalated.decision_id);
    const approved = await runCli(approve as string[], { cwd: scratch, timeoutMs: 60_000 });
    expect(approved.code, approved.stderr).toBe(0);
    expect((JSON.parse(approved.stdout) as Outcome).verdict).toBe('accepted');
  }, TEST_TIMEOUT_MS);
});
