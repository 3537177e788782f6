/**
 * Helpers for the gateway tests (issue 5, ADR-008): real upstream MCP servers
 * from npm and the fixture upstreams in test/fixtures/upstreams/, spawned by
 * Mandate as stdio children with this Node.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { LedgerEvent } from './e2e.js';
import { REPO_ROOT, runCli } from './e2e.js';

export const NODE = process.execPath;
export const FS_SERVER = join(REPO_ROOT, 'node_modules', '@modelcontextprotocol', 'server-filesystem', 'dist', 'index.js');
export const EVERYTHING_SERVER = join(REPO_ROOT, 'node_modules', '@modelcontextprotocol', 'server-everything', 'dist', 'index.js');
export const FIXTURES = join(REPO_ROOT, 'test', 'fixtures', 'upstreams');
export const OUTCOME_META = 'mandate/outcome';

/** A YAML scalar for any string (JSON strings are valid YAML). */
export const y = (s: string): string => JSON.stringify(s);

/** Appends an `upstreams:` block (and any other top-level YAML) to a workspace's mandate.yaml. */
export function appendConfig(workspace: string, yaml: string): void {
  appendFileSync(join(workspace, 'mandate.yaml'), `\n${yaml}\n`);
}

export function writeContract(workspace: string, agent: string, body: string): void {
  writeFileSync(join(workspace, 'contracts', `${agent}.yaml`), `agent: ${agent}\nversion: 1\nowner: ops@example.com\nmission: Gateway test agent ${agent}.\nrole: agent\n${body}`);
}

/** `mandate upstream pin` through the built CLI; throws unless it exits 0. */
export async function pin(workspace: string, server?: string, env?: Record<string, string>): Promise<string> {
  const r = await runCli(['upstream', 'pin', '-w', workspace, '--as', 'tester', ...(server ? ['--server', server] : [])], env ? { env } : {});
  if (r.code !== 0) throw new Error(`upstream pin failed (${r.code}): ${r.stdout}${r.stderr}`);
  return r.stdout;
}

/** The pids a fixture wrote at each of its starts. */
export function starts(file: string): number[] {
  return existsSync(file)
    ? readFileSync(file, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map(Number)
    : [];
}

/** Ends every process a fixture recorded in its starts file (those Mandate did not stop itself). */
export function killStarted(file: string): void {
  for (const pid of starts(file)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** The 2026-07-28-only fixture (modern-only.mjs) over HTTP on 127.0.0.1: its URL once it listens. */
export async function modernFixtureOverHttp(): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn(NODE, [join(FIXTURES, 'modern-only.mjs'), 'http'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the 2026 fixture did not listen')), 15_000);
    let out = '';
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /listening on (\S+)/.exec(out);
      if (m?.[1]) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
  });
  return { url, child };
}

/** The JSON-RPC error a request failed with (it must fail). */
export async function refusedWith(p: Promise<unknown>): Promise<{ code: number; message: string; data?: { reasons?: string[]; dfid?: string } }> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(Error);
  return err as { code: number; message: string; data?: { reasons?: string[]; dfid?: string } };
}

/** The ledger events of one decision. */
export function eventsOf(events: LedgerEvent[], decisionId: string): string[] {
  return events.filter((e) => e.decision_id === decisionId).map((e) => e.type);
}
