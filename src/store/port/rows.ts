// The rows the store port reads and writes, as every store returns them (ADR-010).
// Stores keep JSON columns as text; `*Row` types are the stored form, records the read form.
import type { ReasonCode } from '../../core/reasons.js';
import type { DecisionStatus, Intent, Outcome, Sensitivity } from '../../core/types.js';

export type EventType =
  | 'IntentReceived'
  | 'IntentNormalized'
  | 'IntentReplayed'
  | 'IntentValidated'
  | 'IntentRejected'
  | 'PolicyDecided'
  | 'EscalationOpened'
  | 'EscalationChallenged'
  | 'EscalationResolved'
  | 'ActionStarted'
  | 'ActionOutcome'
  | 'ActionOutcomeUnknown'
  | 'InterventionIssued'
  | 'InterventionAcknowledged'
  | 'InterventionApplied'
  | 'InterventionRejected'
  | 'InterventionExpired'
  | 'AgentSuspended'
  | 'AgentResumed'
  | 'CircuitStateChanged'
  | 'MemoryRead'
  | 'CredentialCreated'
  | 'CredentialRevoked'
  | 'UpstreamPinned'
  | 'ResourceAccessed'
  | 'PromptAccessed'
  | 'ClientRequestRelayed'
  | 'Delegated'
  | 'DelegationRevoked'
  | 'DelegationExpired'
  | 'PlanDecided'
  | 'PlanStateChanged'
  | 'PlanUnplannedCall'
  /** An operator asked whether a call would be allowed (`mandate check`): a check, never a decision. */
  | 'PolicyChecked'
  /** A live reload of contracts, policies and capability modules was applied or refused, with who asked. */
  | 'WorkspaceReloaded'
  /** `mandate reload` asked this host's serving processes to reload. */
  | 'ReloadRequested';

export interface NewEvent {
  dfid: string;
  agent: string;
  type: EventType;
  decision_id?: string | null;
  reasons?: ReasonCode[];
  /** Content-safe fields only: ids, hashes, codes, numbers the kernel derived. */
  data?: Record<string, unknown>;
}

export interface LedgerEvent {
  seq: number;
  id: string;
  dfid: string;
  agent: string;
  type: EventType;
  time: string;
  decision_id: string | null;
  reasons: ReasonCode[];
  data: Record<string, unknown>;
  prev_hash: string;
  hash: string;
  /**
   * Present on the events of a format-2 row (ADR-021): the events of one
   * commit point, hashed together; they share `prev_hash` and `hash`.
   */
  record?: { first_seq: number; last_seq: number };
}

/** A ledger row as stored: one event (format 1, `reasons` and `data` as canonical JSON text), or one commit point's record of events (format 2). */
export interface EventRow {
  seq: number;
  id: string;
  dfid: string;
  agent: string;
  type: string;
  time: string;
  decision_id: string | null;
  reasons: string;
  data: string;
  prev_hash: string;
  hash: string;
  /** 1: one event hashed alone (ADR-002); 2: a record (ADR-021), `data` the canonical array of its events. */
  format: number;
  /** A record's first event (format 2); null for format 1. */
  first_seq: number | null;
}

export type VerifyResult = { ok: true; events: number; head: string } | { ok: false; events: number; firstBadSeq: number; problem: string };

export interface DecisionRecord {
  id: string;
  dfid: string;
  agent: string;
  capability: string | null;
  status: DecisionStatus;
  request_hash: string;
  idempotency_key: string | null;
  intent: Intent | null;
  facts: Record<string, unknown> | null;
  facts_hash: string | null;
  policies: string[];
  created_at: number;
  expires_at: number | null;
  resolved_at: number | null;
  resolved_by: string | null;
  resolution_note: string | null;
  outcome: Outcome | null;
  /** The challenger's advisory risk summary of a pending escalation, if one was written. */
  review: DecisionReview | null;
  /** The process that runs (or ran) the decision's effect, while it has no outcome. */
  runner: string | null;
}

/** A model's risk summary for the human approver: advisory, never deciding (ADR-006). */
export interface DecisionReview {
  risk: 'low' | 'medium' | 'high';
  summary: string;
  model: string;
  route: string;
  at: number;
}

export interface DecisionRow extends Omit<DecisionRecord, 'intent' | 'facts' | 'policies' | 'outcome' | 'review'> {
  intent: string | null;
  facts: string | null;
  policies: string;
  outcome: string | null;
  review: string | null;
}

export type IdempotencyState = 'pending_approval' | 'in_flight' | 'done' | 'failed' | 'outcome_unknown';

export interface IdempotencyRecord {
  agent: string;
  key: string;
  request_hash: string;
  state: IdempotencyState;
  decision_id: string;
  created_at: number;
  expires_at: number;
}

export type AgentStatus = 'active' | 'paused' | 'suspended' | 'terminated';
export type FlowStatus = 'active' | 'paused' | 'terminated';
export type InterventionState = 'pending' | 'acknowledged' | 'applied' | 'rejected' | 'expired';

export interface InterventionRow {
  id: string;
  dfid: string;
  target_kind: 'agent' | 'flow' | 'decision';
  target: string;
  target_agent: string;
  act: string;
  args: string;
  issued_by: string;
  issuer_role: string;
  state: InterventionState;
  reason_hash: string | null;
  created_at: number;
  updated_at: number;
  expires_at: number | null;
}

export interface AgentStatusRow {
  status: AgentStatus;
  updated_at: number;
  updated_by: string;
}

