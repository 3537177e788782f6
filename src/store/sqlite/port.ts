import { processAlive } from '../../core/process.js';
import { GroupCommitter, type Settlement } from '../port/group-commit.js';
import { UnitConflictSignal as Conflict, type CommitResult, type Op, type StorePort, type Sync, type UnitResult } from '../port/port.js';
import type { AgentReads, CredentialReads, DelegationReads, PlanReads, DecisionReads, IdempotencyReads, LedgerReads, McpEventStore, MemoryReads, MonitorReads, PinReads, PolicyInputReads, RunnerReads, TaskReads, UsageReads } from '../port/port.js';
import { applyOps } from './handlers.js';
import { sqliteReadAhead } from './read-ahead.js';
import { sqliteSections } from './sections.js';
import type { Store } from './store.js';
import { verifyLedgerFile } from './verify-threads.js';


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
  // Several processes may share the file (two MCP clients on one workspace): sections hold across them (ADR-019).
  const sections = sqliteSections(db, { pidAlive: processAlive });
  const committer = new GroupCommitter<Op[], CommitResult>((units) => (units.length === 1 ? runOne(units[0] as Op[]) : runBatch.immediate(units)));
  // Each repository implements its read group synchronously (`Sync<...>`); the port awaits it.
  // Every read of the group must be named (a Record of its keys), so a read added to the port does not compile until it is wrapped.
  const wrap = <G extends object>(repo: Sync<G>, keys: Record<keyof G, true>): G =>
    Object.fromEntries(Object.keys(keys).map((k) => [k, async (...args: unknown[]) => (repo[k as keyof G] as (...a: unknown[]) => unknown).apply(repo, args)])) as G;
  return {
    kind: 'sqlite',
    location,
    commit: (unit) => committer.submit(unit),
    readAhead: sqliteReadAhead(store),
    sections,
    ping: async () => {
      db.prepare('SELECT 1').get();
    },
    // A large ledger is verified in worker threads, each on a connection of its own (ADR-048).
    ledger: { ...wrap<LedgerReads>(store.ledger, { page: true, byDfid: true, headSeq: true, verify: true }), verify: () => verifyLedgerFile(ledger, location) },
    decisions: wrap<DecisionReads>(store.decisions, { get: true, flowHasCalls: true, pending: true, pendingCount: true, byDfid: true, started: true, recent: true, perMinute: true }),
    runners: wrap<RunnerReads>(store.runners, { list: true }),
    idempotency: wrap<IdempotencyReads>(store.idempotency, { peek: true, purgeExpired: true }),
    agents: wrap<AgentReads>(store.agents, { status: true, statusRow: true, flowStatus: true, interventions: true, intervention: true, terminationsSince: true, constraints: true }),
    memory: wrap<MemoryReads>(store.memory, { get: true, list: true, pack: true, seed: true }),
    usage: wrap<UsageReads>(store.usage, { sum: true }),
    monitors: wrap<MonitorReads>(store.monitors, { executed: true, samples: true }),
    credentials: wrap<CredentialReads>(store.credentials, { byHash: true, get: true, list: true }),
    mcpEvents: wrap<McpEventStore>(store.mcpEvents, { add: true, trim: true, streamOf: true, after: true, dropSession: true, dropOlderThan: true }),
    pins: wrap<PinReads>(store.pins, { list: true, generation: true }),
    policyInputs: wrap<PolicyInputReads>(store.policyInputs, { list: true }),
    tasks: wrap<TaskReads>(store.tasks, { get: true, list: true }),
    delegations: wrap<DelegationReads>(store.delegations, { liveChildren: true, byChild: true, get: true, list: true, dueToExpire: true }),
    plans: wrap<PlanReads>(store.plans, { get: true, byChild: true, running: true, list: true, steps: true, attempts: true }),
    close: async () => {
      await committer.drain();
      sections.close();
      store.close();
    },
  };
}
