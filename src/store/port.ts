import type { DecisionStatus, Outcome, Receipt } from '../core/types.js';
import type { Intent } from '../core/types.js';
import type { Agents, AgentStatus, ConstraintRow, FlowStatus, InterventionRow, InterventionState } from './agents.js';
import type { Credentials, CredentialRow } from './credentials.js';
import type { DecisionReview, Decisions } from './decisions.js';
import type { Idempotency, IdempotencyRecord, IdempotencyState } from './idempotency.js';
import type { Ledger, NewEvent } from './ledger.js';
import type { McpEvents } from './mcp-events.js';
import type { Memory } from './memory.js';
import type { Monitors, WindowStats } from './monitors.js';
import type { Pins, PinRow } from './pins.js';
import type { PolicyInputRow, PolicyInputs } from './policy-inputs.js';
import type { RunnerRow, Runners } from './runners.js';
import type { TaskRecord, Tasks, TaskStatus } from './tasks.js';
import type { Usage } from './usage.js';

/** The awaitable twin of a repository's read methods. */
type Async<T, K extends keyof T> = {
  [P in K]: T[P] extends (...args: infer A) => infer R ? (...args: A) => Promise<R> : never;
};

/**
 * A monitor's window as evaluation sees it: synchronous, because a store may
 * load the agent's windows first and write them back after (ADR-010).
 */
export interface MonitorWindows {
  state(agent: string, monitor: string, now: number): { firstAt: number; consecutive: number };
  sample(agent: string, monitor: string, value: number, at: number, over: { last: number } | { windowMs: number }): WindowStats;
  setConsecutive(agent: string, monitor: string, firstAt: number, consecutive: number): void;
}

/** What a unit's later ops can use of its earlier ones. */
export interface UnitContext {
  /** The receipt of the unit's latest event (null before its first). */
  receipt: Receipt | null;
  /** The operator note this unit took for delivery, if any. */
  note: string | undefined;
}

/**
 * One write of a unit. Ops are data a store interprets, so every store
 * implements the same closed set; a guard op that does not hold rolls back the
 * whole unit and ends it with that guard's failure.
 */
export type Op =
  | { op: 'event'; event: NewEvent }
  | { op: 'decision.open'; id: string; dfid: string; agent: string; capability: string | null; request_hash: string; created_at: number }
  | {
      op: 'decision.finish';
      id: string;
      /** Built at commit time, so it can carry the unit's receipt and note. */
      outcome: (ctx: UnitContext) => Outcome;
      pending?: { intent: Intent; facts: Record<string, unknown>; facts_hash: string; expires_at: number } | undefined;
    }
  | { op: 'decision.resolve'; id: string; status: 'approved' | 'denied' | 'expired'; by: string; note: string | null; at: number }
  | { op: 'decision.review'; id: string; review: DecisionReview }
  /** The effect is about to start in process `runner`; the request is kept for reconciliation. */
  | { op: 'decision.running'; id: string; runner: string | null; key: string; intent: Intent }
  /** Guard: the decision must be in `from`. */
  | { op: 'decision.transition'; id: string; from: DecisionStatus; to: DecisionStatus }
  | { op: 'runner.beat'; row: RunnerRow }
  | { op: 'runner.remove'; id: string }
  | { op: 'key.reserve'; record: IdempotencyRecord; now: number }
  | { op: 'key.state'; agent: string; key: string; state: IdempotencyState; decision_id: string }
  | { op: 'key.release'; agent: string; key: string; decision_id: string }
  | { op: 'flow.bump'; dfid: string; max: number }
  | { op: 'note.take'; agent: string; now: number }
  | { op: 'note.add'; row: { intervention_id: string; agent: string; note: string; created_at: number; expires_at: number } }
  | { op: 'usage.add'; agent: string; capability: string; field: string; amount: number; at: number }
  /**
   * Guard: each budget's window total, read inside the commit, plus its
   * amount stays within its max. Placed before the unit's `usage.add`s, it
   * makes admission and the usage it adds one atomic step across processes.
   */
  | { op: 'usage.admit'; agent: string; capability: string; at: number; budgets: BudgetCheck[] }
  | { op: 'monitors.observe'; agent: string; evaluate: (windows: MonitorWindows) => unknown }
  | { op: 'monitors.reset'; agent: string }
  | { op: 'agent.status'; agent: string; status: AgentStatus; by: string; reason_hash: string | null; at: number }
  | { op: 'flow.status'; dfid: string; agent: string; status: FlowStatus; at: number }
  | { op: 'intervention.add'; row: InterventionRow }
  | { op: 'intervention.state'; id: string; state: InterventionState; at: number }
  /** Moves interventions past their expiry to `expired`, each with an `InterventionExpired` event; returns how many. */
  | { op: 'interventions.expire'; now: number }
  | { op: 'constraint.add'; row: ConstraintRow }
  | { op: 'credential.add'; row: Omit<CredentialRow, 'revoked_at' | 'revoked_by'> }
  | { op: 'credential.revoke'; id: string; by: string; at: number }
  | { op: 'pins.replace'; server: string; rows: Omit<PinRow, 'server'>[] }
  /** What a decision's policy request saw (ADR-023); kept beside the decision, never in the ledger. */
  | { op: 'policy_input.put'; row: PolicyInputRow }
  /** Drops policy inputs older than `before` (retention). */
  | { op: 'policy_inputs.purge'; before: number }
  /** MCP tasks (ADR-014): an open task's status and message change; a terminal one never does. */
  | { op: 'task.create'; row: Omit<TaskRecord, 'result'> }
  | { op: 'task.status'; agent: string; id: string; status: TaskStatus; message: string | null; at: number }
  | { op: 'task.message'; agent: string; id: string; message: string; at: number }
  | { op: 'task.finish'; agent: string; id: string; status: 'completed' | 'failed'; result: Record<string, unknown>; message: string | null; at: number }
  | { op: 'task.attach'; agent: string; id: string; result: Record<string, unknown> }
  | { op: 'tasks.purge'; now: number }
  | { op: 'memory.write'; write: { scope: string; key: string; value: unknown; sensitivity: 'standard' | 'elevated' | 'restricted'; provenance: string; expected: number; at: number } };

