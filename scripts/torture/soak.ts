/**
 * The soak: governed reads, writes and escalations at 16 in flight for a
 * bounded time, against one or three HTTP replicas on SQLite or PostgreSQL.
 * It fails on any server exit nobody asked for, any V8 or Node fatal line on
 * a server's stderr, any call without an answer, and any server that does not
 * stop cleanly when asked (ADR-018: the V8 abort it was written to catch).
 */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { benchWorkspace, connectHttp, percentile } from '../../bench/lib.js';
import { tortureDatabase } from './fleet.js';
import { cli, errorLogLines, startHttp, type HttpProc } from './workspace.js';

export interface SoakConfig {
  store: 'sqlite' | 'postgres';
  replicas: number;
  inFlight: number;
  seconds: number;
  /** A bound on the count as well as the time. */
  maxCalls?: number;
  /** Extra environment for the servers (MANDATE_V8_GUARD=off lets the abort of ADR-018 happen; SOAK_ABORT_AFTER_READS=N forces one). */
  env?: Record<string, string>;
}

export interface SoakFigures {
  store: SoakConfig['store'];
  replicas: number;
  inFlight: number;
  node: string;
  seconds: number;
  calls: number;
  callsPerSec: number;
  p50ms: number;
  p99ms: number;
  /** Answered with the expected verdict: read and write accepted, gated escalated. */
  expected: number;
  /** Of those, answered during the burst (16 in flight, mixed), by kind. */
  burst: Record<'read' | 'write' | 'gated', number>;
  /** Answered, but not as expected; by verdict and reason codes. */
  unexpected: Record<string, number>;
  /** Calls that got no answer: a transport error, a dead server, or the per-call timeout. */
  unanswered: number;
  /** Servers that exited while the load ran, nobody having asked them to. */
  exits: number;
  /** Fatal lines on servers' stderr: V8's "Fatal error", Node's "FATAL ERROR", a segmentation fault. */
  fatalLines: number;
  /** Servers that did not exit with code 0 when sent SIGTERM at the end. */
  uncleanStops: number;
  errorLogLines: number;
}

