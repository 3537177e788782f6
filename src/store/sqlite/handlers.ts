import type { Receipt } from '../../core/types.js';
import { UnitConflictSignal as Conflict, type Op, type OpHandlers, type UnitContext, type UnitResult } from '../port/port.js';
import type { NewEvent } from '../port/rows.js';
import { inputInUnit, runningInUnit } from '../tables/decisions.js';
import type { Store } from './store.js';

/** What one unit's handlers share: the store, inside the caller's write transaction, and what the unit gives back. */
interface Tx {
  store: Store;
  ctx: UnitContext;
  receipts: Receipt[];
  results: Map<number, unknown>;
  /** The commit point's events not yet written: they become one ledger record (ADR-021). */
  events: NewEvent[];
  /** The unit's ops, and those a decision's insert already wrote (a `decision.running`, a `policy_input.put`): they have nothing left to do. */
  unit: Op[];
  folded: Set<Op>;
}

const append = (tx: Tx, event: NewEvent): void => void tx.events.push(event);

/** Writes the pending events as one record; their receipts are known from here on. */
const seal = (tx: Tx): void => {
  if (!tx.events.length) return;
  const receipts = tx.store.ledger.appendInTransaction(tx.events);
  tx.events = [];
  tx.receipts.push(...receipts);
  tx.ctx.receipt = receipts[receipts.length - 1] ?? tx.ctx.receipt;
};

/**
 * How SQLite applies each op (ADR-021), synchronously, inside the batch's
 * IMMEDIATE transaction. Declared `satisfies OpHandlers`: an op without a
 * handler here does not compile. A guard throws its conflict, which rolls back
 * the unit's savepoint.
 */
