/**
 * Several processes on one workspace (ADR-019): stdio servers sharing one
 * SQLite file, or HTTP replicas sharing one PostgreSQL database, each with
 * `inFlight` transfers at once from the one account, optionally with one
 * process killed with kill -9 per round. Calls cut off are retried with the
 * same key and trace id, a last clean start settles what the kills left,
 * then the book is judged against the store: no accepted call without its
 * transfer, no transfer without an accepted decision, none twice, and the
 * balance equal to the opening balance minus the transfers.
 */
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { randomInt, randomUUID } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { systemWorld } from '../../src/core/world.js';
import { openPgPort } from '../../src/store/pg/port.js';
import type { StorePort } from '../../src/store/port/index.js';
import { sqlitePort } from '../../src/store/sqlite/port.js';
import { openStore } from '../../src/store/sqlite/store.js';
import { startServer, waitDead, type Server } from './crash.js';
import { AGENT, errorLogLines, PG_URL_ENV, randomTraceparent, tortureWorkspace } from './workspace.js';

export interface FleetFigures {
  store: 'sqlite' | 'postgres';
  processes: number;
  inFlight: number;
  kill: boolean;
  rounds: number;
  calls: number;
  answered: number;
  accepted: number;
  /** Refusals by reason code (STATE_DRIFT, DEADLINE_EXCEEDED, ...). */
  refused: Record<string, number>;
  /** Accepted answers whose transfer is not in the book. */
  acceptedWithoutEffect: number;
  /** Transfers in the book whose decision is not recorded as accepted (after the last clean start). */
  effectsWithoutAccepted: number;
  /** Calls (one trace id) with more than one transfer. */
  doubled: number;
  /** Opening balance minus the book's transfers, less the book's balance (0 when they agree). */
  balanceGap: number;
  transfers: number;
  chainFailures: number;
  crashes: number;
  errorLogLines: number;
  /** The first error-level log lines, to say what went wrong (logs hold codes and hashes, never values). */
  errorSamples: string[];
  /** With budgets: their limits, and what the book holds against them. */
  budget?: { maxCalls: number; maxSum: number; transfers: number; sum: number };
}

interface Attempt {
  key: string;
  traceparent: string;
  dfid: string;
  amount: number;
  answer?: { verdict: string; status: string; reasons: string[]; decision_id: string; replay_of?: string; output?: { transfer_id?: string } };
}

interface Book {
  accounts: Record<string, { balance_minor: number }>;
  transfers: { id: string; dfid: string; decision_id: string; amount_minor: number }[];
}

export interface FleetOptions {
  dir: string;
  key: string;
  store: 'sqlite' | 'postgres';
  /** The database URL (postgres). */
  pgUrl?: string;
  processes: number;
  inFlight: number;
  kill: boolean;
  rounds: number;
  /** How long each round's load runs. */
  roundMs: number;
  /** Budgets on the torture agent's transfers: at most this many an hour, and this sum a day. */
  budget?: { maxCalls: number; maxSum: number };
  log?: (line: string) => void;
}

async function call(server: Server, a: Attempt): Promise<void> {
  const result = (await server.client.callTool(
    {
      name: 'invoke_capability',
      arguments: { capability: 'payments.transfer', params: { from_account: 'operating', payee: 'acme-supplies', amount_minor: a.amount, currency: 'EUR' }, idempotency_key: a.key },
      _meta: { traceparent: a.traceparent },
    },
    undefined,
    { timeout: 30_000 },
  )) as CallToolResult;
  a.answer = result.structuredContent as unknown as Attempt['answer'];
}

function readBook(dir: string): Book {
  return JSON.parse(readFileSync(join(dir, 'data', 'books.json'), 'utf8')) as Book;
}

async function openPort(o: FleetOptions): Promise<StorePort> {
  if (o.store === 'postgres') return openPgPort(o.pgUrl as string, systemWorld);
  const path = join(o.dir, 'mandate.db');
  return sqlitePort(openStore(path, systemWorld), path);
}

/** Longest a round under budgets waits for every worker to meet them. */
const BUDGET_ROUND_MAX_MS = 120_000;

