import type { Pool } from 'pg';
import type { Sensitivity } from '../../core/types.js';
import type { AgentStatus, AgentStatusRow, ConstraintRow, FlowStatus, InterventionRow } from '../agents.js';
import type { CredentialRow } from '../credentials.js';
import { decisionFromRow, type DecisionRow } from '../decisions.js';
import type { IdempotencyRecord } from '../idempotency.js';
import { checkRow, eventFromRow, GENESIS_HASH, type EventRow, type VerifyResult } from '../ledger.js';
import type { MemoryRecord } from '../memory.js';
import type { PinnedDefinition, PinRow } from '../pins.js';
import { fromPolicyInputRow } from '../policy-inputs.js';
import type { StorePort } from '../port.js';
import type { RunnerRow } from '../runners.js';
import { taskFromRow, type TaskRow } from '../tasks.js';
import { checkout, classify } from './connect.js';

type Reads = Omit<StorePort, 'kind' | 'location' | 'commit' | 'ping' | 'close' | 'notifications'>;

const BUCKET_MS = 60_000; // as src/store/usage.ts
const LIST_LIMIT = 500; // as src/store/memory.ts
const VERIFY_PAGE = 5_000;

/**
 * The port's reads over PostgreSQL: the same answers as the SQLite
 * repositories (src/store/*.ts), query for query. `q` runs one statement on
 * the pool and turns a connection failure into StoreUnavailableError.
 */
