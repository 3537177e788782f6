import type { Receipt } from '../core/types.js';
import { GroupCommitter, type Settlement } from './group-commit.js';
import { UnitConflictSignal as Conflict, type CommitResult, type Op, type StorePort, type UnitContext, type UnitResult } from './port.js';
import { sqliteSections } from './sections-sqlite.js';
import type { Store } from './store.js';
import { processAlive } from '../core/process.js';


/**
 * The store port over the embedded SQLite store: reads are the repositories'
 * own (synchronous underneath, awaitable here), and units are group-committed
 * in one IMMEDIATE transaction per batch, each unit in its own savepoint.
 */
export function sqlitePort(store: Store, location: string): StorePort {
  const { db, ledger } = store;
  const settle = (err: unknown): Settlement<CommitResult> => {
    ledger.forgetHead();
    return err instanceof Conflict ? { ok: true, value: { ok: false, conflict: err.conflict } } : { ok: false, error: err };
  };
  // Nested in a batch's transaction, a unit is a savepoint; alone, the transaction is the unit (no savepoint to pay for).
  const applyUnit = db.transaction((unit: Op[]): UnitResult => applyOps(store, unit));
  const runBatch = db.transaction((units: Op[][]): Settlement<CommitResult>[] =>
    ledger.inTransaction(() =>
      units.map((unit) => {
        try {
          return { ok: true, value: { ok: true, ...applyUnit(unit) } };
        } catch (err) {
          return settle(err);
        }
      }),
    ),
  );
  const runOne = (unit: Op[]): Settlement<CommitResult>[] => {
    try {
      return [{ ok: true, value: { ok: true, ...ledger.inTransaction(() => applyUnit.immediate(unit)) } }];
    } catch (err) {
      return [settle(err)];
    }
  };
  const committer = new GroupCommitter<Op[], CommitResult>((units) => (units.length === 1 ? runOne(units[0] as Op[]) : runBatch.immediate(units)));
  const wrap = <T extends object, K extends keyof T>(repo: T, keys: K[]) =>
    Object.fromEntries(keys.map((k) => [k, async (...args: unknown[]) => (repo[k] as (...a: unknown[]) => unknown).apply(repo, args)])) as never;
  return {
    kind: 'sqlite',
    location,
    commit: (unit) => committer.submit(unit),
    // Several processes may share the file (two MCP clients on one workspace): sections hold across them (ADR-019).
    sections: sqliteSections(db, { pidAlive: processAlive }),
    ping: async () => {
      db.prepare('SELECT 1').get();
    },
    ledger: wrap(store.ledger, ['page', 'byDfid', 'headSeq', 'verify']),
    decisions: wrap(store.decisions, ['get', 'flowHasCalls', 'pending', 'pendingCount', 'byDfid', 'started']),
    runners: wrap(store.runners, ['list']),
    idempotency: wrap(store.idempotency, ['peek', 'purgeExpired']),
    agents: wrap(store.agents, ['status', 'statusRow', 'flowStatus', 'interventions', 'intervention', 'terminationsSince', 'constraints']),
    memory: wrap(store.memory, ['get', 'list', 'pack', 'seed']),
    usage: wrap(store.usage, ['sum']),
    monitors: wrap(store.monitors, ['executed']),
    credentials: wrap(store.credentials, ['byHash', 'get', 'list']),
    mcpEvents: wrap(store.mcpEvents, ['add', 'trim', 'streamOf', 'after', 'dropSession', 'dropOlderThan']),
    pins: wrap(store.pins, ['list', 'generation']),
    policyInputs: wrap(store.policyInputs, ['list']),
    tasks: wrap(store.tasks, ['get', 'list']),
    close: async () => {
      await committer.drain();
      store.close();
    },
  };
}

