import type { DecisionStatus, Intent, Outcome, Receipt, Sensitivity } from '../../core/types.js';
import type {
  AgentStatus,
  AgentStatusRow,
  ConstraintRow,
  CredentialRow,
  DecisionRecord,
  DecisionReview,
  DelegationRow,
  FlowStatus,
  IdempotencyRecord,
  IdempotencyState,
  InterventionRow,
  InterventionState,
  LedgerEvent,
  MemoryRecord,
  MinuteCount,
  MonitorSample,
  NewEvent,
  NoteRow,
  PinRow,
  PolicyInputFilter,
  PolicyInputPut,
  PolicyInputRow,
  RunnerRow,
  TaskRecord,
  TaskStatus,
  VerifyResult,
  WindowStats,
} from './rows.js';
import type { PlanAttemptRow, PlanRow, PlanStatus, PlanStepRow, StepStatus } from '../plans.js';

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
  | { op: 'note.add'; row: NoteRow }
  | { op: 'usage.add'; agent: string; capability: string; field: string; amount: number; at: number }
  /**
   * Guard: each budget's window total, read inside the commit, plus its
   * amount stays within its max. Placed before the unit's `usage.add`s, it
   * makes admission and the usage it adds one atomic step across processes.
   */
  | { op: 'usage.admit'; agent: string; capability: string; at: number; budgets: BudgetCheck[] }
  /**
   * Counts an executed call of `agent` (the steward gates' count) and, with
   * `evaluate`, feeds its drift monitors' windows. Without `evaluate` (an agent
   * with no drift monitors) the windows are not read: no round trip for them.
   */
  | { op: 'monitors.observe'; agent: string; evaluate?: (windows: MonitorWindows) => unknown }
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
  /** MCP tasks (ADR-014): an open task's status and message change; a terminal one never does. */
  | { op: 'task.create'; row: Omit<TaskRecord, 'result'> }
  | { op: 'task.status'; agent: string; id: string; status: TaskStatus; message: string | null; at: number }
  | { op: 'task.message'; agent: string; id: string; message: string; at: number }
  | { op: 'task.finish'; agent: string; id: string; status: 'completed' | 'failed'; result: Record<string, unknown>; message: string | null; at: number }
  | { op: 'task.attach'; agent: string; id: string; result: Record<string, unknown> }
  | { op: 'tasks.purge'; now: number }
  /** Guard: the child's id is free and the parent holds fewer than `maxChildren` live sub-mandates at `now` (ADR-022). */
  | { op: 'delegation.add'; row: Omit<DelegationRow, 'status' | 'ended_at' | 'ended_by'>; maxChildren: number; now: number }
  /** Ends a child's live sub-mandate (revoked or expired) and revokes its keys; results: whether it was live. */
  | { op: 'delegation.end'; child: string; status: 'revoked' | 'expired'; by: string; at: number }
  /** A plan and its steps, all pending (ADR-025). */
  | { op: 'plan.add'; row: Omit<PlanRow, 'failed_step' | 'updated_at' | 'ended_by'>; facts: (string | null)[] }
  /** The facts each pending step was decided on, again (an approval re-decides the plan). */
  | { op: 'plan.facts'; id: string; facts: (string | null)[] }
  /** Guard: the plan is in `from` (`soft`: no guard, a plan moved meanwhile stays as it is). */
  | { op: 'plan.status'; id: string; from: PlanStatus; to: PlanStatus; at: number; by: string | null; failed_step: number | null; soft?: boolean }
  /** Guard: the step is in `from` (a step runs once: two calls racing for it cannot both start it). */
  | { op: 'plan.step'; id: string; step: number; from: StepStatus; to: StepStatus; decision_id: string | null; at: number; soft?: boolean; compensated_by?: string }
  /** Guard: the plan is failed. Its request and digest replaced, steps from `keep` on replaced (pending), its sub-mandate regranted; it waits for approval (ADR-025). */
  | { op: 'plan.amend'; id: string; request: string; digest: string; keep: number; facts: (string | null)[]; grants: string; child: string; at: number }
  /** Completes a running plan with no step pending or running; results: whether it did. */
  | { op: 'plan.settle'; id: string; at: number }
  | { op: 'plan.attempt'; row: PlanAttemptRow }
  /**
   * What a decision's policy request saw (ADR-023); kept in the decision's row (ADR-040), never in the ledger. Written
   * by the decision's insert when the unit opens it; otherwise the decision must exist (conflict `not_found`).
   */
  | { op: 'policy_input.put'; row: PolicyInputPut }
  /** Clears the policy inputs of decisions made before `before` (retention). */
  | { op: 'policy_inputs.purge'; before: number }
  | { op: 'memory.write'; write: { scope: string; key: string; value: unknown; sensitivity: Sensitivity; provenance: string; expected: number; at: number } };

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
  | { kind: 'budget_exceeded'; window: string; field: string; used: number; max: number; agent?: string }
  | { kind: 'not_pending'; id: string }
  | { kind: 'flow_limit'; count: number }
  | { kind: 'version_moved'; scope: string; key: string }
  | { kind: 'not_found'; id: string }
  | { kind: 'status_moved'; id: string }
  | { kind: 'child_taken'; child: string }
  | { kind: 'children_limit'; count: number; max: number }
  | { kind: 'plan_moved'; id: string; step?: number };

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
export type StoreTopic = 'decision' | 'intervention' | 'breaker' | 'credential';

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
  /**
   * Present where each read is a round trip (PostgreSQL): what a governed call
   * reads before its first commit point, asked for at once (ADR-028). A store
   * that answers reads in process has none, and the kernel reads one by one.
   */
  readAhead?(req: ReadAheadRequest): Promise<ReadAhead>;
  ledger: LedgerReads;
  decisions: DecisionReads;
  runners: RunnerReads;
  idempotency: IdempotencyReads;
  agents: AgentReads;
  memory: MemoryReads;
  usage: UsageReads;
  monitors: MonitorReads;
  credentials: CredentialReads;
  mcpEvents: McpEventStore;
  pins: PinReads;
  policyInputs: PolicyInputReads;
  tasks: TaskReads;
  delegations: DelegationReads;
  plans: PlanReads;
  close(): Promise<void>;
}

