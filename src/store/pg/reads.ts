import type { Pool } from 'pg';
import { MEMORY_LIST_LIMIT, VERIFY_PAGE } from '../port/constants.js';
import { checkRow, eventCount, eventsOfRows, GENESIS_HASH } from '../port/events.js';
import type { StorePort } from '../port/port.js';
import type { AgentStatus, AgentStatusRow, ConstraintRow, CredentialRow, DecisionRow, DelegationRow, EventRow, FlowStatus, IdempotencyRecord, InterventionRow, MemoryRow, MinuteCount, MonitorSample, PinDbRow, PolicyInputDbRow, RunnerRow, TaskRow, VerifyResult } from '../port/rows.js';
import { agents, constraints, interventions } from '../tables/agents.js';
import { credentials } from '../tables/credentials.js';
import { delegations } from '../tables/delegations.js';
import { decisionFromRow, decisions } from '../tables/decisions.js';
import { events } from '../tables/events.js';
import { idempotency, isLive } from '../tables/idempotency.js';
import { mcpEvents } from '../tables/mcp-events.js';
import { memory, memoryFromRow } from '../tables/memory.js';
import { monitors } from '../tables/monitors.js';
import { pinFromRow, pins } from '../tables/pins.js';
import { policyInputFromRow, policyInputs } from '../tables/policy-inputs.js';
import { runners } from '../tables/runners.js';
import { sqlFor, type Sql } from '../tables/sql.js';
import { listParams, taskFromRow, tasks } from '../tables/tasks.js';
import { usage, windowStart } from '../tables/usage.js';
import { PLAN_SQL, type PlanAttemptRow, type PlanRow, type PlanStepRow } from '../plans.js';
import { checkout, classify } from './connect.js';

type Reads = Omit<StorePort, 'kind' | 'location' | 'commit' | 'ping' | 'close' | 'notifications' | 'sections'>;

/**
 * The port's reads over PostgreSQL: the same statements as the SQLite
 * repositories (src/store/tables/), the same answers. `q` runs one statement
 * on the pool and turns a connection failure into StoreUnavailableError.
 */
