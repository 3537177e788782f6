import type { Pool, PoolClient, QueryResult } from 'pg';
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

/**
 * A call's reads before its first commit point in one round trip (ADR-028):
 * the port's own statements, sent as one multi-statement query, each answered
 * as the port read of the same name would answer it at that moment (read
 * committed: each sees what was committed when it ran, as the reads one by
 * one did, a few microseconds apart instead of a round trip each).
 */
export async function readAheadPg(pool: Pool, req: ReadAheadRequest): Promise<ReadAhead> {
  try {
    return await readAheadOnce(pool, req);
  } catch (err) {
    // A stale statement dropped its connection (ADR-044); reads are safe to repeat, once, on another.
    if (isStaleStatement(err)) return readAheadOnce(pool, req);
    throw err;
  }
}

async function readAheadOnce(pool: Pool, req: ReadAheadRequest): Promise<ReadAhead> {
  const { client: c, done } = await checkout(pool);
  let failed: unknown;
  try {
    return await readAheadOn(c, req);
  } catch (err) {
    failed = err;
    throw classify(err);
  } finally {
    done(failed);
  }
}

async function readAheadOn(c: PoolClient, req: ReadAheadRequest): Promise<ReadAhead> {
  const texts = new PreparedTexts(c);
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
  await texts.ready();
  const res = (await c.query(statements.join(';\n'))) as unknown as QueryResult | QueryResult[];
  const results = Array.isArray(res) ? res : [res];
  take.forEach((fn, i) => fn(results[i] as QueryResult));
  return out;
}
