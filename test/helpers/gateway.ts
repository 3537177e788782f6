/**
 * Helpers for the gateway tests (issue 5, ADR-008): real upstream MCP servers
 * from npm and the fixture upstreams in test/fixtures/upstreams/, spawned by
 * Mandate as stdio children with this Node.
 */
import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
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

/** The ledger events of one decision. */
export function eventsOf(events: LedgerEvent[], decisionId: string): string[] {
  return events.filter((e) => e.decision_id === decisionId).map((e) => e.type);
}