export function pgReads(pool: Pool, run: <R>(sql: string, params?: unknown[]) => Promise<R[]>): Reads {
  const q = <R>(sql: Sql, params?: unknown[]) => run<R>(sqlFor(sql, 'pg'), params);
  const one = async <R>(sql: Sql, params?: unknown[]): Promise<R | undefined> => (await q<R>(sql, params))[0];
  const count = async (sql: Sql, params: unknown[]): Promise<number> => (await pool.query(sqlFor(sql, 'pg'), params).catch(rethrow)).rowCount ?? 0;
  return {
    ledger: {
      page: async (afterSeq, limit) =>
        eventsOfRows(await q<EventRow>(events.page, [afterSeq, limit]))
          .filter((e) => e.seq > afterSeq)
          .slice(0, limit),
      byDfid: async (dfid) => eventsOfRows(await q<EventRow>(events.byDfid, [dfid])).filter((e) => e.dfid === dfid),
      headSeq: async () => (await one<{ seq: number }>(events.chainHead))?.seq ?? 0,
      verify: async (): Promise<VerifyResult> => {
        // In pages by sequence, so memory stays bounded however long the chain is.
        let expectedSeq = 1;
        let prev = GENESIS_HASH;
        let n = 0;
        for (;;) {
          const rows = await q<EventRow>(events.from, [expectedSeq, VERIFY_PAGE]);
          for (const row of rows) {
            const problem = checkRow(row, expectedSeq, prev);
            if (problem) return { ok: false, events: n, firstBadSeq: (row.format === 2 ? row.first_seq : null) ?? row.seq, problem };
            const k = eventCount(row);
            prev = row.hash;
            expectedSeq += k;
            n += k;
          }
          if (rows.length < VERIFY_PAGE) break;
        }
        // The head row must be where the chain ends: a removed tail shows here.
        const head = await one<{ seq: number; hash: string }>(events.chainHead);
        if (head && (head.seq !== n || head.hash !== prev)) {
          return { ok: false, events: n, firstBadSeq: n + 1, problem: `chain head says seq ${head.seq}, the events end at ${n}` };
        }
        return { ok: true, events: n, head: prev };
      },
    },
    decisions: {
      get: async (id) => {
        const row = await one<DecisionRow>(decisions.get, [id]);
        return row ? decisionFromRow(row) : null;
      },
      flowHasCalls: async (dfid, agent) => (await one(decisions.flowHasCalls, [dfid, agent])) !== undefined,
      pending: async () => (await q<DecisionRow>(decisions.pending)).map(decisionFromRow),
      pendingCount: async () => (await one<{ n: number }>(decisions.pendingCount))?.n ?? 0,
      byDfid: async (dfid, limit = 1000) => (await q<DecisionRow>(decisions.byDfid, [dfid, limit])).map(decisionFromRow),
      started: async () => (await q<DecisionRow>(decisions.started)).map(decisionFromRow),
      recent: async (agent, limit = 20) => (await q<DecisionRow>(decisions.recent, [agent, limit])).map(decisionFromRow),
      perMinute: async (from) => (await q<MinuteCount>(decisions.perMinute, [from])).map((r) => ({ minute: Number(r.minute), status: r.status, n: Number(r.n) })),
    },
    runners: {
      list: async () => q<RunnerRow>(runners.list),
    },
    delegations: {
      liveChildren: async (parent, now) => Number((await one<{ n: number | string }>(delegations.liveChildren, [parent, now]))?.n ?? 0),
      byChild: async (child) => (await one<DelegationRow>(delegations.byChild, [child])) ?? null,
      get: async (id) => (await one<DelegationRow>(delegations.get, [id])) ?? null,
      list: async () => q<DelegationRow>(delegations.list),
      dueToExpire: async (now) => q<DelegationRow>(delegations.dueToExpire, [now]),
    },
    plans: {
      get: async (id) => (await one<PlanRow>(PLAN_SQL.get, [id])) ?? null,
      byChild: async (child) => (await one<PlanRow>(PLAN_SQL.byChild, [child])) ?? null,
      running: async (agent, now) => q<PlanRow>(PLAN_SQL.running, [agent, now]),
      list: async () => q<PlanRow>(PLAN_SQL.list),
      steps: async (id) => q<PlanStepRow>(PLAN_SQL.steps, [id]),
      attempts: async (id) => q<PlanAttemptRow>(PLAN_SQL.attempts, [id]),
    },
    tasks: {
      get: async (agent, id, now) => {
        const row = await one<TaskRow>(tasks.get, [agent, id, now]);
        return row ? taskFromRow(row) : null;
      },
      list: async (agent, now, after, limit) => (await q<TaskRow>(tasks.list, listParams(agent, now, after, limit))).map(taskFromRow),
    },
    idempotency: {
      peek: async (agent, key, now) => {
        const rec = await one<IdempotencyRecord>(idempotency.get, [agent, key]);
        return rec && isLive(rec, now) ? rec : null;
      },
      purgeExpired: async (now) => count(idempotency.purge, [now]),
    },
    agents: {
      status: async (agent) => (await one<{ status: AgentStatus }>(agents.status, [agent]))?.status ?? 'active',
      statusRow: async (agent) => (await one<AgentStatusRow>(agents.statusRow, [agent])) ?? null,
      flowStatus: async (dfid, agent) => (await one<{ status: FlowStatus }>(agents.flowStatus, [dfid, agent]))?.status ?? 'active',
      interventions: async (limit = 1000) => q<InterventionRow>(interventions.list, [limit]),
      intervention: async (id) => (await one<InterventionRow>(interventions.get, [id])) ?? null,
      terminationsSince: async (at, kind) => q<InterventionRow>(interventions.terminationsSince, [at, kind]),
      constraints: async (agent, capability, now) => q<ConstraintRow>(constraints.live, [agent, capability, now]),
    },
    memory: {
      get: async (scope, key) => {
        const row = await one<MemoryRow>(memory.get, [scope, key]);
        return row ? memoryFromRow(row) : null;
      },
      list: async (scope) => (await q<MemoryRow>(memory.list, [scope, MEMORY_LIST_LIMIT])).map(memoryFromRow),
      pack: async (scope, pack) => {
        const row = await one<{ keys: string }>(memory.pack, [scope, pack]);
        return row ? (JSON.parse(row.keys) as string[]) : null;
      },
      seed: async (records, packs, at) => {
        const { client: c, done } = await checkout(pool);
        let failed: unknown;
        try {
          await c.query('BEGIN');
          for (const r of records) await c.query(memory.seed, [r.scope, r.key, JSON.stringify(r.value ?? null), r.sensitivity, at]);
          for (const p of packs) await c.query(memory.setPack, [p.scope, p.pack, JSON.stringify(p.keys)]);
          await c.query('COMMIT');
        } catch (err) {
          failed = err;
          await c.query('ROLLBACK').catch(() => undefined);
          throw classify(err);
        } finally {
          done(failed);
        }
      },
    },
    usage: {
      sum: async (agent, capability, field, windowMs, now) => (await one<{ total: number }>(usage.sum, [agent, capability, field, windowStart(now, windowMs)]))?.total ?? 0,
    },
    monitors: {
      executed: async (agent) => (await one<{ executed: number }>(monitors.executed, [agent]))?.executed ?? 0,
      samples: async (agent, monitor) => (await q<MonitorSample>(monitors.samples, [agent, monitor])).map((r) => ({ at: Number(r.at), value: Number(r.value) })),
    },
    credentials: {
      byHash: async (keyHash) => (await one<CredentialRow>(credentials.byHash, [keyHash])) ?? null,
      get: async (id) => (await one<CredentialRow>(credentials.get, [id])) ?? null,
      list: async () => q<CredentialRow>(credentials.list),
    },
    mcpEvents: {
      add: async (sessionId, streamId, message, at) => (await one<{ seq: number }>(mcpEvents.add, [sessionId, streamId, message, at]))?.seq ?? 0,
      trim: async (sessionId, keep) => {
        await q(mcpEvents.trim, [sessionId, keep]);
      },
      streamOf: async (sessionId, seq) => (await one<{ stream_id: string }>(mcpEvents.streamOf, [seq, sessionId]))?.stream_id ?? null,
      after: async (sessionId, streamId, seq, limit) => q<{ seq: number; message: string }>(mcpEvents.after, [sessionId, streamId, seq, limit]),
      dropSession: async (sessionId) => {
        await q(mcpEvents.dropSession, [sessionId]);
      },
      dropOlderThan: async (at) => count(mcpEvents.dropOlderThan, [at]),
    },
    pins: {
      list: async (server?: string) => (server === undefined ? await q<PinDbRow>(pins.all) : await q<PinDbRow>(pins.ofServer, [server])).map(pinFromRow),
      generation: async () => (await one<{ g: string | null }>(pins.generation))?.g ?? '',
    },
    policyInputs: {
      list: async (f) =>
        (await q<PolicyInputDbRow>(policyInputs.list, [f.since ?? 0, f.agent ?? null, f.capability ?? null, f.after?.at ?? -1, f.after?.decision_id ?? '', f.limit])).map(policyInputFromRow),
    },
  };
}

function rethrow(err: unknown): never {
  throw classify(err);
}