/** One budget a `usage.admit` checks: `field`'s total over `windowMs` plus `amount` must not exceed `max`. */
export interface BudgetCheck {
  /** The contract's name for the window (`1h`, `24h`), for the refusal. */
  window: string;
  windowMs: number;
  field: string;
  amount: number;
  max: number;
}

/** Why a unit was rolled back: the guard that did not hold. */
export type UnitConflict =
  | { kind: 'key_taken'; existing: IdempotencyRecord }
  | { kind: 'budget_exceeded'; window: string; field: string; used: number; max: number }
  | { kind: 'not_pending'; id: string }
  | { kind: 'flow_limit'; count: number }
  | { kind: 'version_moved'; scope: string; key: string }
  | { kind: 'not_found'; id: string }
  | { kind: 'status_moved'; id: string };

/** Thrown inside a unit when a guard does not hold; a store turns it into its unit's conflict and never lets it escape. */
export class UnitConflictSignal extends Error {
  constructor(readonly conflict: UnitConflict) {
    super(conflict.kind);
  }
}

/** What a committed unit gives back. */
export interface UnitResult {
  /** The receipts of the unit's events, in order. */
  receipts: Receipt[];
  /** The operator note taken, if the unit had a `note.take`. */
  note: string | undefined;
  /** Results of ops that return something, by op index (monitors.observe, memory.write). */
  results: Map<number, unknown>;
}

export type CommitResult = ({ ok: true } & UnitResult) | { ok: false; conflict: UnitConflict };

/**
 * The store did not answer (a network store's connection refused, dropped or
 * timed out). The call that met it is refused with STORE_UNAVAILABLE; its
 * transaction, if any, was not committed (ADR-015).
 */
export class StoreUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreUnavailableError';
  }
}

/** What other processes sharing the store have done, pushed (ADR-015). */
export type StoreTopic = 'decision' | 'intervention' | 'breaker';

/**
 * Pushed changes from every process sharing the store. A store that cannot
 * push has none, and its readers poll.
 */
export interface StoreNotifications {
  /** Calls `fn` with the topic's payload (a decision id, an agent id, a capability) after each commit that changed it; returns the unsubscribe. */
  on(topic: StoreTopic, fn: (payload: string) => void): () => void;
  /** Resolves once changes are being received (the listening connection is up), or after `timeoutMs`, false then. */
  ready(timeoutMs?: number): Promise<boolean>;
}

/**
 * Effect sections held across processes (ADR-019): a PostgreSQL session
 * advisory lock, or a SQLite lease queue. The kernel asks only with its own
 * in-process section held, so a process waits here with one call per key.
 */
export interface StoreSections {
  /** Resolves with the release once held, or null if `waitMs` passed or `signal` aborted first; throws if the store does not answer. */
  acquire(key: string, waitMs: number, signal?: AbortSignal): Promise<(() => Promise<void>) | null>;
}

/**
 * The store as the kernel and the edges see it (ADR-010): reads are
 * awaitable, and every write goes through `commit`, one unit at a time. A
 * store may join units that arrive while a commit runs into one transaction
 * (group commit); each unit is all or nothing, and chain order is commit
 * order.
 */
export interface StorePort {
  readonly kind: 'sqlite' | 'postgres';
  /** Where the store lives, for messages (a path, or a database name; never credentials). */
  readonly location: string;
  commit(unit: Op[]): Promise<CommitResult>;
  /**
   * Effect sections that hold across every process sharing this store
   * (ADR-019); absent: the kernel holds them within its process only.
   */
  readonly sections?: StoreSections | undefined;
  /** Resolves if the store answers (readiness checks). */
  ping(): Promise<void>;
  /** Present where the store pushes changes made by other processes (PostgreSQL's LISTEN/NOTIFY). */
  readonly notifications?: StoreNotifications | undefined;
  ledger: Async<Ledger, 'page' | 'byDfid' | 'headSeq' | 'verify'>;
  decisions: Async<Decisions, 'get' | 'flowHasCalls' | 'pending' | 'pendingCount' | 'byDfid' | 'started'>;
  runners: Async<Runners, 'list'>;
  idempotency: Async<Idempotency, 'peek' | 'purgeExpired'>;
  agents: Async<Agents, 'status' | 'statusRow' | 'flowStatus' | 'interventions' | 'intervention' | 'terminationsSince' | 'constraints'>;
  memory: Async<Memory, 'get' | 'list' | 'pack' | 'seed'>;
  usage: Async<Usage, 'sum'>;
  monitors: Async<Monitors, 'executed'>;
  credentials: Async<Credentials, 'byHash' | 'get' | 'list'>;
  mcpEvents: Async<McpEvents, 'add' | 'trim' | 'streamOf' | 'after' | 'dropSession' | 'dropOlderThan'>;
  pins: Async<Pins, 'list' | 'generation'>;
  policyInputs: Async<PolicyInputs, 'list'>;
  tasks: Async<Tasks, 'get' | 'list'>;
  close(): Promise<void>;
}
