/** Shared pieces of the benchmark scenarios: workspaces, clients, timing, tables. */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { setMaxListeners } from 'node:events';
import { appendFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { newKeyPairPem } from '../src/core/signed.js';

const HERE = dirname(fileURLToPath(import.meta.url));
/** The package root, from bench/ (tests import the sources) or dist/bench/ (`npm run bench`). */
export const ROOT = existsSync(resolve(HERE, '../package.json')) ? resolve(HERE, '..') : resolve(HERE, '../..');
export const CLI = join(ROOT, 'dist/src/cli/main.js');
export const BARE_SERVER = join(ROOT, 'dist/bench/bare-server.js');

/** Every loop is bounded in count and in time. */
export const MAX_LOOP_SECONDS = 120;
/** The most calls the load generator keeps in flight. */
export const MAX_IN_FLIGHT = 64;

export interface Sizes {
  calls: number;
  warmup: number;
  ledgerEvents: number;
  rssCalls: number;
  contracts: number;
  approvals: number;
  /** Bare SQLite transactions timed per table count (the storage floor). */
  floorTransactions: number;
  /** Governed no-ops whose WAL frames are counted, and the calls before them. */
  walCalls: number;
  walWarmup: number;
  /** Governed calls made before the grown store's timed calls (scenario 2d). */
  grownBy: number;
}

export const FULL: Sizes = { calls: 3000, warmup: 300, ledgerEvents: 1_000_000, rssCalls: 100_000, contracts: 1000, approvals: 20, floorTransactions: 2000, walCalls: 200, walWarmup: 100, grownBy: 100_000 };
export const SMOKE: Sizes = { calls: 50, warmup: 10, ledgerEvents: 5_000, rssCalls: 500, contracts: 20, approvals: 2, floorTransactions: 50, walCalls: 20, walWarmup: 10, grownBy: 200 };

/** A template workspace plus a no-op capability granted to agent `bench` (and an escalating twin). */
export function benchWorkspace(): string {
  const ws = join(mkdtempSync(join(tmpdir(), 'mandate-bench-')), 'ws');
  cpSync(join(ROOT, 'templates/workspace'), ws, { recursive: true });
  // What `mandate init` adds to the template: the workspace's signing key pair.
  const keys = newKeyPairPem();
  mkdirSync(join(ws, 'keys'));
  writeFileSync(join(ws, 'keys/signing.key'), keys.privatePem, { mode: 0o600 });
  writeFileSync(join(ws, 'keys/signing.pub'), keys.publicPem);
  writeFileSync(
    join(ws, 'capabilities/bench.mjs'),
    `export default function define({ z }) {
  const io = { input: z.object({ n: z.number().int() }), output: z.object({ n: z.number().int() }), handler: (p) => ({ n: p.n }) };
  return [
    { id: 'bench.noop', version: '1.0.0', description: 'Does nothing; for benchmarks.', sideEffect: 'write', ...io },
    { id: 'bench.gated', version: '1.0.0', description: 'Does nothing, after a human approves.', sideEffect: 'write', ...io },
  ];
}\n`,
  );
  writeFileSync(
    join(ws, 'contracts/bench.yaml'),
    [
      'agent: bench',
      'version: 1',
      'owner: bench@example.com',
      'mission: Benchmark the kernel.',
      'role: agent',
      'grants:',
      '  - capability: bench.noop',
      '  - capability: bench.gated',
      'escalation:',
      '  rules:',
      '    - capability: bench.gated',
      '      when: "true"',
      '      reason: every gated call waits for a human',
      '',
    ].join('\n'),
  );
  // The rate limits are raised so the load generator measures the pipeline, not the limiter.
  writeFileSync(
    join(ws, 'mandate.yaml'),
    'version: 1\nlog:\n  level: silent\nhttp:\n  rate_limit:\n    per_principal_per_second: 1000000\n    overall_per_second: 10000000\n',
  );
  return ws;
}

export async function connectStdio(command: string, args: string[]): Promise<{ client: Client; pid: number }> {
  // BENCH_SERVER_LOG=<file>: keep the server's stderr (warn level) to diagnose a failed run.
  const logFile = process.env['BENCH_SERVER_LOG'];
  const transport = new StdioClientTransport({
    command,
    args,
    stderr: logFile ? 'pipe' : 'ignore',
    env: { ...process.env, MANDATE_LOG_LEVEL: logFile ? 'warn' : 'silent' } as Record<string, string>,
  });
  if (logFile) transport.stderr?.on('data', (d: Buffer) => appendFileSync(logFile, d));
  const client = new Client({ name: 'mandate-bench', version: '1.0.0' });
  await client.connect(transport);
  return { client, pid: transport.pid as number };
}

export function governedStdio(ws: string): Promise<{ client: Client; pid: number }> {
  return connectStdio(process.execPath, [CLI, 'serve', '--stdio', '--agent', 'bench', '-w', ws]);
}

export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

export interface Latency {
  calls: number;
  callsPerSec: number;
  p50ms: number;
  p99ms: number;
  /** CPU time (user + system) the server process spent per timed call, µs; absent without a server pid or /proc. */
  serverCpuUs?: number;
}

/** Linux's USER_HZ: /proc/<pid>/stat counts CPU time in ticks of 1/100 s on every architecture Node runs on. */
const CLOCK_TICKS_PER_SECOND = 100;

/** CPU time (user + system) a process has spent so far, µs, from /proc (Linux); NaN where it cannot be read. */
export function cpuMicros(pid: number): number {
  try {
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return ((Number(fields[11]) + Number(fields[12])) * 1e6) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return Number.NaN;
  }
}

/**
 * Runs `call` `count` times with `inFlight` workers, after `warmup` untimed
 * calls. With `serverPid`, also the server's CPU per timed call: on a shared
 * machine it moves less from run to run than calls/s, and it is the server's
 * own cost, whatever the load generator costs beside it.
 */
export async function measure(call: (i: number) => Promise<unknown>, inFlight: number, count: number, warmup: number, serverPid?: number): Promise<Latency> {
  if (inFlight > MAX_IN_FLIGHT) throw new Error(`at most ${MAX_IN_FLIGHT} in flight`);
  const deadline = Date.now() + MAX_LOOP_SECONDS * 1000;
  let next = 0;
  const lat: number[] = [];
  const worker = async (limit: number, offset: number, record: boolean) => {
    while (next < limit && Date.now() < deadline) {
      const i = next++;
      const t0 = performance.now();
      await call(offset + i);
      if (record) lat.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, () => worker(warmup, 1_000_000_000, false)));
  next = 0;
  const cpu0 = serverPid === undefined ? Number.NaN : cpuMicros(serverPid);
  const t0 = performance.now();
  await Promise.all(Array.from({ length: inFlight }, () => worker(count, 0, true)));
  const seconds = (performance.now() - t0) / 1000;
  const serverCpuUs = serverPid === undefined ? Number.NaN : (cpuMicros(serverPid) - cpu0) / lat.length;
  lat.sort((a, b) => a - b);
  return { calls: lat.length, callsPerSec: lat.length / seconds, p50ms: percentile(lat, 50), p99ms: percentile(lat, 99), ...(Number.isFinite(serverCpuUs) ? { serverCpuUs } : {}) };
}

/** A governed no-op call with a unique key, checked to be accepted. */
export function noopCall(client: Client, tag: string) {
  return async (i: number) => {
    const r = await client.callTool({ name: 'invoke_capability', arguments: { capability: 'bench.noop', params: { n: i }, idempotency_key: `${tag}-${i}` } });
    const verdict = (r.structuredContent as { verdict?: string } | undefined)?.verdict;
    if (verdict !== 'accepted') throw new Error(`governed call not accepted: ${JSON.stringify(r.structuredContent)}`);
  };
}

export const fmt = (n: number, digits = 2) => (Number.isFinite(n) ? n.toFixed(digits) : '—');

export function table(headers: string[], rows: (string | number)[][]): string {
  return [`| ${headers.join(' | ')} |`, `|${headers.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

/** Resident set size of a process in MiB, from /proc (Linux). */
export function rssMiB(pid: number): number {
  try {
    const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
    return kb / 1024;
  } catch {
    return Number.NaN;
  }
}

export const BARE_HTTP_SERVER = join(ROOT, 'dist/bench/bare-http-server.js');

/** Starts a server process and waits (bounded) for the URL it prints on stdout. */
export async function startUrlServer(args: string[], pattern: RegExp, env: Record<string, string> = {}): Promise<{ url: string; proc: ChildProcess }> {
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, MANDATE_LOG_LEVEL: 'silent', ...env } });
  // A server that dies under load says why: the load generator alone sees only "other side closed" (ADR-018).
  let errTail = '';
  proc.stderr?.on('data', (d: Buffer) => (errTail = (errTail + d.toString('utf8')).slice(-4000)));
  proc.once('exit', (code, signal) => {
    if (signal !== 'SIGTERM' && code !== 0) process.stderr.write(`[bench] server ${proc.pid} died (${signal ?? `exit ${code}`}); its stderr ends:\n${errTail}\n`);
  });
  const url = await new Promise<string>((resolvePromise, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`server did not print its URL: ${out}`)), 20_000);
    proc.stdout?.on('data', (c: Buffer) => {
      out += c.toString('utf8');
      const m = pattern.exec(out);
      if (m) {
        clearTimeout(timer);
        resolvePromise(m[1] as string);
      }
    });
    proc.once('exit', (code) => reject(new Error(`server exited (${code}) before printing its URL: ${out}`)));
  });
  return { url, proc };
}

/**
 * The SDK's HTTP client passes one session-wide abort signal to every fetch.
 * Node's fetch leaves an abort listener on the signal it is given until the
 * request is garbage-collected, so over thousands of calls one shared signal
 * collects thousands of listeners (and a warning each). Each request gets a
 * signal of its own that follows the session's while the request is open.
 */
const benchFetch: typeof fetch = async (input, init) => {
  const shared = init?.signal;
  if (!shared) return fetch(input, init);
  setMaxListeners(MAX_IN_FLIGHT * 4, shared);
  const own = new AbortController();
  const follow = () => own.abort(shared.reason);
  if (shared.aborted) follow();
  else shared.addEventListener('abort', follow, { once: true });
  try {
    return await fetch(input, { ...init, signal: own.signal });
  } finally {
    shared.removeEventListener('abort', follow);
  }
};

export async function connectHttp(url: string, headers: Record<string, string> = {}): Promise<Client> {
  const client = new Client({ name: 'mandate-bench', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers }, fetch: benchFetch }));
  return client;
}

/** Creates an API key for `agent` through the CLI (prints the key only). */
export function createKey(ws: string, agent: string, env: Record<string, string> = {}): string {
  return execFileSync(process.execPath, [CLI, 'keys', 'create', '--agent', agent, '-w', ws], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], env: { ...process.env, ...env } }).trim();
}
