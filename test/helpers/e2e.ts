/**
 * Shared helpers for the end-to-end suite: every test drives the BUILT CLI
 * (dist/src/cli/main.js) as a real process, either through a real MCP SDK
 * client over a stdio pipe or as a one-shot command, against a real SQLite
 * file in a temporary workspace. Run `npm run build` first.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { CallToolResult, ClientCapabilities } from '@modelcontextprotocol/sdk/types.js';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const CLI = join(REPO_ROOT, 'dist', 'src', 'cli', 'main.js');

/** Per-request bound for MCP calls: a hung server fails the test instead of the suite. */
export const CALL_TIMEOUT_MS = 15_000;
/** Bound for one CLI command. */
export const CLI_TIMEOUT_MS = 20_000;

export function assertBuilt(): void {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` before the e2e tests`);
}

/** The parent environment without MANDATE_* variables, so tests never inherit an operator's settings. */
export function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !k.startsWith('MANDATE_')) env[k] = v;
  }
  return { ...env, ...extra };
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `mandate <args>` with node, capturing exit code, stdout and stderr. Never rejects on a non-zero exit. */
export function runCli(args: string[], opts: { env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  assertBuilt();
  return new Promise((resolvePromise, reject) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { env: cleanEnv(opts.env), cwd: opts.cwd ?? REPO_ROOT, timeout: opts.timeoutMs ?? CLI_TIMEOUT_MS, maxBuffer: 64 * 1024 * 1024, killSignal: 'SIGKILL' },
      (err, stdout, stderr) => {
        if (err && typeof (err as NodeJS.ErrnoException & { code?: unknown }).code !== 'number') {
          if ((err as { killed?: boolean }).killed) return reject(new Error(`mandate ${args.join(' ')} timed out\nstderr: ${stderr}`));
          return reject(err);
        }
        const code = err ? Number((err as { code?: number }).code) : 0;
        resolvePromise({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
  });
}

/** Tracks every temp folder and client of a test file so one `cleanup()` removes them all. */
export class E2E {
  private readonly dirs: string[] = [];
  private readonly clients: AgentClient[] = [];

  /** A fresh temporary folder under os.tmpdir(). */
  tempDir(prefix = 'mandate-e2e-'): string {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    this.dirs.push(dir);
    return dir;
  }

  /** `mandate init <tmp>/ws` through the built CLI; returns the workspace folder. */
  async workspace(): Promise<string> {
    const dir = join(this.tempDir(), 'ws');
    const r = await runCli(['init', dir]);
    if (r.code !== 0) throw new Error(`mandate init failed (${r.code}): ${r.stderr}`);
    return dir;
  }

  /**
   * Starts `mandate serve --stdio --agent <agent> -w <ws>` and connects a real SDK client to it.
   * With agent null, no --agent flag is passed (the agent must come from MANDATE_AGENT in opts.env).
   */
  async client(workspace: string, agent: string | null, opts: ClientOptions = {}): Promise<AgentClient> {
    const c = await startClient(workspace, agent, opts);
    this.clients.push(c);
    return c;
  }

  async cleanup(): Promise<void> {
    await Promise.all(this.clients.splice(0).map((c) => c.close().catch(() => undefined)));
    for (const dir of this.dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  }
}

/** The governed outcome every tool result carries in structuredContent. */
export interface Outcome {
  verdict: 'accepted' | 'rejected' | 'escalated';
  reasons: string[];
  details: { code: string; message: string; path?: string; invariant?: string }[];
  dfid: string;
  decision_id: string;
  capability: string | null;
  idempotency_key: string | null;
  output?: Record<string, unknown>;
  status: string;
  expires_at?: string;
  policies: string[];
  receipt: { seq: number; hash: string } | null;
  replay_of?: string;
}

export interface Governed {
  result: CallToolResult;
  outcome: Outcome;
  isError: boolean;
}

export interface AgentClient {
  client: Client;
  transport: StdioClientTransport;
  agent: string;
  /** Server pid (for kill -9). */
  pid: number;
  /** Everything the server wrote to stderr so far. */
  stderr(): string;
  /** Calls a tool and returns its governed outcome (structuredContent). */
  call(name: string, args: Record<string, unknown>, meta?: Record<string, unknown>): Promise<Governed>;
  close(): Promise<void>;
}

export interface ClientOptions {
  env?: Record<string, string>;
  logLevel?: string;
  /** The server to run: this node and the repository's build unless given (e.g. an installed package on another Node line). */
  server?: { node: string; cli: string };
  /** Capabilities the client declares, e.g. `{ elicitation: {} }`. */
  capabilities?: ClientCapabilities;
  /** Runs before connecting, e.g. to register the client's request handlers. */
  beforeConnect?: (client: Client) => void;
}

export async function startClient(workspace: string, agent: string | null, opts: ClientOptions = {}): Promise<AgentClient> {
  assertBuilt();
  const args = [opts.server?.cli ?? CLI, 'serve', '--stdio', ...(agent === null ? [] : ['--agent', agent]), '-w', workspace];
  if (opts.logLevel) args.push('--log-level', opts.logLevel);
  const transport = new StdioClientTransport({ command: opts.server?.node ?? process.execPath, args, env: cleanEnv(opts.env), stderr: 'pipe', cwd: REPO_ROOT });
  let stderr = '';
  transport.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  const client = new Client({ name: 'mandate-e2e', version: '0.0.0' }, opts.capabilities ? { capabilities: opts.capabilities } : undefined);
  opts.beforeConnect?.(client);
  await client.connect(transport, { timeout: CALL_TIMEOUT_MS });
  // Listing once makes the SDK client check every later structuredContent against the tool's outputSchema.
  await client.listTools(undefined, { timeout: CALL_TIMEOUT_MS });
  const pid = transport.pid;
  if (!pid) throw new Error('server process has no pid');
  return {
    client,
    transport,
    agent: agent ?? opts.env?.['MANDATE_AGENT'] ?? '',
    pid,
    stderr: () => stderr,
    async call(name, args, meta) {
      const result = (await client.callTool({ name, arguments: args, ...(meta ? { _meta: meta } : {}) }, undefined, { timeout: CALL_TIMEOUT_MS })) as CallToolResult;
      const outcome = result.structuredContent as unknown as Outcome;
      if (!outcome) throw new Error(`tool ${name} returned no structuredContent: ${JSON.stringify(result)}`);
      return { result, outcome, isError: result.isError === true };
    },
    close: () => client.close(),
  };
}

/** The payments book of a workspace, as the capability keeps it on disk. */
export interface Books {
  version: number;
  accounts: Record<string, { currency: string; balance_minor: number }>;
  payees: Record<string, { blocked: boolean }>;
  transfers: { id: string; dfid: string; decision_id: string; payee: string; amount_minor: number; currency: string }[];
}

export function readBooks(workspace: string): Books {
  return JSON.parse(readFileSync(join(workspace, 'data', 'books.json'), 'utf8')) as Books;
}

export function balance(workspace: string, account = 'operating'): number {
  const acct = readBooks(workspace).accounts[account];
  if (!acct) throw new Error(`no account ${account}`);
  return acct.balance_minor;
}

export interface LedgerEvent {
  seq: number;
  id: string;
  dfid: string;
  agent: string;
  type: string;
  time: string;
  decision_id: string | null;
  reasons: string[];
  data: Record<string, unknown>;
  prev_hash: string;
  hash: string;
  /** The commit point's record the event belongs to (ADR-021), when it was written as one. */
  record?: { first_seq: number; last_seq: number };
}

/** `mandate ledger export`, parsed; also returns the raw text. */
export async function exportLedger(workspace: string): Promise<{ events: LedgerEvent[]; raw: string }> {
  const r = await runCli(['ledger', 'export', '-w', workspace]);
  if (r.code !== 0) throw new Error(`ledger export failed (${r.code}): ${r.stderr}`);
  const events = r.stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as LedgerEvent);
  return { events, raw: r.stdout };
}

/** A transfer's params with defaults that pass every check in the example workspace. */
export function transfer(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { from_account: 'operating', payee: 'acme-supplies', amount_minor: 1550, currency: 'EUR', ...overrides };
}

/** A W3C traceparent with a random trace id; returns both. */
export function traceparent(): { traceparent: string; traceId: string } {
  const hex = (n: number) => Array.from({ length: n }, () => Math.floor(Math.random() * 16).toString(16)).join('');
  let traceId = hex(32);
  if (/^0+$/.test(traceId)) traceId = `1${traceId.slice(1)}`;
  return { traceparent: `00-${traceId}-${hex(15)}1-01`, traceId };
}

/** Adds a capability module and a contract to a workspace (fixtures for the bounded engine and slow calls). */
export function addFixtures(workspace: string, files: { capabilities?: Record<string, string>; contracts?: Record<string, string> }): void {
  for (const [name, text] of Object.entries(files.capabilities ?? {})) writeFileSync(join(workspace, 'capabilities', name), text);
  for (const [name, text] of Object.entries(files.contracts ?? {})) writeFileSync(join(workspace, 'contracts', name), text);
}

/** Polls `check` until it returns true or `timeoutMs` passes. */
export async function waitFor(check: () => boolean, timeoutMs = 5_000, what = 'condition'): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