const AGENT = 'soak';
const CALL_TIMEOUT_MS = 30_000;
/** The quiet start's length in calls (or half the time): about as many as the benchmark's one-in-flight run that showed the abort. */
const QUIET_CALLS = 3_300;
const FATAL = /^(# Fatal error|FATAL ERROR:|Segmentation fault|.*\bAborted\b)/m;

/**
 * A read beside the benchmark workspace's no-op write (bench.noop) and
 * escalating twin (bench.gated). SOAK_ABORT_AFTER_READS=N makes the server
 * abort at its Nth read: the soak's own test proves a death is caught.
 */
const CAPABILITIES = `export default function define({ z }) {
  const abortAt = Number(process.env.SOAK_ABORT_AFTER_READS ?? 0);
  let reads = 0;
  const handler = (p) => {
    if (abortAt && ++reads >= abortAt) process.abort();
    return { n: p.n };
  };
  return [{ id: 'soak.read', version: '1.0.0', description: 'Reads nothing; for the soak.', sideEffect: 'read', input: z.object({ n: z.number().int() }), output: z.object({ n: z.number().int() }), handler }];
}
`;

const CONTRACT = `agent: ${AGENT}
version: 1
owner: qa@example.com
mission: Keep the kernel busy for a long time.
role: agent
grants:
  - capability: soak.read
  - capability: bench.noop
  - capability: bench.gated
escalation:
  rules:
    - capability: bench.gated
      when: "true"
      reason: every gated call waits for a human
`;

/** Six reads, three writes and one escalation in every ten calls. */
const KINDS = ['read', 'write', 'read', 'read', 'write', 'read', 'gated', 'read', 'write', 'read'] as const;
const EXPECTED: Record<(typeof KINDS)[number], string> = { read: 'accepted', write: 'accepted', gated: 'escalated' };
const CAPABILITY: Record<(typeof KINDS)[number], string> = { read: 'soak.read', write: 'bench.noop', gated: 'bench.gated' };

/**
 * The benchmark's workspace (the kernel's hot path, as `npm run bench` drives
 * it: the workload that first showed the abort) plus a read and the soak
 * agent; on PostgreSQL, a fresh database (dropped by `drop`).
 */
async function soakWorkspace(store: SoakConfig['store']): Promise<{ dir: string; key: string; env: Record<string, string>; drop: () => Promise<void> }> {
  const dir = benchWorkspace();
  writeFileSync(join(dir, 'capabilities', 'soak.mjs'), CAPABILITIES);
  writeFileSync(join(dir, 'contracts', `${AGENT}.yaml`), CONTRACT);
  let env: Record<string, string> = {};
  let drop: () => Promise<void> = async () => undefined;
  if (store === 'postgres') {
    const db = await tortureDatabase();
    env = { MANDATE_DATABASE_URL: db.url };
    drop = db.drop;
    const cfgPath = join(dir, 'mandate.yaml');
    const cfg = parse(readFileSync(cfgPath, 'utf8')) as Record<string, unknown>;
    cfg['store'] = { kind: 'postgres', url_env: 'MANDATE_DATABASE_URL' };
    writeFileSync(cfgPath, stringify(cfg));
  }
  const key = (JSON.parse(cli(['keys', 'create', '--agent', AGENT, '--json', '--as', 'soak', '-w', dir], env)) as { key: string }).key;
  return { dir, key, env, drop };
}

interface Replica {
  http: HttpProc;
  stopping: boolean;
  exitedUnasked: boolean;
}

async function startReplica(dir: string, env: Record<string, string>): Promise<Replica> {
  const http = await startHttp(dir, ['--json-response'], env);
  const r: Replica = { http, stopping: false, exitedUnasked: false };
  http.proc.once('exit', () => {
    if (!r.stopping) r.exitedUnasked = true;
  });
  return r;
}

/** SIGTERM, then up to 15 s for a clean exit (code 0); true when it was clean. */
async function stopReplica(r: Replica): Promise<boolean> {
  const p = r.http.proc;
  if (p.exitCode !== null || p.signalCode !== null) return false;
  r.stopping = true;
  const exited = new Promise<void>((res) => p.once('exit', () => res()));
  p.kill('SIGTERM');
  const timer = setTimeout(() => p.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
  return p.exitCode === 0;
}

export async function soak(config: SoakConfig, log: (line: string) => void = () => undefined): Promise<SoakFigures> {
  const ws = await soakWorkspace(config.store);
  const env = { ...ws.env, ...config.env };
  const replicas: Replica[] = [];
  const clients: Client[] = [];
  const f: SoakFigures = { store: config.store, replicas: config.replicas, inFlight: config.inFlight, node: process.version, seconds: 0, calls: 0, callsPerSec: 0, p50ms: 0, p99ms: 0, expected: 0, burst: { read: 0, write: 0, gated: 0 }, unexpected: {}, unanswered: 0, exits: 0, fatalLines: 0, uncleanStops: 0, errorLogLines: 0 };
  try {
    for (let i = 0; i < config.replicas; i++) replicas.push(await startReplica(ws.dir, env));
    for (const r of replicas) clients.push(await connectHttp(`${r.http.url}/mcp`, { Authorization: `Bearer ${ws.key}` }));
    const started = performance.now();
    const deadline = started + config.seconds * 1000;
    const maxCalls = config.maxCalls ?? Number.MAX_SAFE_INTEGER;
    const latencies: number[] = [];
    let next = 0;
    const worker = async (w: number, until: number, callLimit: number, kinds: readonly (typeof KINDS)[number][], burst: boolean) => {
      const client = clients[w % clients.length] as Client;
      const replica = replicas[w % replicas.length] as Replica;
      while (performance.now() < until && next < callLimit && !replica.exitedUnasked) {
        const i = next++;
        const kind = kinds[i % kinds.length] as (typeof KINDS)[number];
        const t0 = performance.now();
        try {
          const r = (await client.callTool(
            { name: 'invoke_capability', arguments: { capability: CAPABILITY[kind], params: { n: i }, idempotency_key: `soak-${i}` } },
            undefined,
            { timeout: CALL_TIMEOUT_MS },
          )) as CallToolResult;
          latencies.push(performance.now() - t0);
          const s = r.structuredContent as { verdict?: string; reasons?: string[] } | undefined;
          if (s?.verdict === EXPECTED[kind]) {
            f.expected++;
            if (burst) f.burst[kind]++;
          }
          else {
            const what = `${kind}: ${s?.verdict ?? 'no verdict'} ${(s?.reasons ?? []).join(',')}`.trim();
            f.unexpected[what] = (f.unexpected[what] ?? 0) + 1;
          }
        } catch {
          f.unanswered++;
        }
        f.calls++;
      }
    };
    // A quiet start, then the burst: one write at a time lets V8 optimise the
    // hot path for one shape of work; the mixed load at full concurrency then
    // deoptimises it, which is what tripped the abort of ADR-018.
    const quiet = Math.min(started + (config.seconds * 1000) / 2, deadline);
    await Promise.all(clients.map((_, w) => worker(w, quiet, Math.min(QUIET_CALLS, Math.floor(maxCalls / 2)), ['write'], false)));
    await Promise.all(Array.from({ length: config.inFlight }, (_, w) => worker(w, deadline, maxCalls, KINDS, true)));
    f.seconds = (performance.now() - started) / 1000;
    f.callsPerSec = f.calls / f.seconds;
    latencies.sort((a, b) => a - b);
    f.p50ms = percentile(latencies, 50);
    f.p99ms = percentile(latencies, 99);
  } finally {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    for (const r of replicas) {
      if (r.exitedUnasked) f.exits++;
      else if (!(await stopReplica(r))) f.uncleanStops++;
      const err = r.http.stderr();
      f.fatalLines += err.split('\n').filter((l) => FATAL.test(l)).length;
      f.errorLogLines += errorLogLines(err);
      if (r.exitedUnasked || FATAL.test(err)) log(`soak ${config.store}/${config.replicas}: server ${r.http.proc.pid} died (${r.http.proc.signalCode ?? r.http.proc.exitCode}); stderr tail:\n${err.slice(-1500)}`);
    }
    await ws.drop();
  }
  return f;
}

/** What makes a soak run fail; empty when it passed. */
export function soakFailures(f: SoakFigures): string[] {
  const at = `soak ${f.store}/${f.replicas} replica(s), ${f.inFlight} in flight`;
  const out: string[] = [];
  if (f.exits) out.push(`${at}: ${f.exits} server(s) exited under load`);
  if (f.fatalLines) out.push(`${at}: ${f.fatalLines} fatal line(s) on stderr`);
  if (f.unanswered) out.push(`${at}: ${f.unanswered} call(s) without an answer`);
  if (f.uncleanStops) out.push(`${at}: ${f.uncleanStops} server(s) did not stop cleanly`);
  const unexpected = Object.entries(f.unexpected);
  if (unexpected.length) out.push(`${at}: unexpected answers ${unexpected.map(([k, n]) => `${k} ×${n}`).join('; ')}`);
  if (f.errorLogLines) out.push(`${at}: ${f.errorLogLines} error line(s) in the server logs`);
  if (!f.calls) out.push(`${at}: no call was made`);
  return out;
}

/** The four soak configurations: SQLite and PostgreSQL, one and three replicas. */
export const SOAK_MATRIX: Omit<SoakConfig, 'seconds' | 'inFlight'>[] = [
  { store: 'sqlite', replicas: 1 },
  { store: 'sqlite', replicas: 3 },
  { store: 'postgres', replicas: 1 },
  { store: 'postgres', replicas: 3 },
];