export interface ConstraintRow {
  intervention_id: string;
  agent: string;
  capability: string;
  field: string;
  max: number;
  expires_at: number;
}

export interface NoteRow {
  intervention_id: string;
  agent: string;
  note: string;
  created_at: number;
  expires_at: number;
}

export interface MemoryRecord {
  scope: string;
  key: string;
  version: number;
  value: unknown;
  sensitivity: Sensitivity;
  provenance: string;
  created_at: number;
  updated_at: number;
}

export type MemoryRow = Omit<MemoryRecord, 'value'> & { value: string };

/** One sample in a drift monitor's window. */
export interface MonitorSample {
  at: number;
  value: number;
}

/** Decisions opened in one minute (epoch ms / 60 000) that now have one status. */
export interface MinuteCount {
  minute: number;
  status: DecisionStatus;
  n: number;
}

export interface WindowStats {
  count: number;
  sum: number;
  max: number | null;
  firstAt: number | null;
}

export type CredentialKind = 'agent' | 'operator';
export type CredentialRole = 'agent' | 'operator' | 'viewer';

/** One API key. Only its SHA-256 hash is stored; the key itself is shown once, at creation. */
export interface CredentialRow {
  id: string;
  kind: CredentialKind;
  /** The agent id, or the operator's name. */
  principal: string;
  role: CredentialRole;
  key_hash: string;
  /** The first characters of the key, so a person can tell keys apart. */
  key_prefix: string;
  label: string | null;
  created_at: number;
  created_by: string;
  revoked_at: number | null;
  revoked_by: string | null;
}

/** An upstream tool's definition as an operator pinned it (ADR-008). */
export interface PinnedDefinition {
  name: string;
  title?: string;
  description?: string;
  inputSchema: Record<string, unknown>;
  outputSchema?: Record<string, unknown>;
  annotations?: Record<string, unknown>;
}

export interface PinRow {
  server: string;
  tool: string;
  /** sha256 of the canonical JSON of the definition. */
  hash: string;
  definition: PinnedDefinition;
  pinned_at: number;
  pinned_by: string;
}

export type PinDbRow = Omit<PinRow, 'definition'> & { definition: string };

/**
 * What one decision's policy request saw (ADR-023): the principal's and the
 * resource's attributes and the context (values, facts, usage, now), exactly
 * as Cedar was given them, kept in the decision's row (ADR-040) for `mandate
 * policy impact`. Not the content-safe ledger: it holds values, under the
 * workspace's `retention.policy_inputs_days`; the ledger's `PolicyDecided`
 * keeps its hash, so a replay can prove the input untampered.
 */
export interface PolicyInputRow {
  decision_id: string;
  dfid: string;
  agent: string;
  capability: string;
  /** When the decision was made: its `created_at` (epoch ms), the instant its contract period was judged at. */
  at: number;
  /** Cedar's verdict then: permit, escalate, forbid, no_permit or error. */
  verdict: string;
  /** Steward gates that turned a permit into an escalation (ids), if any. */
  gates: string[];
  /** The canonical JSON of `{ principal, resource, context }`. */
  input: string;
  /** sha256 of `input`, as the ledger's PolicyDecided records it. */
  input_hash: string;
}

export type PolicyInputDbRow = Omit<PolicyInputRow, 'gates'> & { gates: string };

/** What `policy_input.put` writes: the decision row has the rest (its flow, agent and time). */
export type PolicyInputPut = Omit<PolicyInputRow, 'dfid' | 'agent' | 'at'>;

export interface PolicyInputFilter {
  since?: number | undefined;
  agent?: string | undefined;
  capability?: string | undefined;
  /** Rows after this (at, decision_id), for paging. */
  after?: { at: number; decision_id: string } | undefined;
  limit: number;
}

/** A process that may run effects: where it lives and when it last said so. */
export interface RunnerRow {
  id: string;
  host: string;
  pid: number;
  started_at: number;
  heartbeat_at: number;
}

export type TaskStatus = 'working' | 'input_required' | 'completed' | 'failed' | 'cancelled';
/** How the task's result is shaped: a governed outcome (toToolResult) or an upstream tool's own result (toPassthroughResult). */
export type TaskResultForm = 'outcome' | 'passthrough';

export interface TaskRecord {
  id: string;
  agent: string;
  /** The decision the task follows (minted before the call starts). */
  decision_id: string;
  result_form: TaskResultForm;
  status: TaskStatus;
  status_message: string | null;
  /** The tools/call result, once terminal. */
  result: Record<string, unknown> | null;
  ttl_ms: number;
  poll_ms: number;
  created_at: number;
  updated_at: number;
  expires_at: number;
}

export interface TaskRow extends Omit<TaskRecord, 'result'> {
  result: string | null;
}

export type DelegationStatus = 'live' | 'revoked' | 'expired';

/**
 * One sub-mandate (ADR-022): the part of `parent`'s authority handed to the
 * agent `child`. Grants and memory scopes are JSON text as the kernel checked
 * them; `max_depth` is the deepest level (the root contract is level 0) that
 * any descendant of this child may reach.
 */
export interface DelegationRow {
  id: string;
  child: string;
  parent: string;
  root: string;
  depth: number;
  max_depth: number;
  may_delegate: number;
  purpose: string;
  grants: string;
  memory: string;
  created_at: number;
  expires_at: number;
  created_by: string;
  decision_id: string;
  status: DelegationStatus;
  ended_at: number | null;
  ended_by: string | null;
}