/** Runs one fleet series on a fresh workspace; returns its figures. */
export async function fleetSeries(o: FleetOptions): Promise<FleetFigures> {
  const f: FleetFigures = { store: o.store, processes: o.processes, inFlight: o.inFlight, kill: o.kill, rounds: 0, calls: 0, answered: 0, accepted: 0, refused: {}, acceptedWithoutEffect: 0, effectsWithoutAccepted: 0, doubled: 0, balanceGap: 0, transfers: 0, chainFailures: 0, crashes: 0, errorLogLines: 0, errorSamples: [] };
  const transport = o.store === 'sqlite' ? 'stdio' : 'http';
  const env = o.pgUrl ? { [PG_URL_ENV]: o.pgUrl } : undefined;
  const opening = readBook(o.dir).accounts['operating']?.balance_minor ?? 0;
  if (o.budget) withBudgets(o.dir, o.budget);
  const all: Attempt[] = [];
  let pending: Attempt[] = [];
  const start = async (): Promise<Server | null> => {
    try {
      return await startServer(transport, o.dir, o.key, env);
    } catch (err) {
      f.crashes++;
      o.log?.(`fleet: a server did not start: ${(err as Error).message.split('\n')[0]}`);
      return null;
    }
  };
  for (let round = 0; round < o.rounds; round++) {
    const servers = (await Promise.all(Array.from({ length: o.processes }, start))).filter((s): s is Server => s !== null);
    if (!servers.length) continue;
    f.rounds++;
    // Calls cut off by the last kill are retried first, on any process, with the same key and trace id.
    await Promise.allSettled(pending.map((a, i) => call(servers[i % servers.length] as Server, a)));
    // One read each first, so the load meets warm processes rather than their first-call start-up.
    await Promise.allSettled(servers.map((s) => s.client.callTool({ name: 'invoke_capability', arguments: { capability: 'payments.get_balance', params: { account: 'operating' } } }, undefined, { timeout: 30_000 })));
    let stop = false;
    const worker = async (server: Server) => {
      while (!stop) {
        const a: Attempt = { key: `k-${randomUUID()}`, ...randomTraceparent(), amount: randomInt(1, 10) };
        all.push(a);
        try {
          await call(server, a);
        } catch {
          return; // its process was killed
        }
        // Under budgets, a worker goes on until the budget refuses it.
        if (o.budget && a.answer?.reasons.includes('BUDGET_EXCEEDED')) return;
      }
    };
    const workers = servers.flatMap((s) => Array.from({ length: o.inFlight }, () => worker(s)));
    const victim = o.kill ? servers[randomInt(0, servers.length)] : undefined;
    if (victim) {
      await new Promise((r) => setTimeout(r, randomInt(Math.floor(o.roundMs / 5), o.roundMs)));
      process.kill(victim.pid, 'SIGKILL');
      await waitDead(victim.pid);
      await victim.client.close().catch(() => undefined);
    }
    // Under budgets the round lasts until every worker was refused by them (bounded); otherwise roundMs.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([o.budget ? Promise.allSettled(workers) : new Promise(() => undefined), new Promise((r) => (timer = setTimeout(r, o.budget ? BUDGET_ROUND_MAX_MS : o.roundMs)))]);
    clearTimeout(timer);
    stop = true;
    await Promise.allSettled(workers);
    for (const s of servers) {
      if (s !== victim && s.exited()) f.crashes++;
      await stopServer(s);
      noteErrors(f, s.stderr());
    }
    pending = all.filter((a) => !a.answer);
  }
  // A last clean start settles the effects the kills cut short (recovery at start), and answers every call still unanswered.
  const last = await start();
  if (last) {
    for (const a of pending) await call(last, a).catch(() => undefined);
    await stopServer(last);
    noteErrors(f, last.stderr());
  }
  f.calls = all.length;
  Object.assign(f, await judge(o, opening, all));
  if (o.budget) {
    const book = readBook(o.dir);
    f.budget = { ...o.budget, transfers: book.transfers.length, sum: book.transfers.reduce((n, t) => n + t.amount_minor, 0) };
  }
  return f;
}