export function pgReads(pool: Pool, q: <R>(sql: string, params?: unknown[]) => Promise<R[]>): Reads {
  const one = async <R>(sql: string, params?: unknown[]): Promise<R | undefined> => (await q<R>(sql, params))[0];
  return {
    ledger: {
      page: async (afterSeq, limit) => (await q<EventRow>('SELECT * FROM events WHERE seq > $1 ORDER BY seq LIMIT $2', [afterSeq, limit])).map(eventFromRow),
      byDfid: async (dfid) => (await q<EventRow>('SELECT * FROM events WHERE dfid = $1 ORDER BY seq', [dfid])).map(eventFromRow),
      headSeq: async () => (await one<{ seq: number }>('SELECT seq FROM chain_head WHERE id = 1'))?.seq ?? 0,
      verify: async (): Promise<VerifyResult> => {
        // In pages by sequence, so memory stays bounded however long the chain is.
        let expectedSeq = 1;
        let prev = GENESIS_HASH;
        let count = 0;
        for (;;) {
          const rows = await q<EventRow>('SELECT * FROM events WHERE seq >= $1 ORDER BY seq LIMIT $2', [expectedSeq, VERIFY_PAGE]);
          for (const row of rows) {
            const problem = checkRow(row, expectedSeq, prev);
            if (problem) return { ok: false, events: count, firstBadSeq: row.seq, problem };
            prev = row.hash;
            expectedSeq++;
            count++;
          }
          if (rows.length < VERIFY_PAGE) break;
        }
        // The head row must be where the chain ends: a removed tail shows here.
        const head = await one<{ seq: number; hash: string }>('SELECT seq, hash FROM chain_head WHERE id = 1');
        if (head && (head.seq !== count || head.hash !== prev)) {
          return { ok: false, events: count, firstBadSeq: count + 1, problem: `chain head says seq ${head.seq}, the events end at ${count}` };
        }
        return { ok: true, events: count, head: prev };
      },
    },
    decisions: {
      get: async (id) => {
        const row = await one<DecisionRow>('SELECT * FROM decisions WHERE id = $1', [id]);
        return row ? decisionFromRow(row) : null;
      },
      flowHasCalls: async (dfid, agent) => (await one("SELECT 1 FROM decisions WHERE dfid = $1 AND ($2 = '*' OR agent = $2) LIMIT 1", [dfid, agent])) !== undefined,
      pending: async () => (await q<DecisionRow>("SELECT * FROM decisions WHERE status = 'pending' ORDER BY created_at, id")).map(decisionFromRow),
      pendingCount: async () => (await one<{ n: number }>("SELECT count(*) AS n FROM decisions WHERE status = 'pending'"))?.n ?? 0,
      byDfid: async (dfid, limit = 1000) => (await q<DecisionRow>('SELECT * FROM decisions WHERE dfid = $1 ORDER BY created_at, id LIMIT $2', [dfid, limit])).map(decisionFromRow),
      started: async () => (await q<DecisionRow>("SELECT * FROM decisions WHERE status IN ('running', 'outcome_unknown') ORDER BY created_at, id")).map(decisionFromRow),
    },
    runners: {
      list: async () => q<RunnerRow>('SELECT * FROM runners ORDER BY started_at, id'),
    },
    tasks: {
      get: async (agent, id, now) => {
        const row = await one<TaskRow>('SELECT * FROM tasks WHERE agent = $1 AND id = $2 AND expires_at > $3', [agent, id, now]);
        return row ? taskFromRow(row) : null;
      },
      list: async (agent, now, after, limit) =>
        (
          await q<TaskRow>('SELECT * FROM tasks WHERE agent = $1 AND expires_at > $2 AND (created_at > $3 OR (created_at = $3 AND id > $4)) ORDER BY created_at, id LIMIT $5', [
            agent,
            now,
            after?.at ?? -1,
            after?.id ?? '',
            limit,
          ])
        ).map(taskFromRow),
    },
    idempotency: {
      peek: async (agent, key, now) => {
        const rec = await one<IdempotencyRecord>('SELECT * FROM idempotency WHERE agent = $1 AND key = $2', [agent, key]);
        return rec && (rec.expires_at > now || rec.state === 'in_flight' || rec.state === 'outcome_unknown') ? rec : null;
      },
      purgeExpired: async (now) => (await pool.query("DELETE FROM idempotency WHERE expires_at <= $1 AND state NOT IN ('in_flight', 'outcome_unknown')", [now]).catch(rethrow)).rowCount ?? 0,
    },
    agents: {
      status: async (agent) => (await one<{ status: AgentStatus }>('SELECT status FROM agent_status WHERE agent = $1', [agent]))?.status ?? 'active',
      statusRow: async (agent) => (await one<AgentStatusRow>('SELECT status, updated_at, updated_by FROM agent_status WHERE agent = $1', [agent])) ?? null,
      flowStatus: async (dfid, agent) =>
        (
          await one<{ status: FlowStatus }>(
            "SELECT status FROM flow_status WHERE dfid = $1 AND agent IN ($2, '*') ORDER BY CASE status WHEN 'terminated' THEN 0 WHEN 'paused' THEN 1 ELSE 2 END LIMIT 1",
            [dfid, agent],
          )
        )?.status ?? 'active',
      interventions: async (limit = 1000) => q<InterventionRow>('SELECT * FROM interventions ORDER BY created_at DESC, id LIMIT $1', [limit]),
      intervention: async (id) => (await one<InterventionRow>('SELECT * FROM interventions WHERE id = $1', [id])) ?? null,
      terminationsSince: async (at, kind) =>
        q<InterventionRow>("SELECT * FROM interventions WHERE updated_at >= $1 AND act = 'terminate' AND state = 'applied' AND target_kind = $2 ORDER BY updated_at", [at, kind]),
      constraints: async (agent, capability, now) =>
        q<ConstraintRow>('SELECT * FROM constraints WHERE agent = $1 AND capability = $2 AND expires_at > $3 ORDER BY intervention_id', [agent, capability, now]),
    },
    memory: {
      get: async (scope, key) => {
        const row = await one<MemoryRow>('SELECT * FROM memory WHERE scope = $1 AND key = $2', [scope, key]);
        return row ? memoryFromRow(row) : null;
      },
      list: async (scope) => (await q<MemoryRow>('SELECT * FROM memory WHERE scope = $1 ORDER BY key LIMIT $2', [scope, LIST_LIMIT])).map(memoryFromRow),
      pack: async (scope, pack) => {
        const row = await one<{ keys: string }>('SELECT keys FROM memory_packs WHERE scope = $1 AND pack = $2', [scope, pack]);
        return row ? (JSON.parse(row.keys) as string[]) : null;
      },
      seed: async (records, packs, at) => {
        const { client: c, done } = await checkout(pool);
        let failed: unknown;
        try {
          await c.query('BEGIN');
          for (const r of records) {
            // As src/store/memory.ts: a seed never overwrites what an agent wrote since.
            await c.query(
              `INSERT INTO memory (scope, key, version, value, sensitivity, provenance, created_at, updated_at)
               VALUES ($1, $2, 1, $3, $4, 'human:workspace-seed', $5, $5)
               ON CONFLICT (scope, key) DO UPDATE SET value = EXCLUDED.value, sensitivity = EXCLUDED.sensitivity,
                 version = memory.version + 1, updated_at = EXCLUDED.updated_at, provenance = 'human:workspace-seed'
               WHERE memory.provenance = 'human:workspace-seed' AND (memory.value <> EXCLUDED.value OR memory.sensitivity <> EXCLUDED.sensitivity)`,
              [r.scope, r.key, JSON.stringify(r.value ?? null), r.sensitivity, at],
            );
          }
          for (const p of packs) {
            await c.query('INSERT INTO memory_packs (scope, pack, keys) VALUES ($1, $2, $3) ON CONFLICT (scope, pack) DO UPDATE SET keys = EXCLUDED.keys', [p.scope, p.pack, JSON.stringify(p.keys)]);
          }
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
      sum: async (agent, capability, field, windowMs, now) =>
        (await one<{ total: number | null }>('SELECT SUM(total) AS total FROM usage WHERE agent = $1 AND capability = $2 AND field = $3 AND bucket >= $4', [
          agent,
          capability,
          field,
          Math.floor((now - windowMs) / BUCKET_MS),
        ]))?.total ?? 0,
    },
    monitors: {
      executed: async (agent) => (await one<{ executed: number }>('SELECT executed FROM steward_counts WHERE agent = $1', [agent]))?.executed ?? 0,
    },
    credentials: {
      byHash: async (keyHash) => (await one<CredentialRow>('SELECT * FROM credentials WHERE key_hash = $1 AND revoked_at IS NULL', [keyHash])) ?? null,
      get: async (id) => (await one<CredentialRow>('SELECT * FROM credentials WHERE id = $1', [id])) ?? null,
      list: async () => q<CredentialRow>('SELECT * FROM credentials ORDER BY created_at, id'),
    },
    mcpEvents: {
      add: async (sessionId, streamId, message, at) =>
        (await one<{ seq: number }>('INSERT INTO mcp_events (session_id, stream_id, message, created_at) VALUES ($1, $2, $3, $4) RETURNING seq', [sessionId, streamId, message, at]))?.seq ?? 0,
      trim: async (sessionId, keep) => {
        await q('DELETE FROM mcp_events WHERE session_id = $1 AND seq <= (SELECT seq FROM mcp_events WHERE session_id = $1 ORDER BY seq DESC LIMIT 1 OFFSET $2)', [sessionId, keep]);
      },
      streamOf: async (sessionId, seq) => (await one<{ stream_id: string }>('SELECT stream_id FROM mcp_events WHERE seq = $1 AND session_id = $2', [seq, sessionId]))?.stream_id ?? null,
      after: async (sessionId, streamId, seq, limit) =>
        q<{ seq: number; message: string }>('SELECT seq, message FROM mcp_events WHERE session_id = $1 AND stream_id = $2 AND seq > $3 ORDER BY seq LIMIT $4', [sessionId, streamId, seq, limit]),
      dropSession: async (sessionId) => {
        await q('DELETE FROM mcp_events WHERE session_id = $1', [sessionId]);
      },
      dropOlderThan: async (at) => (await pool.query('DELETE FROM mcp_events WHERE created_at < $1', [at]).catch(rethrow)).rowCount ?? 0,
    },
    pins: {
      list: async (server?: string) => {
        const rows =
          server === undefined
            ? await q<PinDbRow>('SELECT * FROM upstream_pins ORDER BY server, tool')
            : await q<PinDbRow>('SELECT * FROM upstream_pins WHERE server = $1 ORDER BY tool', [server]);
        return rows.map((r): PinRow => ({ ...r, definition: JSON.parse(r.definition) as PinnedDefinition }));
      },
      generation: async () =>
        (await one<{ g: string | null }>("SELECT string_agg(server || '.' || tool || '=' || hash, ';' ORDER BY server, tool) AS g FROM upstream_pins"))?.g ?? '',
    },
    policyInputs: {
      list: async (f) =>
        (
          await q<Parameters<typeof fromPolicyInputRow>[0]>(
            `SELECT * FROM policy_inputs
             WHERE at >= $1 AND ($2::text IS NULL OR agent = $2) AND ($3::text IS NULL OR capability = $3)
               AND (at > $4 OR (at = $4 AND decision_id > $5))
             ORDER BY at, decision_id LIMIT $6`,
            [f.since ?? 0, f.agent ?? null, f.capability ?? null, f.after?.at ?? -1, f.after?.decision_id ?? '', f.limit],
          )
        ).map(fromPolicyInputRow),
    },
  };
}

type MemoryRow = Omit<MemoryRecord, 'value' | 'sensitivity'> & { value: string; sensitivity: Sensitivity };
type PinDbRow = Omit<PinRow, 'definition'> & { definition: string };

function memoryFromRow(row: MemoryRow): MemoryRecord {
  return { ...row, value: JSON.parse(row.value) as unknown };
}

function rethrow(err: unknown): never {
  throw classify(err);
}
