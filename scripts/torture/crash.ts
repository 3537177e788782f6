/**
 * kill -9 at random moments under concurrent load. Each trial starts a
 * server (stdio or HTTP), first retries the calls the previous trial left
 * unanswered (same idempotency key, same trace id), then keeps `inFlight`
 * transfers from one account running until a random moment, and kills the
 * server with SIGKILL. Between trials the store and the book are checked.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { randomInt, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { systemWorld } from '../../src/core/world.js';
import { processAlive } from '../../src/kernel/recovery.js';
import { openStore } from '../../src/store/sqlite/store.js';
import { AGENT, CLI, errorLogLines, randomTraceparent, startHttp } from './workspace.js';

export interface CrashFigures {
  transport: 'stdio' | 'http';
  inFlight: number;
  trials: number;
  calls: number;
  acknowledged: number;
  /** Acknowledged decisions whose recorded event (receipt seq and hash) or decision row is gone after the crash. */
  lost: number;
  /** Calls (one trace id, one key) whose transfer is in the book more than once. */
  doubled: number;
  /** Transfers with no ActionStarted recorded for their flow: an effect that started without a record. */
  effectsWithoutRecord: number;
  /** Transfers whose flow has ActionStarted but no recorded outcome: the crash hit mid-effect. */
  outcomeUnrecorded: number;
  /** Answers that contradict the book: accepted with no transfer, or failed although the transfer happened. */
  mismatched: number;
  /** Retries of a call cut off by a crash that were answered IN_PROGRESS although nothing runs. */
  retriesStuck: number;
  /** Trials after which `ledger verify` failed. */
  chainFailures: number;
  /** Servers that died or failed to start without being killed, and error-level log lines. */
  crashes: number;
  errorLogLines: number;
}

interface Attempt {
  key: string;
  traceparent: string;
  dfid: string;
  amount: number;
  answer?: { verdict: string; status: string; reasons: string[]; decision_id: string; receipt: { seq: number; hash: string } | null; output?: { transfer_id?: string } };
}

export interface Server {
  client: Client;
  pid: number;
  exited(): boolean;
  stderr(): string;
}

export async function startServer(transport: 'stdio' | 'http', dir: string, key: string, env?: Record<string, string>): Promise<Server> {
  const client = new Client({ name: 'torture', version: '0' });
  if (transport === 'stdio') {
    const t = new StdioClientTransport({ command: process.execPath, args: [CLI, 'serve', '--stdio', '--agent', AGENT, '-w', dir, '--log-level', 'warn'], stderr: 'pipe', ...(env ? { env: { ...(process.env as Record<string, string>), ...env } } : {}) });
    let err = '';
    t.stderr?.on('data', (c: Buffer) => (err = (err + c.toString('utf8')).slice(-200_000)));
    await client.connect(t, { timeout: 30_000 });
    const pid = t.pid as number;
    return { client, pid, exited: () => !processAlive(pid), stderr: () => err };
  }
  const h = await startHttp(dir, [], env);
  const t = new StreamableHTTPClientTransport(new URL(`${h.url}/mcp`), { requestInit: { headers: { Authorization: `Bearer ${key}` } } });
  await client.connect(t, { timeout: 30_000 });
  return { client, pid: h.proc.pid as number, exited: () => h.proc.exitCode !== null || h.proc.signalCode !== null, stderr: h.stderr };
}

export async function waitDead(pid: number): Promise<void> {
  for (let i = 0; i < 200 && processAlive(pid); i++) await new Promise((r) => setTimeout(r, 25));
}

async function call(client: Client, a: Attempt): Promise<void> {
  const result = (await client.callTool(
    {
      name: 'invoke_capability',
      arguments: { capability: 'payments.transfer', params: { from_account: 'operating', payee: 'acme-supplies', amount_minor: a.amount, currency: 'EUR' }, idempotency_key: a.key },
      _meta: { traceparent: a.traceparent },
    },
    undefined,
    { timeout: 20_000 },
  )) as CallToolResult;
  a.answer = result.structuredContent as unknown as Attempt['answer'];
}

interface Book {
  transfers: { id: string; dfid: string }[];
}

