import type { SignedReceipt } from './receipt.js';
import type { ReasonCode } from './reasons.js';

export type Verdict = 'accepted' | 'rejected' | 'escalated';
export type SideEffect = 'read' | 'write' | 'destructive';
export type Sensitivity = 'standard' | 'elevated' | 'restricted';
export const SENSITIVITY_ORDER: readonly Sensitivity[] = ['standard', 'elevated', 'restricted'];

/** An agent's proposal, as it arrives on any transport. */
export interface Intent {
  capability: string;
  params: Record<string, unknown>;
  rationale?: string | undefined;
  idempotency_key?: string | undefined;
  ttl_seconds?: number | undefined;
  created_at?: string | undefined;
  observed_version?: string | undefined;
}

/** A free-text intent: `text` in place of capability and params; a local model proposes them. */
export interface TextIntent {
  text: string;
  rationale?: string | undefined;
  idempotency_key?: string | undefined;
  ttl_seconds?: number | undefined;
  created_at?: string | undefined;
  observed_version?: string | undefined;
}

/** What a transport hands over: a structured intent or a free-text one. */
export type Proposal = Intent | TextIntent;

export type Channel = 'stdio' | 'http' | 'cli';

/** A notification a capability sends to its caller while it runs (progress, log messages). */
export interface RelayNotification {
  method: string;
  params: Record<string, unknown>;
}

/**
 * The caller's side channel during a call, when the transport has one: the
 * progress token the caller asked for, and a way to send it notifications.
 * The gateway forwards an upstream's progress and log messages through it.
 */
export interface CallRelay {
  progressToken?: string | number | undefined;
  notify(notification: RelayNotification): Promise<void>;
  /** Also told of every progress report a handler sends (an MCP task keeps it as its status message). */
  onProgress?: ((update: ProgressUpdate) => void) | undefined;
  /**
   * Relays a request an upstream sends back during the call (sampling,
   * elicitation, roots) to the caller's own client, governed by its contract
   * (ADR-013). Absent: the transport cannot. Rejects with an error that has a
   * JSON-RPC `code` when refused or unsupported.
   */
  ask?(request: RelayNotification, ctx: ClientRequestContext): Promise<Record<string, unknown>>;
  /**
   * What the caller's client said it can be asked during this call (its
   * session's capabilities, or on 2026-07-28 the request's own). A 2026
   * upstream is told exactly these for the call: a transparent proxy declares
   * its client's capabilities, so the upstream asks only what can be relayed.
   */
  askable?: (() => AskableCapabilities) | undefined;
}

/** The client capabilities that let a caller be asked on an upstream's behalf: roots, sampling, elicitation (ADR-013). */
export interface AskableCapabilities {
  roots?: object | undefined;
  sampling?: object | undefined;
  elicitation?: { url?: object | undefined } | undefined;
}

/** One progress report of a running handler, as `notifications/progress` carries it (without the token). */
export interface ProgressUpdate {
  progress: number;
  total?: number | undefined;
  message?: string | undefined;
}

/** Who asks the caller's client, on behalf of which call. */
export interface ClientRequestContext {
  upstream: string;
  /** The flow of the call during which the upstream asked (absent outside a call, e.g. roots at start). */
  dfid?: string | undefined;
  /** The upstream tool (or primitive) being called, if any. */
  target?: string | undefined;
  /** A 2026 upstream's own key for the request in its `input_required` round: a 2026 agent is asked under the same key. */
  key?: string | undefined;
  signal: AbortSignal;
}

/** The one neutral shape every transport hands to the kernel. */
export interface GovernedCall {
  agent: string;
  intent: Proposal;
  channel: Channel;
  /** W3C traceparent from the request's `_meta`, if any. */
  traceparent?: string | undefined;
  /** Idempotency key from `_meta`, used when the intent carries none. */
  metaIdempotencyKey?: string | undefined;
  /** A Biscuit delegation token (`mdb_…`, `_meta['mandate/delegation_token']`): verified with the call's values on top of every other check (ADR-022). */
  delegationToken?: string | undefined;
  /**
   * The delegation token the caller authenticated with (`Authorization: Bearer mdb_…`): authorized on this call
   * exactly as `delegationToken`; with both, both must hold (ADR-022).
   */
  bearerToken?: string | undefined;
  signal?: AbortSignal | undefined;
  /**
   * A cancel that stops the call only before the pre-effect commit: once the effect has started it runs to
   * completion under its deadline and is recorded, so a retry replays the true outcome (MCP 2026-07-28 over HTTP,
   * where closing the response stream is the cancel; ADR-024). `signal` also aborts a running handler (ADR-014).
   */
  cancelBeforeEffect?: AbortSignal | undefined;
  /** Where progress and log messages of a running capability go (MCP: the tools/call request). */
  relay?: CallRelay | undefined;
  /** A decision id minted by the transport (an MCP task links to it before the call starts); default: a fresh one. */
  decisionId?: string | undefined;
  /** Problems the transport found in its own tool arguments; the kernel records and refuses them. */
  argumentIssues?: { path: string; message: string }[] | undefined;
  /** The plan this call is a step of (`_meta["mandate/plan"]`, ADR-025). */
  planId?: string | undefined;
  /** Set by the kernel only: this call undoes step `step` of a failed plan, as the agent itself (ADR-025). */
  compensates?: { planId: string; step: number } | undefined;
}

export interface Receipt {
  seq: number;
  hash: string;
}

export interface ReasonDetail {
  code: ReasonCode;
  message: string;
  path?: string | undefined;
  invariant?: string | undefined;
}

/** What the kernel answers for every governed call, on every transport. */
export interface Outcome {
  verdict: Verdict;
  reasons: ReasonCode[];
  details: ReasonDetail[];
  dfid: string;
  decision_id: string;
  capability: string | null;
  idempotency_key: string | null;
  output?: unknown;
  status: DecisionStatus;
  expires_at?: string | undefined;
  policies: string[];
  receipt: Receipt | null;
  /** The receipt signed with the workspace's Ed25519 key, when `signing.receipts` is on (ADR-016). */
  signed_receipt?: SignedReceipt | undefined;
  /** Set on a repeat: the decision whose recorded outcome this is. */
  replay_of?: string | undefined;
  /** An operator's redirect note, delivered once on the agent's next call. */
  operator_note?: string | undefined;
  /** For a free-text intent: what the model proposed, as the kernel then judged it. */
  normalized?: NormalizedProposal | undefined;
}

export interface NormalizedProposal {
  capability: string;
  params: Record<string, unknown>;
  model: string;
  route: string;
}

export type DecisionStatus =
  | 'running'
  | 'outcome_unknown'
  | 'accepted'
  | 'rejected'
  | 'pending'
  | 'approved'
  | 'denied'
  | 'expired'
  | 'failed';
