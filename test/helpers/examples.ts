/**
 * Helpers for the examples suite (test/e2e-examples-*.test.ts): each example
 * in examples/ is run as its own process, the way its README says, against a
 * fresh FinOps workspace made by examples/finops-workspace/setup.mjs.
 */
import { execFile } from 'node:child_process';
import { cpSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { clientCommand, ensureClients } from '../../scripts/test-clients.js';
import { assertBuilt, cleanEnv, REPO_ROOT, runCli, type E2E, type LedgerEvent } from './e2e.js';

export const EXAMPLES = join(REPO_ROOT, 'examples');
export const BIN = (name: string) => join(REPO_ROOT, 'node_modules', '.bin', name);

const pristine = new WeakMap<E2E, Promise<string>>();

/**
 * A fresh FinOps workspace: `node examples/finops-workspace/setup.mjs` (mandate
 * init plus the overlay, validated) runs once per test file; each call gets its
 * own copy of that result, with its own store.
 */
export async function finopsWorkspace(e2e: E2E): Promise<string> {
  let made = pristine.get(e2e);
  if (!made) {
    made = (async () => {
      const dir = join(e2e.tempDir('mandate-ex-'), 'ws');
      const r = await runProcess(process.execPath, [join(EXAMPLES, 'finops-workspace', 'setup.mjs'), dir]);
      if (r.code !== 0) throw new Error(`setup.mjs failed (${r.code}): ${r.stderr}`);
      return dir;
    })();
    pristine.set(e2e, made);
  }
  const source = await made;
  const dir = join(e2e.tempDir('mandate-ex-'), 'ws');
  cpSync(source, dir, { recursive: true, filter: (src) => !/mandate\.db(-wal|-shm)?$/.test(src) });
  return dir;
}

export interface ProcessResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a process to completion (bounded), never rejecting on a non-zero exit. */
export function runProcess(command: string, args: string[], opts: { env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {}): Promise<ProcessResult> {
  assertBuilt();
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      { env: cleanEnv(opts.env), cwd: opts.cwd ?? REPO_ROOT, timeout: opts.timeoutMs ?? 60_000, maxBuffer: 32 * 1024 * 1024, killSignal: 'SIGKILL' },
      (err, stdout, stderr) => {
        if (err && typeof (err as { code?: unknown }).code !== 'number') {
          if ((err as { killed?: boolean }).killed) return reject(new Error(`${command} ${args.join(' ')} timed out\nstderr: ${stderr}`));
          return reject(err);
        }
        resolve({ code: err ? Number((err as { code?: number }).code) : 0, stdout: String(stdout), stderr: String(stderr) });
      },
    );
  });
}

/**
 * Runs `node examples/<example>/agent.mjs <args> --json` and parses its one JSON line. With `node22Clients`, the
 * example runs under the Node 22 of scripts/test-clients.ts with its client resolved from .cache/clients, and a
 * Mandate it starts over stdio runs under this node, which better-sqlite3 was built for.
 */
export async function runExample<T>(example: string, args: string[], opts: { env?: Record<string, string>; node22Clients?: boolean; timeoutMs?: number } = {}): Promise<T> {
  const script = join(EXAMPLES, example, 'agent.mjs');
  const clients = opts.node22Clients ? ensureClients() : null;
  if (opts.node22Clients && !clients) throw new Error(`examples/${example} needs the Node 22 clients of scripts/test-clients.ts`);
  const { command, args: argv } = clients ? clientCommand(clients, script, [...args, '--json']) : { command: process.execPath, args: [script, ...args, '--json'] };
  const env = clients ? { MANDATE_NODE: process.execPath, ...opts.env } : opts.env;
  const r = await runProcess(command, argv, { env, timeoutMs: opts.timeoutMs });
  if (r.code !== 0) throw new Error(`examples/${example} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  const line = r.stdout.trim().split('\n').at(-1) ?? '';
  return JSON.parse(line) as T;
}

export interface Instance {
  env: string;
  state: string;
  stopped_by?: string;
}

export function readInventory(ws: string): { version: number; instances: Record<string, Instance>; events: { instance_id: string; agent: string }[] } {
  return JSON.parse(readFileSync(join(ws, 'data', 'instances.json'), 'utf8')) as ReturnType<typeof readInventory>;
}

export function stateOf(ws: string, id: string): string {
  const i = readInventory(ws).instances[id];
  if (!i) throw new Error(`no instance ${id}`);
  return i.state;
}

/**
 * Plays the operator: polls `mandate approvals list --json` until `agent` has a
 * pending decision, then approves it with `mandate approvals approve`. Bounded.
 */
export async function approveWhenPending(ws: string, agent: string, opts: { operator?: string; timeoutMs?: number } = {}): Promise<{ decisionId: string; outcome: Record<string, unknown> }> {
  const until = Date.now() + (opts.timeoutMs ?? 30_000);
  while (Date.now() < until) {
    const list = await runCli(['approvals', 'list', '--json', '-w', ws]);
    if (list.code !== 0) throw new Error(`approvals list failed: ${list.stderr}`);
    const pending = (JSON.parse(list.stdout) as { decision_id: string; agent: string }[]).find((d) => d.agent === agent);
    if (pending) {
      const r = await runCli(['approvals', 'approve', pending.decision_id, '--as', opts.operator ?? 'ops-anna', '--note', 'checked', '-w', ws]);
      if (r.code !== 0) throw new Error(`approvals approve failed (${r.code}): ${r.stdout} ${r.stderr}`);
      return { decisionId: pending.decision_id, outcome: JSON.parse(r.stdout) as Record<string, unknown> };
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`no pending decision of ${agent} appeared`);
}

export function eventsOf(events: LedgerEvent[], decisionId: string): LedgerEvent[] {
  return events.filter((e) => e.decision_id === decisionId);
}
