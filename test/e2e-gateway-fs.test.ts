/**
 * Issue 5, end to end: @modelcontextprotocol/server-filesystem behind
 * Mandate. The upstream may touch all of files/; the contract of `writer`
 * lets it write only under files/allowed/ (a Cedar condition on the grant).
 * A real SDK client drives the built CLI over stdio; Mandate spawns the
 * upstream as a stdio child. Writes outside the folder are refused, never
 * reach the upstream (no ActionStarted in the ledger), and the disk is
 * unchanged.
 */
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { E2E, exportLedger, runCli, type AgentClient, type Outcome } from './helpers/e2e.js';
import { FS_SERVER, NODE, OUTCOME_META, appendConfig, eventsOf, pin, writeContract, y } from './helpers/gateway.js';

const e2e = new E2E();
let ws: string;
let files: string;
let writer: AgentClient;

const outcomeOf = (r: CallToolResult) => (r._meta as Record<string, unknown>)[OUTCOME_META] as Outcome;
const call = async (name: string, args: Record<string, unknown>) => (await writer.client.callTool({ name, arguments: args })) as CallToolResult;

beforeAll(async () => {
  ws = await e2e.workspace();
  files = join(ws, 'files');
  mkdirSync(join(files, 'allowed'), { recursive: true });
  mkdirSync(join(files, 'other'), { recursive: true });
  writeFileSync(join(files, 'other', 'keep.txt'), 'original');
  appendConfig(
    ws,
    `upstreams:
  fs:
    command: ${y(NODE)}
    args: [${y(FS_SERVER)}, ${y(files)}]
    side_effects: { write_file: write, create_directory: write }`,
  );
  // Writes only under files/allowed/, and never with `..` in the path; reads anywhere the upstream allows.
  writeContract(
    ws,
    'writer',
    `grants:
  - capability: fs.write_file
    when: ${y(`context.values.path like "${files}/allowed/*" && !(context.values.path like "*..*")`)}
  - capability: fs.read_*
  - capability: fs.list_directory
`,
  );
  const validate = await runCli(['validate', '-w', ws]);
  expect(validate.code, validate.stdout + validate.stderr).toBe(0);
  const pinned = await pin(ws);
  expect(pinned).toMatch(/upstream fs: pinned \d+ definition\(s\)/);
  writer = await e2e.client(ws, 'writer', { logLevel: 'warn' });
}, 60_000);

afterAll(() => e2e.cleanup());

describe('tools/list', () => {
  it('shows only what the contract grants, with the upstream schemas and annotations', async () => {
    const { tools } = await writer.client.listTools();
    const upstream = tools.map((t) => t.name).filter((n) => n.startsWith('fs_')).sort();
    expect(upstream).toEqual(['fs_list_directory', 'fs_read_file', 'fs_read_media_file', 'fs_read_multiple_files', 'fs_read_text_file', 'fs_write_file']);
    const write = tools.find((t) => t.name === 'fs_write_file');
    expect(write?.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: true });
    expect(write?.outputSchema).toBeDefined();
    // The upstream's schema, unchanged: governance inputs travel in _meta (ADR-013).
    expect(Object.keys((write?.inputSchema.properties ?? {}) as object).sort()).toEqual(['content', 'path']);
  });
});