/** Applies one unit's ops in order, inside the caller's transaction. */
function applyOps(store: Store, unit: Op[]): UnitResult {
  const receipts: Receipt[] = [];
  const results = new Map<number, unknown>();
  const ctx: UnitContext = { receipt: null, note: undefined };
  unit.forEach((op, i) => {
    switch (op.op) {
      case 'event':
        ctx.receipt = store.ledger.appendInTransaction(op.event);
        receipts.push(ctx.receipt);
        return;
      case 'decision.open':
        store.decisions.open({ ...op, idempotency_key: null });
        return;
      case 'decision.finish':
        store.decisions.finish(op.id, op.outcome(ctx), op.pending ?? {});
        return;
      case 'decision.resolve':
        if (!store.decisions.resolve(op.id, op.status, op.by, op.note, op.at)) throw new Conflict({ kind: 'not_pending', id: op.id });
        return;
      case 'decision.review':
        results.set(i, store.decisions.setReview(op.id, op.review));
        return;
      case 'decision.running':
        store.decisions.markRunning(op.id, op.runner, op.key, op.intent);
        return;
      case 'decision.transition':
        if (!store.decisions.transition(op.id, op.from, op.to)) throw new Conflict({ kind: 'status_moved', id: op.id });
        return;
      case 'runner.beat':
        store.runners.beat(op.row);
        return;
      case 'runner.remove':
        store.runners.remove(op.id);
        return;
      case 'key.reserve': {
        const r = store.idempotency.reserve(op.record, op.now);
        if (!r.reserved) throw new Conflict({ kind: 'key_taken', existing: r.existing });
        return;
      }
      case 'key.state':
        store.idempotency.setState(op.agent, op.key, op.state, op.decision_id);
        return;
      case 'key.release':
        store.idempotency.release(op.agent, op.key, op.decision_id);
        return;
      case 'flow.bump': {
        const count = store.flows.bump(op.dfid);
        if (count > op.max) throw new Conflict({ kind: 'flow_limit', count });
        return;
      }
      case 'note.take':
        ctx.note = store.agents.takeNote(op.agent, op.now)?.note;
        return;
      case 'note.add':
        store.agents.addNote(op.row);
        return;
      case 'usage.add':
        store.usage.add(op.agent, op.capability, op.field, op.amount, op.at);
        return;
      case 'usage.admit':
        for (const b of op.budgets) {
          const used = store.usage.sum(op.agent, op.capability, b.field, b.windowMs, op.at);
          if (!(used + b.amount <= b.max)) throw new Conflict({ kind: 'budget_exceeded', window: b.window, field: b.field, used, max: b.max });
        }
        return;
      case 'monitors.observe':
        store.monitors.countExecuted(op.agent);
        results.set(i, op.evaluate(store.monitors));
        return;
      case 'monitors.reset':
        store.monitors.reset(op.agent);
        return;
      case 'agent.status':
        store.agents.setStatus(op.agent, op.status, op.by, op.reason_hash, op.at);
        return;
      case 'flow.status':
        store.agents.setFlowStatus(op.dfid, op.agent, op.status, op.at);
        return;
      case 'intervention.add':
        store.agents.addIntervention(op.row);
        return;
      case 'intervention.state':
        store.agents.setInterventionState(op.id, op.state, op.at);
        return;
      case 'interventions.expire': {
        const rows = store.agents.expireDue(op.now);
        for (const r of rows) {
          ctx.receipt = store.ledger.appendInTransaction({ dfid: r.dfid, agent: r.target_agent, type: 'InterventionExpired', decision_id: r.id, data: {} });
          receipts.push(ctx.receipt);
        }
        results.set(i, rows.length);
        return;
      }
      case 'constraint.add':
        store.agents.addConstraint(op.row);
        return;
      case 'credential.add':
        store.credentials.add(op.row);
        return;
      case 'credential.revoke':
        if (!store.credentials.revoke(op.id, op.by, op.at)) throw new Conflict({ kind: 'not_found', id: op.id });
        return;
      case 'pins.replace':
        store.pins.replace(op.server, op.rows);
        return;
      case 'policy_input.put':
        store.policyInputs.put(op.row);
        return;
      case 'policy_inputs.purge':
        store.policyInputs.purge(op.before);
        return;
      case 'task.create':
        store.tasks.create(op.row);
        return;
      case 'task.status':
        store.tasks.setStatus(op.agent, op.id, op.status, op.message, op.at);
        return;
      case 'task.message':
        store.tasks.setMessage(op.agent, op.id, op.message, op.at);
        return;
      case 'task.finish':
        store.tasks.finish(op.agent, op.id, op.status, op.result, op.message, op.at);
        return;
      case 'task.attach':
        store.tasks.attachResult(op.agent, op.id, op.result);
        return;
      case 'tasks.purge':
        results.set(i, store.tasks.purgeExpired(op.now));
        return;
      case 'memory.write': {
        const version = store.memory.write(op.write);
        if (version === null) throw new Conflict({ kind: 'version_moved', scope: op.write.scope, key: op.write.key });
        results.set(i, version);
        return;
      }
    }
  });
  return { receipts, note: ctx.note, results };
}
