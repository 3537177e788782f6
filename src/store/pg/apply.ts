import pg, { type PoolClient, type QueryResult } from 'pg';
import type { Receipt } from '../../core/types.js';
import type { World } from '../../core/world.js';
import { finishValues } from '../decisions.js';
import type { IdempotencyRecord } from '../idempotency.js';
import { sealEvent } from '../ledger.js';
import { UnitConflictSignal as Conflict, type Op, type StoreTopic, type UnitContext, type UnitResult } from '../port.js';
import { LOAD_SAMPLES, LOAD_STATE, windowsOf, type SampleRow, type StateRow } from './windows.js';

const BUCKET_MS = 60_000; // as src/store/usage.ts
const OPEN_TASK = "status IN ('working', 'input_required')"; // as src/store/tasks.ts

/** What a batch carries from unit to unit: the chain head it extends, and what to announce at commit. */
export interface BatchState {
  head: Receipt;
  world: World;
}

/** A change to announce once the batch commits (topic, payload). */
export type Announcement = [StoreTopic, string];

const INSERT_EVENT = `INSERT INTO events (seq, id, dfid, agent, type, time, decision_id, reasons, data, prev_hash, hash)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`;

/** A value as an SQL literal: strings through the driver's escaping, numbers only when finite. */
function literal(v: unknown): string {
  if (v === null || v === undefined) return 'NULL';
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new Error(`cannot store the number ${v}`);
    return String(v);
  }
  if (typeof v === 'boolean') return v ? 'TRUE' : 'FALSE';
  if (typeof v === 'string') return pg.escapeLiteral(v);
  if (Array.isArray(v) && v.length) return `ARRAY[${v.map(literal).join(', ')}]`;
  throw new Error(`cannot store a ${typeof v} as a literal`);
}

/**
 * The statements of a unit that need no answer before the next one, sent
 * as one multi-statement query (one round trip instead of one per
 * statement). Each may carry a check, run on its result once the query
 * returns, in order; a check that throws ends the unit, and the caller rolls
 * back to the unit's savepoint, undoing the statements after it too.
 */
export class Segment {
  private statements: { sql: string; check: ((r: QueryResult) => void) | undefined }[] = [];
  /** Called before the first query is sent (the unit's savepoint exists from then on). */
  onSend: (() => void) | null = null;

  constructor(private readonly c: PoolClient) {}

  add(sql: string, params: unknown[] = [], check?: (r: QueryResult) => void): void {
    this.statements.push({ sql: sql.replace(/\$(\d+)/g, (_, n: string) => literal(params[Number(n) - 1])), check });
  }

  async flush(): Promise<void> {
    const list = this.statements;
    if (!list.length) return;
    this.statements = [];
    this.onSend?.();
    this.onSend = null;
    const res = (await this.c.query(list.map((x) => x.sql).join(';\n'))) as QueryResult | QueryResult[];
    const results = Array.isArray(res) ? res : [res];
    list.forEach((x, i) => x.check?.(results[i] as QueryResult));
  }
}

/**
 * Applies one unit's ops in order inside the batch's transaction, exactly as
 * src/store/sqlite-port.ts does over SQLite: same rows, same guards, same
 * results. It opens the unit's savepoint with its first statements and says
 * so in `savepoint.opened` (the caller rolls back to it when the unit fails;
 * nothing was sent when it is not open). It pushes what the unit changed to `announce`. Ops whose
 * answer a later op needs (a note, monitor windows, expired interventions)
 * are barriers: what came before them is sent first.
 */