describe('writes', () => {
  it('inside files/allowed/: accepted, the upstream result passed through, the file written', async () => {
    const target = join(files, 'allowed', 'note.md');
    const r = await call('fs_write_file', { path: target, content: 'hello from the gateway' });
    expect(r.isError).toBeFalsy();
    expect(outcomeOf(r)).toMatchObject({ verdict: 'accepted', capability: 'fs.write_file', status: 'accepted' });
    expect(r.content).toEqual([{ type: 'text', text: expect.stringContaining('Successfully wrote') }]);
    expect(r.structuredContent).toBeDefined();
    expect(readFileSync(target, 'utf8')).toBe('hello from the gateway');
    const { events } = await exportLedger(ws);
    expect(eventsOf(events, outcomeOf(r).decision_id)).toEqual(['IntentReceived', 'IntentValidated', 'PolicyDecided', 'ActionStarted', 'ActionOutcome']);
  });

  it.each([
    ['a sibling folder', () => join(files, 'other', 'keep.txt')],
    ['a path that climbs out with ..', () => join(files, 'allowed') + '/../other/keep.txt'],
    ['the upstream root itself', () => join(files, 'root.txt')],
    ['a relative path', () => 'other/keep.txt'],
  ])('outside files/allowed/ (%s): refused before the upstream, the disk unchanged, no ActionStarted', async (_what, path) => {
    const before = snapshot(files);
    const r = await call('fs_write_file', { path: path(), content: 'overwritten!' });
    expect(r.isError).toBe(true);
    expect(r.structuredContent).toBeUndefined();
    const outcome = outcomeOf(r);
    expect(outcome).toMatchObject({ verdict: 'rejected', reasons: ['POLICY_NO_PERMIT'], capability: 'fs.write_file' });
    expect(JSON.parse((r.content[0] as { text: string }).text)).toEqual(outcome);
    expect(snapshot(files)).toEqual(before);
    expect(readFileSync(join(files, 'other', 'keep.txt'), 'utf8')).toBe('original');
    const { events } = await exportLedger(ws);
    expect(eventsOf(events, outcome.decision_id)).toEqual(['IntentReceived', 'IntentValidated', 'PolicyDecided']);
  });

  it('a tool the contract does not grant is not a tool for this agent, and invoke_capability refuses it', async () => {
    await expect(call('fs_move_file', { source: join(files, 'other', 'keep.txt'), destination: join(files, 'allowed', 'x') })).rejects.toThrow(/unknown tool/);
    const r = await writer.call('invoke_capability', { capability: 'fs.move_file', params: { source: join(files, 'other', 'keep.txt'), destination: join(files, 'allowed', 'x') } });
    expect(r.outcome).toMatchObject({ verdict: 'rejected', reasons: ['CAPABILITY_NOT_GRANTED'] });
    expect(existsSync(join(files, 'other', 'keep.txt'))).toBe(true);
  });

  it('arguments are checked against the pinned JSON Schema before anything runs', async () => {
    const r = await call('fs_write_file', { path: join(files, 'allowed', 'n.md') });
    expect(outcomeOf(r)).toMatchObject({ verdict: 'rejected', reasons: ['SCHEMA_INVALID'] });
    expect(outcomeOf(r).details[0]).toMatchObject({ path: 'params.content' });
    expect(existsSync(join(files, 'allowed', 'n.md'))).toBe(false);
  });
});

describe('reads', () => {
  it('a granted read runs on the upstream and returns its content unchanged', async () => {
    const r = await call('fs_read_text_file', { path: join(files, 'other', 'keep.txt') });
    expect(r.isError).toBeFalsy();
    expect(r.content).toEqual([{ type: 'text', text: 'original' }]);
    expect(r.structuredContent).toEqual({ content: 'original' });
    expect(outcomeOf(r)).toMatchObject({ verdict: 'accepted', capability: 'fs.read_text_file' });
  });

  it('an upstream error result passes through as an error, not as a governance refusal', async () => {
    const r = await call('fs_read_text_file', { path: join(files, 'allowed', 'missing.txt') });
    expect(r.isError).toBe(true);
    expect(outcomeOf(r)).toMatchObject({ verdict: 'accepted', reasons: ['UPSTREAM_ERROR_RESULT'] });
    const { events } = await exportLedger(ws);
    const outcome = events.find((e) => e.decision_id === outcomeOf(r).decision_id && e.type === 'ActionOutcome');
    expect(outcome?.data).toMatchObject({ ok: true, upstream_error: true });
  });

  it('the ledger holds hashes, never the file content', async () => {
    const { raw } = await exportLedger(ws);
    expect(raw).not.toContain('hello from the gateway');
    expect(raw).not.toContain('overwritten!');
    const verify = await runCli(['ledger', 'verify', '-w', ws]);
    expect(verify.code).toBe(0);
  });
});

function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, entry.name);
      if (entry.isDirectory()) walk(p);
      else out[p] = readFileSync(p, 'utf8');
    }
  };
  walk(dir);
  return out;
}