/** Puts budgets on the torture agent's transfers (every process reads its contract at start). */
function withBudgets(dir: string, b: { maxCalls: number; maxSum: number }): void {
  const path = join(dir, 'contracts', `${AGENT}.yaml`);
  const text = readFileSync(path, 'utf8');
  const limits = '      max:\n        amount_minor: 100\n';
  if (!text.includes(limits)) throw new Error('the torture contract changed; update withBudgets');
  writeFileSync(path, text.replace(limits, `${limits}      budgets:\n        - window: 1h\n          max_calls: ${b.maxCalls}\n        - window: 1d\n          sum: amount_minor\n          max: ${b.maxSum}\n`));
}

function noteErrors(f: FleetFigures, stderr: string): void {
  f.errorLogLines += errorLogLines(stderr);
  for (const line of stderr.split('\n')) {
    if (f.errorSamples.length < 3 && /"level":(5|6)\d/.test(line)) f.errorSamples.push(line.slice(0, 400));
  }
}

/** A clean stop: a stdio server ends with its input; an HTTP one on SIGTERM. */
async function stopServer(s: Server): Promise<void> {
  await s.client.close().catch(() => undefined);
  if (!s.exited()) process.kill(s.pid, 'SIGTERM');
  await waitDead(s.pid);
}

async function judge(o: FleetOptions, opening: number, attempts: Attempt[]): Promise<Partial<FleetFigures>> {
  const book = readBook(o.dir);
  const out = { answered: 0, accepted: 0, refused: {} as Record<string, number>, acceptedWithoutEffect: 0, effectsWithoutAccepted: 0, doubled: 0, balanceGap: 0, transfers: book.transfers.length, chainFailures: 0 };
  const byDfid = new Map<string, number>();
  for (const t of book.transfers) byDfid.set(t.dfid, (byDfid.get(t.dfid) ?? 0) + 1);
  out.doubled = [...byDfid.values()].filter((n) => n > 1).length;
  const spent = book.transfers.reduce((s, t) => s + t.amount_minor, 0);
  out.balanceGap = opening - spent - (book.accounts['operating']?.balance_minor ?? 0);
  for (const a of attempts) {
    const ans = a.answer;
    if (!ans) continue;
    out.answered++;
    if (ans.verdict === 'accepted') {
      out.accepted++;
      // A repeat (a retry after a kill) answers with the decision that ran: `replay_of`.
      const ran = ans.replay_of ?? ans.decision_id;
      if (!book.transfers.some((t) => t.id === ans.output?.transfer_id && t.decision_id === ran)) out.acceptedWithoutEffect++;
    } else {
      for (const r of ans.reasons) out.refused[r] = (out.refused[r] ?? 0) + 1;
    }
  }
  const store = await openPort(o);
  try {
    if (!(await store.ledger.verify()).ok) out.chainFailures++;
    for (const t of book.transfers) {
      const d = await store.decisions.get(t.decision_id);
      if (d?.status !== 'accepted') out.effectsWithoutAccepted++;
    }
  } finally {
    await store.close();
  }
  return out;
}

/** What a fleet series must show: nothing lost, doubled or unrecorded, and the book balancing. */
export function fleetMissed(f: FleetFigures): string[] {
  const at = `fleet ${f.store} ×${f.processes}${f.kill ? ' kill -9' : ''}${f.budget ? ' budgets' : ''}`;
  const missed: string[] = [];
  if (!f.rounds) missed.push(`${at}: no round ran`);
  if (f.acceptedWithoutEffect) missed.push(`${at}: ${f.acceptedWithoutEffect} accepted without an effect`);
  if (f.effectsWithoutAccepted) missed.push(`${at}: ${f.effectsWithoutAccepted} effects without an accepted record`);
  if (f.doubled) missed.push(`${at}: ${f.doubled} calls moved money twice`);
  if (f.balanceGap) missed.push(`${at}: the balance is off by ${f.balanceGap} against the transfers`);
  if (f.chainFailures) missed.push(`${at}: the chain does not verify`);
  if (f.crashes) missed.push(`${at}: ${f.crashes} servers crashed or did not start`);
  if (f.errorLogLines) missed.push(`${at}: ${f.errorLogLines} error lines in the server logs, first: ${f.errorSamples.join(' | ')}`);
  if (f.budget && (f.budget.transfers > f.budget.maxCalls || f.budget.sum > f.budget.maxSum)) {
    missed.push(`${at}: budgets exceeded: ${f.budget.transfers} transfers (max ${f.budget.maxCalls}), ${f.budget.sum} moved (max ${f.budget.maxSum})`);
  }
  return missed;
}

