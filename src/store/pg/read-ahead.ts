import type { Pool, QueryResult } from 'pg';
import { usageAheadKey, type ReadAhead, type ReadAheadRequest } from '../port/port.js';
import type { AgentStatus, ConstraintRow, FlowStatus, IdempotencyRecord } from '../port/rows.js';
import { agents, constraints } from '../tables/agents.js';
import { idempotency } from '../tables/idempotency.js';
import { monitors } from '../tables/monitors.js';
import type { Sql } from '../tables/sql.js';
import { usage, windowStart } from '../tables/usage.js';
import { PLAN_SQL, type PlanRow } from '../plans.js';
import { checkout, classify, isStaleStatement } from './connect.js';
import { PreparedTexts } from './prepared.js';

/** The most calls one query of reads answers. */
const MAX_GROUP = 32;

/**
 * A call's reads before its first commit point in one round trip (ADR-028):
 * the port's own statements, sent as one multi-statement query, each answered
 * as the port read of the same name would answer it at that moment (read
 * committed: each sees what was committed when it ran, as the reads one by
 * one did, a few microseconds apart instead of a round trip each).
 *
 * The calls that ask while a query of reads is out share the next one
 * (ADR-046): at one call in flight a call's reads go at once, as before; under
 * load, one round trip answers several calls, as a group commit writes
 * several units. Each call still gets exactly its own reads.
 */
export class PgReadAhead {
  private queue: Waiting[] = [];
  private out = false;

  constructor(private readonly pool: Pool) {}

  read(req: ReadAheadRequest): Promise<ReadAhead> {
    return new Promise((resolve, reject) => {
      this.queue.push({ req, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    if (this.out || !this.queue.length) return;
    const group = this.queue.splice(0, MAX_GROUP);
    this.out = true;
    void this.answer(group).finally(() => {
      this.out = false;
      this.pump();
    });
  }

  private async answer(group: Waiting[]): Promise<void> {
    if (group.length === 1) return settle(group[0] as Waiting, () => readAheadPg(this.pool, (group[0] as Waiting).req));
    let conn: Checkout;
    try {
      conn = await checkout(this.pool);
    } catch (err) {
      // No connection to be had (already StoreUnavailableError): asking each call again would wait out the connect timeout once more.
      return group.forEach((w) => w.reject(err));
    }
    let answers: ReadAhead[];
    try {
      answers = await readOn(conn, group.map((w) => w.req));
    } catch {
      // One call's read must not fail another's (a value the database refuses, a statement gone stale): each is asked alone.
      await Promise.all(group.map((w) => settle(w, () => readAheadPg(this.pool, w.req))));
      return;
    }
    group.forEach((w, i) => w.resolve(answers[i] as ReadAhead));
  }
}

interface Waiting {
  req: ReadAheadRequest;
  resolve(value: ReadAhead): void;
  reject(err: unknown): void;
}

async function settle(w: Waiting, read: () => Promise<ReadAhead>): Promise<void> {
  try {
    w.resolve(await read());
  } catch (err) {
    w.reject(err);
  }
}

/** One call's reads ahead, in a query of their own. */
export async function readAheadPg(pool: Pool, req: ReadAheadRequest): Promise<ReadAhead> {
  try {
    return await readAlone(pool, req);
  } catch (err) {
    // A stale statement dropped its connection (ADR-044); reads are safe to repeat, once, on another.
    if (isStaleStatement(err)) return readAlone(pool, req);
    throw err;
  }
}

type Checkout = Awaited<ReturnType<typeof checkout>>;

async function readAlone(pool: Pool, req: ReadAheadRequest): Promise<ReadAhead> {
  return (await readOn(await checkout(pool), [req]))[0] as ReadAhead;
}

/** Calls' reads ahead in one query on the connection checked out, each call's answer built from its own statements' results; the connection is then released. */
async function readOn({ client: c, done }: Checkout, reqs: readonly ReadAheadRequest[]): Promise<ReadAhead[]> {
  let failed: unknown;
  try {
    const texts = new PreparedTexts(c);
    const plans = reqs.map((req) => planReads(texts, req));
    await texts.ready();
    const res = (await c.query(plans.flatMap((p) => p.statements).join(';\n'))) as unknown as QueryResult | QueryResult[];
    const results = Array.isArray(res) ? res : [res];
    let i = 0;
    for (const p of plans) for (const take of p.take) take(results[i++] as QueryResult);
    return plans.map((p) => p.out);
  } catch (err) {
    failed = err;
    throw classify(err);
  } finally {
    done(failed);
  }
}

/** A call's statements, in order, and how each result fills its answer. */
interface PlannedReads {
  statements: string[];
  take: ((r: QueryResult) => void)[];
  out: ReadAhead;
}

function planReads(texts: PreparedTexts, req: ReadAheadRequest): PlannedReads {
  const statements: string[] = [];
  const take: ((r: QueryResult) => void)[] = [];
  const add = (sql: Sql, params: unknown[], fn: (r: QueryResult) => void) => {
    statements.push(texts.text(sql, params));
    take.push(fn);
  };
  const out: ReadAhead = { at: req.now, plans: null, status: 'active', flowStatus: 'active', key: null, constraints: null, usage: new Map(), executed: null };
  add(agents.status, [req.agent], (r) => void (out.status = (r.rows[0] as { status: AgentStatus } | undefined)?.status ?? 'active'));
  add(agents.flowStatus, [req.dfid, req.agent], (r) => void (out.flowStatus = (r.rows[0] as { status: FlowStatus } | undefined)?.status ?? 'active'));
  if (req.plans) add(PLAN_SQL.running, [req.agent, req.now], (r) => void (out.plans = r.rows as PlanRow[]));
  if (req.key !== null) add(idempotency.get, [req.agent, req.key], (r) => void (out.key = (r.rows[0] as IdempotencyRecord | undefined) ?? null));
  if (req.capability !== null) {
    add(constraints.live, [req.agent, req.capability, req.now], (r) => void (out.constraints = r.rows as ConstraintRow[]));
    for (const u of req.usage) {
      const from = windowStart(req.now, u.windowMs);
      add(usage.sum, [req.agent, req.capability, u.field, from], (r) => void out.usage.set(usageAheadKey(u.field, from), (r.rows[0] as { total: number } | undefined)?.total ?? 0));
    }
  }
  if (req.steward !== null) add(monitors.executed, [req.steward], (r) => void (out.executed = (r.rows[0] as { executed: number } | undefined)?.executed ?? 0));
  return { statements, take, out };
}