export async function applyUnitPg(c: PoolClient, unit: Op[], st: BatchState, announce: Announcement[], savepoint: { name: string; opened: boolean }): Promise<UnitResult> {
  const receipts: Receipt[] = [];
  const results = new Map<number, unknown>();
  const ctx: UnitContext = { receipt: null, note: undefined };
  const seg = new Segment(c);
  const q = (sql: string, params: unknown[], check?: (r: QueryResult) => void) => seg.add(sql, params, check);
  const append = (event: Parameters<typeof sealEvent>[0]) => {
    const r = sealEvent(event, st.head, st.world);
    q(INSERT_EVENT, [r.seq, r.id, r.dfid, r.agent, r.type, r.time, r.decision_id, r.reasons, r.data, r.prev_hash, r.hash]);
    st.head = { seq: r.seq, hash: r.hash };
    ctx.receipt = st.head;
    receipts.push(st.head);
  };
  let notePending = false;
  seg.add(`SAVEPOINT ${savepoint.name}`);
  seg.onSend = () => void (savepoint.opened = true);
  for (const [i, op] of unit.entries()) {
    switch (op.op) {
      case 'event':
        append(op.event);
        break;
      case 'decision.open':
        q("INSERT INTO decisions (id, dfid, agent, capability, status, request_hash, idempotency_key, created_at) VALUES ($1, $2, $3, $4, 'rejected', $5, NULL, $6)", [
          op.id,
          op.dfid,
          op.agent,
          op.capability,
          op.request_hash,
          op.created_at,
        ]);
        break;
      case 'decision.finish': {
        if (notePending) {
          await seg.flush();
          notePending = false;
        }
        const v = finishValues(op.id, op.outcome(ctx), op.pending ?? {});
        q(
          `UPDATE decisions SET status = $2, capability = COALESCE(capability, $3), idempotency_key = $4, outcome = $5, policies = $6,
             intent = COALESCE($7, intent), facts = COALESCE($8, facts), facts_hash = $9, expires_at = $10 WHERE id = $1`,
          [v.id, v.status, v.capability, v.idempotency_key, v.outcome, v.policies, v.intent, v.facts, v.facts_hash, v.expires_at],
        );
        announce.push(['decision', op.id]);
        break;
      }
      case 'decision.resolve':
        q("UPDATE decisions SET status = $2, resolved_at = $3, resolved_by = $4, resolution_note = $5 WHERE id = $1 AND status = 'pending'", [op.id, op.status, op.at, op.by, op.note], (r) => {
          if (r.rowCount !== 1) throw new Conflict({ kind: 'not_pending', id: op.id });
        });
        announce.push(['decision', op.id]);
        break;
      case 'decision.review':
        q("UPDATE decisions SET review = $2 WHERE id = $1 AND status = 'pending'", [op.id, JSON.stringify(op.review)], (r) => void results.set(i, r.rowCount === 1));
        break;
      case 'decision.running':
        q("UPDATE decisions SET status = 'running', runner = $2, idempotency_key = $3, intent = COALESCE(intent, $4) WHERE id = $1", [op.id, op.runner, op.key, JSON.stringify(op.intent)]);
        break;
      case 'decision.transition':
        q('UPDATE decisions SET status = $3 WHERE id = $1 AND status = $2', [op.id, op.from, op.to], (r) => {
          if (r.rowCount !== 1) throw new Conflict({ kind: 'status_moved', id: op.id });
        });
        announce.push(['decision', op.id]);
        break;
      case 'runner.beat':
        q(
          `INSERT INTO runners (id, host, pid, started_at, heartbeat_at) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (id) DO UPDATE SET heartbeat_at = EXCLUDED.heartbeat_at`,
          [op.row.id, op.row.host, op.row.pid, op.row.started_at, op.row.heartbeat_at],
        );
        break;
      case 'runner.remove':
        q('DELETE FROM runners WHERE id = $1', [op.id]);
        break;
      case 'task.create': {
        const t = op.row;
        q(
          `INSERT INTO tasks (id, agent, decision_id, result_form, status, status_message, result, ttl_ms, poll_ms, created_at, updated_at, expires_at)
           VALUES ($1, $2, $3, $4, $5, $6, NULL, $7, $8, $9, $10, $11)`,
          [t.id, t.agent, t.decision_id, t.result_form, t.status, t.status_message, t.ttl_ms, t.poll_ms, t.created_at, t.updated_at, t.expires_at],
        );
        break;
      }
      case 'task.status':
        q(`UPDATE tasks SET status = $3, status_message = $4, updated_at = $5 WHERE agent = $1 AND id = $2 AND ${OPEN_TASK}`, [op.agent, op.id, op.status, op.message, op.at]);
        break;
      case 'task.message':
        q(`UPDATE tasks SET status_message = $3, updated_at = $4 WHERE agent = $1 AND id = $2 AND ${OPEN_TASK}`, [op.agent, op.id, op.message, op.at]);
        break;
      case 'task.finish':
        q(`UPDATE tasks SET status = $3, status_message = $4, result = $5, updated_at = $6 WHERE agent = $1 AND id = $2 AND ${OPEN_TASK}`, [
          op.agent,
          op.id,
          op.status,
          op.message,
          JSON.stringify(op.result),
          op.at,
        ]);
        break;
      case 'task.attach':
        q("UPDATE tasks SET result = $3 WHERE agent = $1 AND id = $2 AND status = 'cancelled' AND result IS NULL", [op.agent, op.id, JSON.stringify(op.result)]);
        break;
      case 'tasks.purge':
        q('DELETE FROM tasks WHERE expires_at <= $1', [op.now], (r) => void results.set(i, r.rowCount ?? 0));
        break;
      case 'key.reserve': {
        const k = op.record;
        let taken = false;
        // A key whose effect may be running, or whose outcome a crash left unknown, never lapses (ADR-017).
        q("DELETE FROM idempotency WHERE agent = $1 AND key = $2 AND expires_at <= $3 AND state NOT IN ('in_flight', 'outcome_unknown')", [k.agent, k.key, op.now]);
        // The primary key (agent, key) makes the first reservation win on every replica.
        q(
          `INSERT INTO idempotency (agent, key, request_hash, state, decision_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (agent, key) DO NOTHING`,
          [k.agent, k.key, k.request_hash, k.state, k.decision_id, k.created_at, k.expires_at],
          (r) => void (taken = r.rowCount !== 1),
        );
        q('SELECT * FROM idempotency WHERE agent = $1 AND key = $2', [k.agent, k.key], (r) => {
          if (taken) throw new Conflict({ kind: 'key_taken', existing: r.rows[0] as IdempotencyRecord });
        });
        break;
      }
      case 'key.state':
        q('UPDATE idempotency SET state = $1, decision_id = $2 WHERE agent = $3 AND key = $4', [op.state, op.decision_id, op.agent, op.key]);
        break;
      case 'key.release':
        q('DELETE FROM idempotency WHERE agent = $1 AND key = $2 AND decision_id = $3', [op.agent, op.key, op.decision_id]);
        break;
      case 'flow.bump':
        q('INSERT INTO flows (dfid, invocations) VALUES ($1, 1) ON CONFLICT (dfid) DO UPDATE SET invocations = flows.invocations + 1 RETURNING invocations', [op.dfid], (r) => {
          const count = (r.rows[0] as { invocations: number } | undefined)?.invocations ?? 0;
          if (count > op.max) throw new Conflict({ kind: 'flow_limit', count });
        });
        break;
      case 'note.take':
        // The oldest live undelivered note, marked delivered; a later decision.finish waits for its text.
        q(
          `UPDATE notes SET delivered_at = $2 WHERE delivered_at IS NULL AND intervention_id = (
             SELECT intervention_id FROM notes WHERE agent = $1 AND delivered_at IS NULL AND expires_at > $2 ORDER BY created_at, intervention_id LIMIT 1 FOR UPDATE)
           RETURNING note`,
          [op.agent, op.now],
          (r) => void (ctx.note = (r.rows[0] as { note: string } | undefined)?.note),
        );
        notePending = true;
        break;
      case 'note.add':
        q('INSERT INTO notes (intervention_id, agent, note, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)', [
          op.row.intervention_id,
          op.row.agent,
          op.row.note,
          op.row.created_at,
          op.row.expires_at,
        ]);
        break;
      case 'usage.add':
        q(
          `INSERT INTO usage (agent, capability, field, bucket, total) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (agent, capability, field, bucket) DO UPDATE SET total = usage.total + EXCLUDED.total`,
          [op.agent, op.capability, op.field, Math.floor(op.at / BUCKET_MS), op.amount],
        );
        break;
      case 'usage.admit':
        // Every batch holds the chain head's row lock, so no other commit adds usage between this sum and this unit's adds.
        for (const b of op.budgets) {
          q('SELECT COALESCE(SUM(total), 0) AS total FROM usage WHERE agent = $1 AND capability = $2 AND field = $3 AND bucket >= $4', [op.agent, op.capability, b.field, Math.floor((op.at - b.windowMs) / BUCKET_MS)], (r) => {
            const used = (r.rows[0] as { total: number } | undefined)?.total ?? 0;
            if (!(used + b.amount <= b.max)) throw new Conflict({ kind: 'budget_exceeded', window: b.window, field: b.field, used, max: b.max });
          });
        }
        break;
      case 'monitors.observe': {
        let states: StateRow[] = [];
        let samples: SampleRow[] = [];
        q('INSERT INTO steward_counts (agent, executed) VALUES ($1, 1) ON CONFLICT (agent) DO UPDATE SET executed = steward_counts.executed + 1', [op.agent]);
        q(LOAD_STATE, [op.agent], (r) => void (states = r.rows as StateRow[]));
        q(LOAD_SAMPLES, [op.agent], (r) => void (samples = r.rows as SampleRow[]));
        await seg.flush();
        const windows = windowsOf(op.agent, states, samples);
        results.set(i, op.evaluate(windows));
        windows.writeBack(q);
        break;
      }
      case 'monitors.reset':
        q('DELETE FROM monitor_samples WHERE agent = $1', [op.agent]);
        q('DELETE FROM monitor_state WHERE agent = $1', [op.agent]);
        break;
      case 'agent.status':
        q(
          `INSERT INTO agent_status (agent, status, updated_at, updated_by, reason) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (agent) DO UPDATE SET status = EXCLUDED.status, updated_at = EXCLUDED.updated_at, updated_by = EXCLUDED.updated_by, reason = EXCLUDED.reason`,
          [op.agent, op.status, op.at, op.by, op.reason_hash],
        );
        announce.push(['intervention', op.agent]);
        break;
      case 'flow.status':
        q(
          `INSERT INTO flow_status (dfid, agent, status, updated_at) VALUES ($1, $2, $3, $4)
           ON CONFLICT (dfid, agent) DO UPDATE SET status = EXCLUDED.status, updated_at = EXCLUDED.updated_at`,
          [op.dfid, op.agent, op.status, op.at],
        );
        announce.push(['intervention', op.agent]);
        break;
      case 'intervention.add': {
        const r = op.row;
        q(
          `INSERT INTO interventions (id, dfid, target_kind, target, target_agent, act, args, issued_by, issuer_role, state, reason_hash, created_at, updated_at, expires_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
          [r.id, r.dfid, r.target_kind, r.target, r.target_agent, r.act, r.args, r.issued_by, r.issuer_role, r.state, r.reason_hash, r.created_at, r.updated_at, r.expires_at],
        );
        announce.push(['intervention', r.target_agent]);
        break;
      }
      case 'intervention.state':
        q('UPDATE interventions SET state = $1, updated_at = $2 WHERE id = $3', [op.state, op.at, op.id]);
        announce.push(['intervention', op.id]);
        break;
      case 'interventions.expire': {
        await seg.flush();
        const r = await c.query<{ id: string; dfid: string; target_agent: string }>(
          `WITH x AS (UPDATE interventions SET state = 'expired', updated_at = $1
             WHERE state IN ('pending', 'acknowledged', 'applied') AND expires_at IS NOT NULL AND expires_at <= $1 RETURNING id, dfid, target_agent)
           SELECT * FROM x ORDER BY id`,
          [op.now],
        );
        for (const row of r.rows) append({ dfid: row.dfid, agent: row.target_agent, type: 'InterventionExpired', decision_id: row.id, data: {} });
        results.set(i, r.rows.length);
        break;
      }
      case 'constraint.add':
        q('INSERT INTO constraints (intervention_id, agent, capability, field, max, expires_at) VALUES ($1, $2, $3, $4, $5, $6)', [
          op.row.intervention_id,
          op.row.agent,
          op.row.capability,
          op.row.field,
          op.row.max,
          op.row.expires_at,
        ]);
        break;
      case 'credential.add': {
        const r = op.row;
        q(
          `INSERT INTO credentials (id, kind, principal, role, key_hash, key_prefix, label, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
          [r.id, r.kind, r.principal, r.role, r.key_hash, r.key_prefix, r.label, r.created_at, r.created_by],
        );
        break;
      }
      case 'credential.revoke':
        q('UPDATE credentials SET revoked_at = $1, revoked_by = $2 WHERE id = $3 AND revoked_at IS NULL', [op.at, op.by, op.id], (r) => {
          if (r.rowCount !== 1) throw new Conflict({ kind: 'not_found', id: op.id });
        });
        break;
      case 'pins.replace':
        q('DELETE FROM upstream_pins WHERE server = $1', [op.server]);
        for (const r of op.rows) {
          q('INSERT INTO upstream_pins (server, tool, hash, definition, pinned_at, pinned_by) VALUES ($1, $2, $3, $4, $5, $6)', [
            op.server,
            r.tool,
            r.hash,
            JSON.stringify(r.definition),
            r.pinned_at,
            r.pinned_by,
          ]);
        }
        break;
      case 'policy_input.put': {
        const r = op.row;
        q('INSERT INTO policy_inputs (decision_id, dfid, agent, capability, at, verdict, gates, input, input_hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (decision_id) DO NOTHING', [
          r.decision_id,
          r.dfid,
          r.agent,
          r.capability,
          r.at,
          r.verdict,
          JSON.stringify(r.gates),
          r.input,
          r.input_hash,
        ]);
        break;
      }
      case 'policy_inputs.purge':
        q('DELETE FROM policy_inputs WHERE at < $1', [op.before]);
        break;
      case 'memory.write': {
        const w = op.write;
        const value = JSON.stringify(w.value ?? null);
        const settle = (version: number) => (r: QueryResult) => {
          if (r.rowCount !== 1) throw new Conflict({ kind: 'version_moved', scope: w.scope, key: w.key });
          results.set(i, version);
        };
        if (w.expected === 0) {
          q(
            `INSERT INTO memory (scope, key, version, value, sensitivity, provenance, created_at, updated_at) VALUES ($1, $2, 1, $3, $4, $5, $6, $6)
             ON CONFLICT (scope, key) DO NOTHING`,
            [w.scope, w.key, value, w.sensitivity, w.provenance, w.at],
            settle(1),
          );
        } else {
          q(
            'UPDATE memory SET value = $3, sensitivity = $4, provenance = $5, version = version + 1, updated_at = $6 WHERE scope = $1 AND key = $2 AND version = $7',
            [w.scope, w.key, value, w.sensitivity, w.provenance, w.at, w.expected],
            settle(w.expected + 1),
          );
        }
        break;
      }
      default: {
        // A new op must be interpreted here as in src/store/sqlite-port.ts: this does not compile until it is.
        const unknown: never = op;
        throw new Error(`op \`${(unknown as Op).op}\` is not implemented for PostgreSQL`);
      }
    }
  }
  await seg.flush();
  return { receipts, note: ctx.note, results };
}
