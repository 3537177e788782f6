/**
 * examples/inspector-cli: every `npx mcp-inspector-cli` command documented in
 * its README is run (with the installed binary, from examples/ as the README
 * says) against a fresh FinOps workspace over stdio and `serve --http`, and
 * its printed result is checked. Inspector CLI 1.0.3 exits 0 even when the
 * tool call is a rejection, so the assertions read the output.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { E2E } from './helpers/e2e.js';
import { BIN, EXAMPLES, finopsWorkspace, runProcess, stateOf } from './helpers/examples.js';
import { createKey, startHttp, type HttpServer } from './helpers/http.js';

const README = readFileSync(join(EXAMPLES, 'inspector-cli', 'README.md'), 'utf8');
const COMMANDS = README.split('\n').filter((l) => l.startsWith('npx mcp-inspector-cli '));

const e2e = new E2E();
let ws = '';
let server: HttpServer;
let key = '';

beforeAll(async () => {
  ws = await finopsWorkspace(e2e);
  key = (await createKey(ws, { agent: 'finops' })).key;
  server = await startHttp(ws);
});
afterAll(async () => {
  await server?.stop();
  await e2e.cleanup();
});

/** Runs one documented line through bash, as a user would (after `cd examples`). */
async function run(line: string) {
  const command = line.replace(/^npx mcp-inspector-cli /, `${BIN('mcp-inspector-cli')} `).replaceAll('http://127.0.0.1:8080', server.url);
  const r = await runProcess('bash', ['-c', command], { cwd: EXAMPLES, env: { MANDATE_WS: ws, MANDATE_KEY: key }, timeoutMs: 30_000 });
  let json: Record<string, unknown> | null = null;
  try {
    json = JSON.parse(r.stdout) as Record<string, unknown>;
  } catch {
    json = null;
  }
  return { ...r, json };
}

const structured = (j: Record<string, unknown> | null) => (j?.['structuredContent'] ?? {}) as Record<string, unknown>;

describe('examples/inspector-cli', () => {
  it('the README documents list and call commands for both transports', () => {
    const stdio = COMMANDS.filter((c) => c.includes('--stdio'));
    const http = COMMANDS.filter((c) => c.includes('--transport http'));
    expect(stdio.length).toBeGreaterThanOrEqual(3);
    expect(http.length).toBeGreaterThanOrEqual(3);
    for (const set of [stdio, http]) {
      expect(set.some((c) => c.includes('--method tools/list'))).toBe(true);
      expect(set.some((c) => c.includes('--method tools/call'))).toBe(true);
    }
  });

  it('every documented command runs; results are read from the output, not the exit code', async () => {
    const seen: string[] = [];
    for (const line of COMMANDS) {
      const r = await run(line);
      expect(r.code, `${line}\n${r.stderr}`).toBe(0); // 0 for rejections too: that is the point of reading the output
      expect(r.json, `${line}\n${r.stdout}`).not.toBeNull();
      const j = r.json as Record<string, unknown>;
      if (line.includes('--method tools/list')) {
        expect((j['tools'] as { name: string }[]).map((t) => t.name)).toEqual(expect.arrayContaining(['list_capabilities', 'cloud_list_instances', 'cloud_stop_instance']));
        seen.push('list');
      } else if (line.includes('--method resources/templates/list')) {
        expect(j['resourceTemplates']).toEqual([expect.objectContaining({ uriTemplate: 'memory://{scope}/{key}' })]);
        seen.push('templates');
      } else if (line.includes('--tool-name list_capabilities')) {
        expect(structured(j)).toMatchObject({ agent: 'finops' });
        expect((structured(j)['capabilities'] as { id: string }[]).map((c) => c.id)).toEqual(['cloud.list_instances', 'cloud.stop_instance']);
        seen.push('capabilities');
      } else if (line.includes('i-prod-db-1')) {
        expect(j['isError']).toBe(true);
        expect(structured(j)).toMatchObject({ verdict: 'rejected', reasons: ['POLICY_FORBID'] });
        seen.push('forbidden');
      } else if (line.includes('i-dev-web-1')) {
        expect(j['isError'] ?? false).toBe(false);
        expect(structured(j)).toMatchObject({ verdict: 'accepted', output: { instance_id: 'i-dev-web-1', state: 'stopped' } });
        seen.push('stopped');
      } else if (line.includes('cloud_list_instances')) {
        expect(structured(j)).toMatchObject({ verdict: 'accepted' });
        seen.push('listed');
      } else {
        throw new Error(`no check for documented command: ${line}`);
      }
    }
    expect(new Set(seen)).toEqual(new Set(['list', 'templates', 'capabilities', 'forbidden', 'stopped', 'listed']));
    expect(stateOf(ws, 'i-dev-web-1')).toBe('stopped');
    expect(stateOf(ws, 'i-prod-db-1')).toBe('running');
  }, COMMANDS.length * 30_000); // one process per documented command, each bounded by run()'s 30 s

  it('it exits 1 only when it cannot connect: no credential over HTTP', async () => {
    const line = COMMANDS.find((c) => c.includes('--transport http') && c.includes('tools/list')) as string;
    const r = await run(line.replace(/ --header "[^"]*"/, ''));
    expect(r.code).toBe(1);
    expect(r.stdout + r.stderr).toContain('UNAUTHENTICATED');
  });
});
