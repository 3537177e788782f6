import type { PoolClient, QueryResult } from 'pg';
import type { Receipt } from '../../core/types.js';
import type { World } from '../../core/world.js';
import { openEvent, rowParams, sealRecord } from '../port/events.js';
import { UnitConflictSignal as Conflict, type Op, type OpHandlers, type StoreTopic, type UnitContext, type UnitResult } from '../port/port.js';
import type { IdempotencyRecord, NewEvent } from '../port/rows.js';
import { addParams as interventionParams, agents, constraints, interventions, notes } from '../tables/agents.js';
import { addParams as credentialParams, credentials } from '../tables/credentials.js';
import { addParams as delegationParams, delegations } from '../tables/delegations.js';
import { decisions, finishParams, inputInUnit, openParams, runningInUnit } from '../tables/decisions.js';
import { events } from '../tables/events.js';
import { flows } from '../tables/flows.js';
import { idempotency, reserveParams } from '../tables/idempotency.js';
import { memory } from '../tables/memory.js';
import { monitors } from '../tables/monitors.js';
import { pins } from '../tables/pins.js';
import { policyInputParams, policyInputs } from '../tables/policy-inputs.js';
import { runners } from '../tables/runners.js';
import { sqlFor, type Sql } from '../tables/sql.js';
import { createParams, tasks } from '../tables/tasks.js';
import { bucketOf, usage, windowStart } from '../tables/usage.js';
import { PLAN_SQL } from '../plans.js';
import { inDb } from './guards.js';
import type { Segment } from './segment.js';
import { windowsOf, type SampleRow, type StateRow } from './windows.js';

/** What a batch carries from unit to unit: the chain head it extends. */
export interface BatchState {
  head: Receipt;
  world: World;
}

/** A change to announce once the batch commits (topic, payload). */
export type Announcement = [StoreTopic, string];

/** What one unit's handlers share inside the batch's transaction. */
interface Tx {
  c: PoolClient;
  seg: Segment;
  st: BatchState;
  announce: Announcement[];
  ctx: UnitContext;
  receipts: Receipt[];
  results: Map<number, unknown>;
  /** A `note.take` was queued whose text a later `decision.finish` needs. */
  notePending: boolean;
  /** The commit point's events not yet queued: they become one ledger record (ADR-021). */
  events: NewEvent[];
  /** The unit's ops, and those a decision's insert already wrote (a `decision.running`, a `policy_input.put`): they have nothing left to do. */
  unit: Op[];
  folded: Set<Op>;
}

const q = (tx: Tx, sql: Sql, params: unknown[], read?: (r: QueryResult) => void): void => tx.seg.add(sql, params, read);

/** A statement whose check may refuse the unit; `db`: its form checked in the database (ADR-028). */
const guard = (tx: Tx, sql: Sql, params: unknown[], check: (r: QueryResult) => void, db?: { sql: Sql; params: unknown[] }): void => tx.seg.guard(sql, params, check, db);

const append = (tx: Tx, event: NewEvent): void => void tx.events.push(event);

/** Queues the pending events as one record, sealed onto the batch's head; their receipts are known from here on. */
const seal = (tx: Tx): void => {
  if (!tx.events.length) return;
  const { row, receipts } = sealRecord(
    tx.events.map((e) => openEvent(e, tx.st.world)),
    tx.st.head,
  );
  tx.events = [];
  q(tx, events.insert, rowParams(row));
  tx.st.head = { seq: row.seq, hash: row.hash };
  tx.receipts.push(...receipts);
  tx.ctx.receipt = receipts[receipts.length - 1] ?? tx.ctx.receipt;
};

/** A guard on a statement's row count. */
const exactlyOne = (conflict: () => ConstructorParameters<typeof Conflict>[0]) => (r: QueryResult) => {
  if (r.rowCount !== 1) throw new Conflict(conflict());
};

/**
 * How PostgreSQL applies each op (ADR-015, ADR-021): the same rows, guards and
 * results as src/store/sqlite/handlers.ts. Statements are queued on the
 * unit's segment and sent together; a guard is a check on its statement's
 * result. Ops whose answer a later op needs (a note, monitor windows, expired
 * interventions) are barriers: what came before them is sent first. Declared
 * `satisfies OpHandlers`: an op without a handler here does not compile.
 */