/** What a call asks `readAhead` for: each read is the port read of the same name, with these arguments. */
export interface ReadAheadRequest {
  agent: string;
  dfid: string;
  now: number;
  /** Whether the agent's running plans are read. */
  plans: boolean;
  /** The idempotency key to peek, if the call will peek one. */
  key: string | null;
  /** The capability whose live constraints and usage are read. */
  capability: string | null;
  /** The agent's usage of `capability` to sum: a field over a window. */
  usage: { field: string; windowMs: number }[];
  /** The agent whose executed count an every-N steward gate reads (null: no such gate). */
  steward: string | null;
}

/** The answers to a `ReadAheadRequest`, all read at `at` (`null`: not asked). Time filters are left to the reader. */
export interface ReadAhead {
  at: number;
  /** Plans in `running` with `expires_at > at`. */
  plans: PlanRow[] | null;
  status: AgentStatus;
  flowStatus: FlowStatus;
  /** The key's record, live or not. */
  key: IdempotencyRecord | null;
  /** Constraints with `expires_at > at`. */
  constraints: ConstraintRow[] | null;
  /** Totals by `usageAheadKey(field, windowStart)`. */
  usage: Map<string, number>;
  executed: number | null;
}

export const usageAheadKey = (field: string, fromBucket: number): string => `${field}\n${fromBucket}`;

/*
 * The port's reads, one group per table. Every store answers them alike;
 * src/store/sqlite/ implements each synchronously (`Sync<...>`) and its port
 * awaits them, src/store/pg/reads.ts queries for each.
 */

export interface LedgerReads {
  /** Events after `afterSeq`, in chain order, at most `limit`. */
  page(afterSeq: number, limit: number): Promise<LedgerEvent[]>;
  byDfid(dfid: string): Promise<LedgerEvent[]>;
  headSeq(): Promise<number>;
  /** Recomputes every hash and link; names the first sequence that does not hold. */
  verify(): Promise<VerifyResult>;
}

export interface DecisionReads {
  get(id: string): Promise<DecisionRecord | null>;
  /** Whether `agent` (or any agent, '*') has made calls in flow `dfid`. */
  flowHasCalls(dfid: string, agent: string): Promise<boolean>;
  pending(): Promise<DecisionRecord[]>;
  pendingCount(): Promise<number>;
  /** The decisions of one flow, oldest first. */
  byDfid(dfid: string, limit?: number): Promise<DecisionRecord[]>;
  /** Decisions whose effect started and has no recorded outcome, oldest first. */
  started(): Promise<DecisionRecord[]>;
  /** The agent's newest decisions, newest first (the console's agent page). */
  recent(agent: string, limit?: number): Promise<DecisionRecord[]>;
  /** How many decisions opened in each minute since `from` (epoch ms), per status (the console's rate chart). */
  perMinute(from: number): Promise<MinuteCount[]>;
}

export interface RunnerReads {
  list(): Promise<RunnerRow[]>;
}

export interface IdempotencyReads {
  /** A live record for this key, or null (an expired one counts as absent). */
  peek(agent: string, key: string, now: number): Promise<IdempotencyRecord | null>;
  purgeExpired(now: number): Promise<number>;
}

export interface AgentReads {
  status(agent: string): Promise<AgentStatus>;
  /** The agent's status with who set it and when (null: never changed, so active). */
  statusRow(agent: string): Promise<AgentStatusRow | null>;
  /** The status of `agent`'s calls in flow `dfid` (pass '*' for the whole-flow status). */
  flowStatus(dfid: string, agent: string): Promise<FlowStatus>;
  interventions(limit?: number): Promise<InterventionRow[]>;
  intervention(id: string): Promise<InterventionRow | null>;
  /** Terminations applied since `at` (a serving process polls this to abort its in-flight calls). */
  terminationsSince(at: number, kind: 'agent' | 'flow'): Promise<InterventionRow[]>;
  constraints(agent: string, capability: string, now: number): Promise<ConstraintRow[]>;
}