/** Runs one series of trials on one workspace; returns its figures. */
export async function crashSeries(opts: { dir: string; key: string; transport: 'stdio' | 'http'; inFlight: number; trials: number; log?: (line: string) => void }): Promise<CrashFigures> {
  const f: CrashFigures = { transport: opts.transport, inFlight: opts.inFlight, trials: 0, calls: 0, acknowledged: 0, lost: 0, doubled: 0, effectsWithoutRecord: 0, outcomeUnrecorded: 0, mismatched: 0, retriesStuck: 0, chainFailures: 0, crashes: 0, errorLogLines: 0 };
  const all: Attempt[] = [];
  let pending: Attempt[] = [];
  for (let trial = 0; trial < opts.trials; trial++) {
    let server: Server;
    try {
      server = await startServer(opts.transport, opts.dir, opts.key);
    } catch (err) {
      f.crashes++;
      opts.log?.(`trial ${trial}: server did not start: ${(err as Error).message.split('\n')[0]}`);
      continue;
    }
    f.trials++;
    // Calls a crash cut off are retried first, with the same key and trace id.
    for (const a of pending) {
      try {
        await call(server.client, a);
        if (a.answer?.reasons.includes('IN_PROGRESS')) f.retriesStuck++;
      } catch {
        // the server died under the retry: counted below
      }
    }
    const attempts: Attempt[] = [];
    let stop = false;
    const worker = async () => {
      while (!stop) {
        const a: Attempt = { key: `k-${randomUUID()}`, ...randomTraceparent(), amount: randomInt(1, 10) };
        attempts.push(a);
        try {
          await call(server.client, a);
        } catch {
          return; // the kill
        }
      }
    };
    const workers = Array.from({ length: opts.inFlight }, worker);
    await new Promise((r) => setTimeout(r, randomInt(30, 700)));
    const diedEarly = server.exited();
    stop = true;
    process.kill(server.pid, 'SIGKILL');
    await waitDead(server.pid);
    // Closing the client fails the calls still waiting on the dead server at once.
    await server.client.close().catch(() => undefined);
    await Promise.allSettled(workers);
    if (diedEarly) f.crashes++;
    f.errorLogLines += errorLogLines(server.stderr());

    f.calls += attempts.length;
    pending = attempts.filter((a) => !a.answer);
    all.push(...attempts);
    const acked = attempts.filter((a) => a.answer);
    f.acknowledged += acked.length;
    const store = openStore(join(opts.dir, 'mandate.db'), systemWorld);
    try {
      if (!store.ledger.verify().ok) f.chainFailures++;
      const at = store.db.prepare<[number], { hash: string }>('SELECT hash FROM events WHERE seq = ?');
      for (const a of acked) {
        const r = a.answer?.receipt;
        const recorded = r ? at.get(r.seq)?.hash === r.hash : false;
        if (!recorded || !store.decisions.get(a.answer?.decision_id ?? '')) f.lost++;
      }
    } finally {
      store.close();
    }
  }
  Object.assign(f, judgeBook(opts.dir, all));
  return f;
}

/** Compares the book with the ledger and with what callers were told. */
function judgeBook(dir: string, attempts: Attempt[]): Pick<CrashFigures, 'doubled' | 'effectsWithoutRecord' | 'outcomeUnrecorded' | 'mismatched'> {
  const book = JSON.parse(readFileSync(join(dir, 'data', 'books.json'), 'utf8')) as Book;
  const byDfid = new Map<string, { id: string }[]>();
  for (const t of book.transfers) byDfid.set(t.dfid, [...(byDfid.get(t.dfid) ?? []), t]);
  const store = openStore(join(dir, 'mandate.db'), systemWorld);
  const out = { doubled: 0, effectsWithoutRecord: 0, outcomeUnrecorded: 0, mismatched: 0 };
  try {
    for (const a of attempts) {
      const transfers = byDfid.get(a.dfid) ?? [];
      if (transfers.length > 1) out.doubled++;
      const events = store.ledger.byDfid(a.dfid);
      if (transfers.length && !events.some((e) => e.type === 'ActionStarted')) out.effectsWithoutRecord++;
      if (transfers.length && !events.some((e) => e.type === 'ActionOutcome' && e.data['ok'] === true)) out.outcomeUnrecorded++;
      const ans = a.answer;
      if (!ans) continue;
      const accepted = ans.status === 'accepted' && ans.verdict === 'accepted';
      if (accepted && !transfers.some((t) => t.id === ans.output?.transfer_id)) out.mismatched++;
      if (ans.status === 'failed' && transfers.length > 0) out.mismatched++;
    }
  } finally {
    store.close();
  }
  return out;
}