export const PG_OPS = {
  event: (tx, op) => append(tx, op.event),
  'decision.open': (tx, op, i) => {
    const running = runningInUnit(tx.unit, i, op.id);
    const input = inputInUnit(tx.unit, i, op.id);
    q(tx, decisions.open, openParams(op, running, input));
    for (const folded of [running, input]) if (folded) tx.folded.add(folded);
  },
  'decision.finish': async (tx, op) => {
    seal(tx); // the outcome carries the receipt of the unit's events so far
    if (tx.notePending) {
      await tx.seg.flush();
      tx.notePending = false;
    }
    q(tx, decisions.finish, finishParams(op.id, op.outcome(tx.ctx), op.pending ?? {}));
    tx.announce.push(['decision', op.id]);
  },
  'decision.resolve': (tx, op) => {
    guard(tx, decisions.resolve, [op.id, op.status, op.at, op.by, op.note], exactlyOne(() => ({ kind: 'not_pending', id: op.id })));
    tx.announce.push(['decision', op.id]);
  },
  'decision.review': (tx, op, i) => q(tx, decisions.review, [op.id, JSON.stringify(op.review)], (r) => void tx.results.set(i, r.rowCount === 1)),
  'decision.running': (tx, op) => {
    if (!tx.folded.has(op)) q(tx, decisions.running, [op.id, op.runner, op.key, JSON.stringify(op.intent)]);
  },
  'decision.transition': (tx, op) => {
    guard(tx, decisions.transition, [op.id, op.from, op.to], exactlyOne(() => ({ kind: 'status_moved', id: op.id })), { sql: inDb.transition, params: [op.id, op.from, op.to] });
    tx.announce.push(['decision', op.id]);
  },
  'runner.beat': (tx, { row: r }) => q(tx, runners.beat, [r.id, r.host, r.pid, r.started_at, r.heartbeat_at]),
  'runner.remove': (tx, op) => q(tx, runners.remove, [op.id]),
  'key.reserve': (tx, op) => {
    const k = op.record;
    let taken = false;
    const params = reserveParams(k, op.now);
    guard(tx, idempotency.reserve, params, (r) => void (taken = r.rowCount !== 1), { sql: inDb.keyReserve, params });
    // Checked in the database, the reservation refuses a taken key itself (the batch is then run again, checked here):
    // the record of the key's holder is read only where the client checks.
    if (tx.seg.inDb) return;
    guard(tx, idempotency.get, [k.agent, k.key], (r) => {
      if (taken) throw new Conflict({ kind: 'key_taken', existing: r.rows[0] as IdempotencyRecord });
    });
  },
  'key.state': (tx, op) => q(tx, idempotency.setState, [op.state, op.decision_id, op.agent, op.key]),
  'key.release': (tx, op) => q(tx, idempotency.release, [op.agent, op.key, op.decision_id]),
  'flow.bump': (tx, op) =>
    guard(
      tx,
      flows.bump,
      [op.dfid],
      (r) => {
        const count = (r.rows[0] as { invocations: number } | undefined)?.invocations ?? 0;
        if (count > op.max) throw new Conflict({ kind: 'flow_limit', count });
      },
      { sql: inDb.flowBump, params: [op.dfid, op.max] },
    ),
  'note.take': (tx, op) => {
    q(tx, notes.take, [op.agent, op.now], (r) => void (tx.ctx.note = (r.rows[0] as { note: string } | undefined)?.note));
    tx.notePending = true;
  },
  'note.add': (tx, { row: r }) => q(tx, notes.add, [r.intervention_id, r.agent, r.note, r.created_at, r.expires_at]),
  'usage.add': (tx, op) => q(tx, usage.add, [op.agent, op.capability, op.field, bucketOf(op.at), op.amount]),
  'usage.admit': (tx, op) => {
    // Every batch holds the chain head's row lock, so no other commit adds usage between this sum and this unit's adds.
    for (const b of op.budgets) {
      const params = [op.agent, op.capability, b.field, windowStart(op.at, b.windowMs)];
      guard(
        tx,
        usage.sum,
        params,
        (r) => {
          const used = (r.rows[0] as { total: number } | undefined)?.total ?? 0;
          if (!(used + b.amount <= b.max)) throw new Conflict({ kind: 'budget_exceeded', window: b.window, field: b.field, used, max: b.max, agent: op.agent });
        },
        Number.isFinite(b.amount) && Number.isFinite(b.max) ? { sql: inDb.usageWithin, params: [...params, b.amount, b.max] } : undefined,
      );
    }
  },
  'monitors.observe': async (tx, op, i) => {
    let states: StateRow[] = [];
    let samples: SampleRow[] = [];
    q(tx, monitors.countExecuted, [op.agent]);
    if (!op.evaluate) return;
    q(tx, monitors.loadState, [op.agent], (r) => void (states = r.rows as StateRow[]));
    q(tx, monitors.loadSamples, [op.agent], (r) => void (samples = r.rows as SampleRow[]));
    await tx.seg.flush();
    const windows = windowsOf(op.agent, states, samples);
    tx.results.set(i, op.evaluate(windows));
    windows.writeBack((sql, params) => q(tx, sql, params));
  },
  'monitors.reset': (tx, op) => {
    q(tx, monitors.resetSamples, [op.agent]);
    q(tx, monitors.resetState, [op.agent]);
  },
  'agent.status': (tx, op) => {
    q(tx, agents.setStatus, [op.agent, op.status, op.at, op.by, op.reason_hash]);
    tx.announce.push(['intervention', op.agent]);
  },
  'flow.status': (tx, op) => {
    q(tx, agents.setFlowStatus, [op.dfid, op.agent, op.status, op.at]);
    tx.announce.push(['intervention', op.agent]);
  },
  'intervention.add': (tx, op) => {
    q(tx, interventions.add, interventionParams(op.row));
    tx.announce.push(['intervention', op.row.target_agent]);
  },
  'intervention.state': (tx, op) => {
    q(tx, interventions.setState, [op.state, op.at, op.id]);
    tx.announce.push(['intervention', op.id]);
  },
  'interventions.expire': async (tx, op, i) => {
    await tx.seg.flush();
    const r = await tx.c.query<{ id: string; dfid: string; target_agent: string }>(sqlFor(interventions.expire, 'pg'), [op.now]);
    for (const row of r.rows) append(tx, { dfid: row.dfid, agent: row.target_agent, type: 'InterventionExpired', decision_id: row.id, data: {} });
    tx.results.set(i, r.rows.length);
  },
  'constraint.add': (tx, { row: r }) => q(tx, constraints.add, [r.intervention_id, r.agent, r.capability, r.field, r.max, r.expires_at]),
  'credential.add': (tx, op) => q(tx, credentials.add, credentialParams(op.row)),
  'credential.revoke': (tx, op) => {
    // Every process's credential cache is emptied once this commits (ADR-042).
    tx.announce.push(['credential', op.id]);
    return guard(tx, credentials.revoke, [op.at, op.by, op.id], exactlyOne(() => ({ kind: 'not_found', id: op.id })));
  },
  'pins.replace': (tx, op) => {
    q(tx, pins.dropServer, [op.server]);
    for (const r of op.rows) q(tx, pins.add, [op.server, r.tool, r.hash, JSON.stringify(r.definition), r.pinned_at, r.pinned_by]);
  },
  'policy_input.put': (tx, op) => {
    // Off the hot path (a call's input is in its decision's insert), so checked by the client (ADR-028).
    if (!tx.folded.has(op)) guard(tx, policyInputs.put, policyInputParams(op.row), exactlyOne(() => ({ kind: 'not_found', id: op.row.decision_id })));
  },
  'policy_inputs.purge': (tx, op) => {
    q(tx, policyInputs.purge, [op.before]);
    q(tx, policyInputs.mark, [op.before]);
  },
  'task.create': (tx, op) => q(tx, tasks.create, createParams(op.row)),
  'task.status': (tx, op) => q(tx, tasks.status, [op.agent, op.id, op.status, op.message, op.at]),
  'task.message': (tx, op) => q(tx, tasks.message, [op.agent, op.id, op.message, op.at]),
  'task.finish': (tx, op) => q(tx, tasks.finish, [op.agent, op.id, op.status, op.message, JSON.stringify(op.result), op.at]),
  'task.attach': (tx, op) => q(tx, tasks.attach, [op.agent, op.id, JSON.stringify(op.result)]),
  'tasks.purge': (tx, op, i) => q(tx, tasks.purge, [op.now], (r) => void tx.results.set(i, r.rowCount ?? 0)),
  'delegation.add': (tx, op) => {
    // Every batch holds the chain head's row lock, so no other commit adds a child between this count and this insert.
    guard(tx, delegations.liveChildren, [op.row.parent, op.now], (r) => {
      const count = Number((r.rows[0] as { n: number | string } | undefined)?.n ?? 0);
      if (count >= op.maxChildren) throw new Conflict({ kind: 'children_limit', count, max: op.maxChildren });
    });
    guard(tx, delegations.add, delegationParams(op.row), exactlyOne(() => ({ kind: 'child_taken', child: op.row.child })));
  },
  'delegation.end': (tx, op, i) => {
    q(tx, delegations.end, [op.status, op.at, op.by, op.child], (r) => void tx.results.set(i, r.rowCount === 1));
    // Keys of a child whose sub-mandate ended (now or before) are revoked; revoking twice changes nothing.
    q(tx, delegations.revokeCredentials, [op.at, op.by, op.child]);
    tx.announce.push(['credential', op.child]);
    tx.announce.push(['intervention', op.child]);
  },
  'plan.add': (tx, op) => {
    q(tx, PLAN_SQL.insert, [op.row.id, op.row.agent, op.row.child, op.row.digest, op.row.status, op.row.request, op.row.decision_id, op.row.created_at, op.row.expires_at]);
    op.facts.forEach((f, s) => q(tx, PLAN_SQL.insertStep, [op.row.id, s, f, op.row.created_at]));
  },
  'plan.facts': (tx, op) => op.facts.forEach((f, s) => q(tx, PLAN_SQL.facts, [f, op.id, s])),
  'plan.status': (tx, op) =>
    guard(tx, PLAN_SQL.status, [op.to, op.at, op.by, op.failed_step, op.id, op.from], (r) => {
      if (r.rowCount !== 1 && !op.soft) throw new Conflict({ kind: 'plan_moved', id: op.id });
    }),
  'plan.step': (tx, op) =>
    guard(tx, PLAN_SQL.step, [op.to, op.decision_id, op.at, op.id, op.step, op.from, op.compensated_by ?? null], (r) => {
      if (r.rowCount !== 1 && !op.soft) throw new Conflict({ kind: 'plan_moved', id: op.id, step: op.step });
    }),
  'plan.amend': (tx, op) => {
    q(tx, PLAN_SQL.amend, [op.request, op.digest, op.at, op.id], (r) => {
      if (r.rowCount !== 1) throw new Conflict({ kind: 'plan_moved', id: op.id });
    });
    q(tx, PLAN_SQL.dropSteps, [op.id, op.keep]);
    op.facts.forEach((f, j) => q(tx, PLAN_SQL.addStep, [op.id, op.keep + j, f, op.at]));
    q(tx, PLAN_SQL.regrant, [op.grants, op.child]);
  },
  'plan.settle': (tx, op, i) => q(tx, PLAN_SQL.settle, [op.at, op.id], (r) => void tx.results.set(i, r.rowCount === 1)),
  'plan.attempt': (tx, op) => q(tx, PLAN_SQL.attempt, [op.row.plan_id, op.row.decision_id, op.row.capability, op.row.code, op.row.at]),
  'memory.write': (tx, { write: w }, i) => {
    const value = JSON.stringify(w.value ?? null);
    const settle = (version: number) => (r: QueryResult) => {
      if (r.rowCount !== 1) throw new Conflict({ kind: 'version_moved', scope: w.scope, key: w.key });
      tx.results.set(i, version);
    };
    if (w.expected === 0) guard(tx, memory.create, [w.scope, w.key, value, w.sensitivity, w.provenance, w.at], settle(1));
    else guard(tx, memory.update, [w.scope, w.key, value, w.sensitivity, w.provenance, w.at, w.expected], settle(w.expected + 1));
  },
} satisfies OpHandlers<Tx, void | Promise<void>>;

/**
 * Applies one unit's ops in order inside the batch's transaction, queueing
 * their statements on `seg` (barriers send what is queued). It pushes what
 * the unit changed to `announce`. The caller sends what is left queued; the
 * returned function gives the unit's result once it has.
 */
export async function applyUnitPg(c: PoolClient, seg: Segment, unit: Op[], st: BatchState, announce: Announcement[]): Promise<() => UnitResult> {
  const tx: Tx = { c, seg, st, announce, ctx: { receipt: null, note: undefined }, receipts: [], results: new Map(), notePending: false, events: [], unit, folded: new Set() };
  for (const [i, op] of unit.entries()) {
    // The table is complete and keyed by kind, so the handler found is the one for this op's kind.
    const pending = (PG_OPS[op.op] as (tx: Tx, op: Op, i: number) => void | Promise<void>)(tx, op, i);
    if (pending) await pending; // only barriers wait
  }
  seal(tx);
  return () => ({ receipts: tx.receipts, note: tx.ctx.note, results: tx.results });
}