export interface MemoryReads {
  get(scope: string, key: string): Promise<MemoryRecord | null>;
  /** The scope's records in key order, at most MEMORY_LIST_LIMIT. */
  list(scope: string): Promise<MemoryRecord[]>;
  pack(scope: string, pack: string): Promise<string[] | null>;
  /** Creates seeded records, or moves still-seeded ones to a newer seeded value; never overwrites what an agent wrote since. */
  seed(records: { scope: string; key: string; sensitivity: Sensitivity; value: unknown }[], packs: { scope: string; pack: string; keys: string[] }[], at: number): Promise<void>;
}

export interface UsageReads {
  /** Total over the window ending at `now`, bucket-granular and conservative. */
  sum(agent: string, capability: string, field: string, windowMs: number, now: number): Promise<number>;
}

export interface MonitorReads {
  /** Executed calls of the agent so far (for every-N steward gates). */
  executed(agent: string): Promise<number>;
  /** The samples in a monitor's window as the store holds them, oldest first (the console's monitor chart). */
  samples(agent: string, monitor: string): Promise<MonitorSample[]>;
}

export interface DelegationReads {
  /** Live sub-mandates `parent` holds at `now`. */
  liveChildren(parent: string, now: number): Promise<number>;
  byChild(child: string): Promise<DelegationRow | null>;
  get(id: string): Promise<DelegationRow | null>;
  list(): Promise<DelegationRow[]>;
  /** Live sub-mandates whose expiry has passed, parents first. */
  dueToExpire(now: number): Promise<DelegationRow[]>;
}

export interface CredentialReads {
  /** The live (not revoked) credential with this key hash. */
  byHash(keyHash: string): Promise<CredentialRow | null>;
  get(id: string): Promise<CredentialRow | null>;
  list(): Promise<CredentialRow[]>;
}

/** The MCP stream events kept for resumption (not ledger state: written directly, outside units). */
export interface McpEventStore {
  /** Stores one message; returns its event id (the row's sequence). */
  add(sessionId: string, streamId: string, message: string, at: number): Promise<number>;
  /** Keeps only the newest `keep` rows of a session. */
  trim(sessionId: string, keep: number): Promise<void>;
  /** The stream an event of this session belongs to, or null (unknown, or another session's). */
  streamOf(sessionId: string, seq: number): Promise<string | null>;
  /** The messages of one stream after `seq`, oldest first, at most `limit`. */
  after(sessionId: string, streamId: string, seq: number, limit: number): Promise<{ seq: number; message: string }[]>;
  dropSession(sessionId: string): Promise<void>;
  dropOlderThan(at: number): Promise<number>;
}

export interface PinReads {
  list(server?: string): Promise<PinRow[]>;
  /** A cheap fingerprint of every pin: it changes whenever any pin does (a serving process polls it). */
  generation(): Promise<string>;
}

export interface PolicyInputReads {
  /** Stored policy inputs in (at, decision_id) order, filtered, one page after `after`. */
  list(filter: PolicyInputFilter): Promise<PolicyInputRow[]>;
}

export interface TaskReads {
  get(agent: string, id: string, now: number): Promise<TaskRecord | null>;
  /** The agent's live tasks, oldest first, after the cursor (created_at, id). */
  list(agent: string, now: number, after: { at: number; id: string } | null, limit: number): Promise<TaskRecord[]>;
}

/** The synchronous twin of a read group (what an embedded store implements). */
/** Plans (ADR-025). */
export interface PlanReads {
  get(id: string): Promise<PlanRow | null>;
  byChild(child: string): Promise<PlanRow | null>;
  /** The agent's running plans at `now`, oldest first. */
  running(agent: string, now: number): Promise<PlanRow[]>;
  list(): Promise<PlanRow[]>;
  steps(id: string): Promise<PlanStepRow[]>;
  attempts(id: string): Promise<PlanAttemptRow[]>;
}

export type Sync<T> = { [P in keyof T]: T[P] extends (...args: infer A) => Promise<infer R> ? (...args: A) => R : never };

/** The kinds of op, and the op of one kind. */
export type OpKind = Op['op'];
export type OpOf<K extends OpKind> = Extract<Op, { op: K }>;

/**
 * A store's interpretation of every op, one handler per kind: a store's table
 * is declared `satisfies OpHandlers<...>`, so a new op does not compile until
 * each store handles it. `i` is the op's index in its unit (for results).
 */
export type OpHandlers<Tx, R> = { [K in OpKind]: (tx: Tx, op: OpOf<K>, i: number) => R };