export const SQLITE_OPS = {
  event: (tx, op) => append(tx, op.event),
  'decision.open': (tx, op, i) => {
    const running = runningInUnit(tx.unit, i, op.id);
    const input = inputInUnit(tx.unit, i, op.id);
    tx.store.decisions.open(op, running, input);
    for (const folded of [running, input]) if (folded) tx.folded.add(folded);
  },
  'decision.finish': (tx, op) => {
    seal(tx); // the outcome carries the receipt of the unit's events so far
    tx.store.decisions.finish(op.id, op.outcome(tx.ctx), op.pending ?? {});
  },
  'decision.resolve': ({ store }, op) => {
    if (!store.decisions.resolve(op.id, op.status, op.by, op.note, op.at)) throw new Conflict({ kind: 'not_pending', id: op.id });
  },
  'decision.review': ({ store, results }, op, i) => void results.set(i, store.decisions.setReview(op.id, op.review)),
  'decision.running': ({ store, folded }, op) => {
    if (!folded.has(op)) store.decisions.markRunning(op.id, op.runner, op.key, op.intent);
  },
  'decision.transition': ({ store }, op) => {
    if (!store.decisions.transition(op.id, op.from, op.to)) throw new Conflict({ kind: 'status_moved', id: op.id });
  },
  'runner.beat': ({ store }, op) => store.runners.beat(op.row),
  'runner.remove': ({ store }, op) => store.runners.remove(op.id),
  'key.reserve': ({ store }, op) => {
    const r = store.idempotency.reserve(op.record, op.now);
    if (!r.reserved) throw new Conflict({ kind: 'key_taken', existing: r.existing });
  },
  'key.state': ({ store }, op) => store.idempotency.setState(op.agent, op.key, op.state, op.decision_id),
  'key.release': ({ store }, op) => store.idempotency.release(op.agent, op.key, op.decision_id),
  'flow.bump': ({ store }, op) => {
    const count = store.flows.bump(op.dfid);
    if (count > op.max) throw new Conflict({ kind: 'flow_limit', count });
  },
  'note.take': ({ store, ctx }, op) => void (ctx.note = store.agents.takeNote(op.agent, op.now)),
  'note.add': ({ store }, op) => store.agents.addNote(op.row),
  'usage.add': ({ store }, op) => store.usage.add(op.agent, op.capability, op.field, op.amount, op.at),
  'usage.admit': ({ store }, op) => {
    for (const b of op.budgets) {
      const used = store.usage.sum(op.agent, op.capability, b.field, b.windowMs, op.at);
      if (!(used + b.amount <= b.max)) throw new Conflict({ kind: 'budget_exceeded', window: b.window, field: b.field, used, max: b.max, agent: op.agent });
    }
  },
  'monitors.observe': ({ store, results }, op, i) => {
    store.monitors.countExecuted(op.agent);
    if (op.evaluate) results.set(i, op.evaluate(store.monitors));
  },
  'monitors.reset': ({ store }, op) => store.monitors.reset(op.agent),
  'agent.status': ({ store }, op) => store.agents.setStatus(op.agent, op.status, op.by, op.reason_hash, op.at),
  'flow.status': ({ store }, op) => store.agents.setFlowStatus(op.dfid, op.agent, op.status, op.at),
  'intervention.add': ({ store }, op) => store.agents.addIntervention(op.row),
  'intervention.state': ({ store }, op) => store.agents.setInterventionState(op.id, op.state, op.at),
  'interventions.expire': (tx, op, i) => {
    const rows = tx.store.agents.expireDue(op.now);
    for (const r of rows) append(tx, { dfid: r.dfid, agent: r.target_agent, type: 'InterventionExpired', decision_id: r.id, data: {} });
    tx.results.set(i, rows.length);
  },
  'constraint.add': ({ store }, op) => store.agents.addConstraint(op.row),
  'credential.add': ({ store }, op) => store.credentials.add(op.row),
  'credential.revoke': ({ store }, op) => {
    if (!store.credentials.revoke(op.id, op.by, op.at)) throw new Conflict({ kind: 'not_found', id: op.id });
  },
  'pins.replace': ({ store }, op) => store.pins.replace(op.server, op.rows),
  'task.create': ({ store }, op) => store.tasks.create(op.row),
  'task.status': ({ store }, op) => void store.tasks.setStatus(op.agent, op.id, op.status, op.message, op.at),
  'task.message': ({ store }, op) => void store.tasks.setMessage(op.agent, op.id, op.message, op.at),
  'task.finish': ({ store }, op) => void store.tasks.finish(op.agent, op.id, op.status, op.result, op.message, op.at),
  'task.attach': ({ store }, op) => store.tasks.attachResult(op.agent, op.id, op.result),
  'policy_input.put': ({ store, folded }, op) => {
    if (!folded.has(op) && !store.policyInputs.put(op.row)) throw new Conflict({ kind: 'not_found', id: op.row.decision_id });
  },
  'policy_inputs.purge': ({ store }, op) => void store.policyInputs.purge(op.before),
  'tasks.purge': ({ store, results }, op, i) => void results.set(i, store.tasks.purgeExpired(op.now)),
  'delegation.add': ({ store }, op) => {
    const count = store.delegations.liveChildren(op.row.parent, op.now);
    if (count >= op.maxChildren) throw new Conflict({ kind: 'children_limit', count, max: op.maxChildren });
    if (!store.delegations.add(op.row)) throw new Conflict({ kind: 'child_taken', child: op.row.child });
  },
  'delegation.end': ({ store, results }, op, i) => void results.set(i, store.delegations.end(op.child, op.status, op.by, op.at)),
  'plan.add': ({ store }, op) => store.plans.add(op.row, op.facts),
  'plan.facts': ({ store }, op) => store.plans.setFacts(op.id, op.facts),
  'plan.status': ({ store }, op) => {
    if (!store.plans.setStatus(op.id, op.from, op.to, op.at, op.by, op.failed_step) && !op.soft) throw new Conflict({ kind: 'plan_moved', id: op.id });
  },
  'plan.step': ({ store }, op) => {
    if (!store.plans.setStep(op.id, op.step, op.from, op.to, op.decision_id, op.at, op.compensated_by ?? null) && !op.soft) throw new Conflict({ kind: 'plan_moved', id: op.id, step: op.step });
  },
  'plan.amend': ({ store }, op) => {
    if (!store.plans.amend(op.id, op.request, op.digest, op.keep, op.facts, op.grants, op.child, op.at)) throw new Conflict({ kind: 'plan_moved', id: op.id });
  },
  'plan.settle': ({ store, results }, op, i) => void results.set(i, store.plans.settle(op.id, op.at)),
  'plan.attempt': ({ store }, op) => store.plans.attempt(op.row),
  'memory.write': ({ store, results }, op, i) => {
    const version = store.memory.write(op.write);
    if (version === null) throw new Conflict({ kind: 'version_moved', scope: op.write.scope, key: op.write.key });
    results.set(i, version);
  },
} satisfies OpHandlers<Tx, void>;

/** Applies one unit's ops in order, inside the caller's transaction. */
export function applyOps(store: Store, unit: Op[]): UnitResult {
  const tx: Tx = { store, ctx: { receipt: null, note: undefined }, receipts: [], results: new Map(), events: [], unit, folded: new Set() };
  unit.forEach((op, i) => {
    // The table is complete and keyed by kind, so the handler found is the one for this op's kind.
    (SQLITE_OPS[op.op] as (tx: Tx, op: Op, i: number) => void)(tx, op, i);
  });
  seal(tx);
  return { receipts: tx.receipts, note: tx.ctx.note, results: tx.results };
}