/** The PostgreSQL server the torture runs against (a URL of its `postgres` database); as the tests', MANDATE_TEST_PG_URL overrides it. */
export const TORTURE_PG_ADMIN_URL = process.env['MANDATE_TEST_PG_URL'] ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** A new database for one series; `drop()` removes it. */
export async function tortureDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `mandate_torture_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  const admin = async (sql: string) => {
    const c = new pg.Client({ connectionString: TORTURE_PG_ADMIN_URL });
    await c.connect();
    try {
      await c.query(sql);
    } finally {
      await c.end();
    }
  };
  await admin(`CREATE DATABASE ${name}`);
  const u = new URL(TORTURE_PG_ADMIN_URL);
  u.pathname = `/${name}`;
  return { url: u.toString(), drop: () => admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

/** The series `npm run torture` runs: 3 processes on SQLite, 2 and 3 replicas on PostgreSQL, each without and with kill -9. */
export interface FleetSeries {
  store: 'sqlite' | 'postgres';
  processes: number;
  kill: boolean;
  budget?: { maxCalls: number; maxSum: number };
}

export const FLEET_SERIES: FleetSeries[] = [
  { store: 'sqlite', processes: 3, kill: false },
  { store: 'sqlite', processes: 3, kill: true },
  { store: 'postgres', processes: 2, kill: false },
  { store: 'postgres', processes: 2, kill: true },
  { store: 'postgres', processes: 3, kill: false },
  { store: 'postgres', processes: 3, kill: true },
  // Budgets across processes: demand well past them, so they bind.
  { store: 'sqlite', processes: 3, kill: false, budget: { maxCalls: 25, maxSum: 120 } },
  { store: 'postgres', processes: 3, kill: false, budget: { maxCalls: 25, maxSum: 120 } },
];

/** Runs the given series, each on a fresh workspace (and database), 4 calls in flight per process. */
export async function fleetRuns(series: FleetSeries[], sizes: { rounds: number; roundMs: number }, log: (line: string) => void = () => undefined): Promise<FleetFigures[]> {
  const out: FleetFigures[] = [];
  for (const s of series) {
    const db = s.store === 'postgres' ? await tortureDatabase() : undefined;
    const ws = tortureWorkspace(db?.url);
    try {
      log(`fleet: ${s.store}, ${s.processes} processes, 4 in flight each${s.kill ? ', kill -9 per round' : ''}${s.budget ? ', under budgets' : ''}`);
      out.push(await fleetSeries({ dir: ws.dir, key: ws.key, store: s.store, ...(db ? { pgUrl: db.url } : {}), processes: s.processes, inFlight: 4, kill: s.kill, rounds: s.kill ? sizes.rounds : 1, roundMs: sizes.roundMs, ...(s.budget ? { budget: s.budget } : {}), log }));
    } finally {
      rmSync(dirname(ws.dir), { recursive: true, force: true });
      await db?.drop();
    }
  }
  return out;
}

export function formatFleet(figures: FleetFigures[]): string {
  const rows = figures.map((f) => [
    `${f.store} ×${f.processes}${f.kill ? ' kill -9' : ''}${f.budget ? ` budget ${f.budget.maxCalls}/${f.budget.maxSum}` : ''}`,
    f.rounds,
    f.calls,
    f.accepted,
    Object.entries(f.refused).map(([k, v]) => `${k} ${v}`).join(', ') || '-',
    f.transfers,
    f.acceptedWithoutEffect,
    f.effectsWithoutAccepted,
    f.doubled,
    f.balanceGap,
    f.chainFailures,
    f.crashes,
    f.errorLogLines,
  ]);
  const headers = ['fleet', 'rounds', 'calls', 'accepted', 'refused', 'transfers', 'accepted w/o effect', 'effect w/o accepted', 'doubled', 'balance gap', 'chain failures', 'crashes', 'error logs'];
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells: (string | number)[]) => cells.map((c, i) => String(c).padStart(widths[i] as number)).join('  ');
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}
