/**
 * The closed catalogue of reason codes. Every denial, escalation and notable
 * outcome is named by one of these; the table is mapped exhaustively to the
 * MCP wire and CLI exit codes, so a new code cannot be forgotten at an edge.
 */
export const REASONS = {
  UNKNOWN_AGENT: 'No responsibility contract exists for the agent (the caller, or the target of an intervention).',
  AGENT_PAUSED: 'The agent is paused by an intervention; its calls are refused before any other check.',
  AGENT_SUSPENDED: 'A drift monitor suspended the agent; only an operator can resume it.',
  FLOW_PAUSED: 'The flow (dfid) is paused by an intervention.',
  FLOW_TERMINATED: 'The flow (dfid) was terminated by an intervention.',
  AGENT_TERMINATED: 'The agent was terminated by an intervention; only an operator can revive it.',
  CONTRACT_NOT_EFFECTIVE: "The agent's contract is not in effect at this time (before its effective_from, or from its effective_until on).",
  PAYLOAD_TOO_LARGE: 'The intent is larger than limits.max_payload_bytes.',
  SCHEMA_INVALID: 'The intent, its params or the tool arguments do not match their schema.',
  INPUT_TOO_LARGE: 'A free-text intent is longer than normalizer.max_text_bytes; no model was called.',
  NORMALIZER_UNAVAILABLE: 'A free-text intent could not be normalised: no normalizer is configured, or the model server was unreachable, timed out or failed.',
  NORMALIZATION_FAILED: "The model's proposal for a free-text intent was not valid JSON, did not match the schema, or named a capability the contract does not grant.",
  CAPABILITY_UNKNOWN: 'No capability with this id is loaded.',
  CAPABILITY_NOT_GRANTED: "The agent's contract does not grant this capability.",
  TTL_EXPIRED: "The intent's TTL (ttl_seconds, else the contract's default_ttl_seconds, from created_at or receipt) has passed.",
  FACTS_UNAVAILABLE: "The capability's facts resolver failed; the kernel cannot check state.",
  STATE_DRIFT: 'The state the intent was based on changed (observed_version, or facts moved before the effect).',
  CONTRACT_LIMIT_EXCEEDED: 'A value is above a contract cap, below a floor, or not among its allowed values.',
  BUDGET_EXCEEDED: "A rolling-window budget in the contract would be exceeded.",
  INVARIANT_VIOLATED: 'A capability invariant failed, or its derive function threw (details name which).',
  POLICY_FORBID: 'A Cedar forbid policy matched.',
  POLICY_NO_PERMIT: 'No Cedar permit policy matched.',
  POLICY_ERROR: 'A policy failed to evaluate; the kernel fails closed.',
  POLICY_VALUE_INVALID: "A value cannot reach the policies exactly as its type: a number with more than 4 decimal places or beyond Cedar's decimal range, an integer beyond ±2^53, or a fact or derived value that does not match its declared schema. It is refused, never rounded or dropped.",
  ESCALATION_REQUIRED: 'A policy requires a human decision; the request is pending.',
  ESCALATION_APPROVED: 'A human approved the pending request.',
  ESCALATION_DENIED: 'A human denied the pending request.',
  ESCALATION_EXPIRED: 'Nobody decided the pending request before it expired.',
  IDEMPOTENT_REPLAY: 'The same request with the same key was decided before; this is its recorded outcome and nothing ran again.',
  IDEMPOTENCY_CONFLICT: 'The idempotency key was used before with a different request.',
  IN_PROGRESS: 'The same request with the same key is still running or awaiting approval.',
  FLOW_LIMIT_EXCEEDED: 'The flow (dfid) reached limits.max_invocations_per_flow.',
  CIRCUIT_OPEN: "The capability's circuit breaker is open after repeated failures.",
  UPSTREAM_UNAVAILABLE: 'The upstream MCP server behind this capability is missing, misconfigured, not running, busy or went away during the call (details name it).',
  UPSTREAM_TOOL_CHANGED: "The definition of the upstream tool, resource, resource template or prompt no longer matches its pin (or it is gone); it is quarantined until an operator re-pins it.",
  UPSTREAM_ERROR_RESULT: 'The upstream tool ran and answered with an error result (isError); its result is passed through, and the outcome is not a clean success.',
  PRIMITIVE_UNKNOWN: 'No pinned upstream resource, resource template or prompt has this URI or name, or no single upstream serves the URI.',
  RESOURCE_NOT_GRANTED: "The agent's contract grants no resource pattern of this upstream that matches the URI.",
  PROMPT_NOT_GRANTED: "The agent's contract does not grant this prompt of this upstream.",
  CLIENT_REQUEST_NOT_GRANTED: "The agent's contract does not let this upstream relay sampling or elicitation requests to the agent's client.",
  CLIENT_CAPABILITY_MISSING: "The agent's client does not support the request an upstream sent back (sampling, elicitation or roots).",
  ABORTED_BY_INTERVENTION: 'The running handler was aborted because its agent or flow was terminated.',
  DEADLINE_EXCEEDED: 'The handler did not finish before its deadline and was aborted.',
  CANCELLED: 'The caller cancelled the request (notifications/cancelled, or tasks/cancel). Before the effect: nothing ran and the key is released. After the effect started: the handler was aborted, the effect may have happened, and the key keeps this answer.',
  OUTPUT_TOO_LARGE: "The handler's output is larger than its cap (the capability's limits.maxOutputBytes, else limits.default_max_output_bytes).",
  OUTPUT_INVALID: "The handler's output does not match the capability's output schema.",
  HANDLER_FAILED: 'The handler threw an error.',
  DRIFT_MONITOR_BREACHED: "A drift monitor's threshold was passed, or a monitor could not be evaluated; the agent was suspended.",
  MEMORY_NOT_FOUND: 'No memory record with this scope and key (or no pack with this name) exists.',
  MEMORY_SCOPE_DENIED: "The contract does not grant the memory scope.",
  MEMORY_SENSITIVITY_DENIED: "The record is more sensitive than the contract's max_sensitivity for its scope.",
  INTERVENTION_NOT_ALLOWED: "The caller's role does not allow this intervention (an agent can never resume itself), or a constraint would loosen a contract cap.",
  DECISION_NOT_FOUND: 'No decision with this id is visible to the caller (for approve and deny: none is pending).',
  OUTCOME_UNKNOWN: "A crash cut this decision's effect short: whether it happened is unknown, and neither the capability nor an operator has settled it yet (`mandate decisions settle`). Its key answers with this code, never runs again, until it is settled.",
  OUTCOME_NOT_APPLIED: 'After a crash, the capability (reconcile) or an operator established that the effect did not happen; the key was released, so a retry runs afresh.',
  STORE_UNAVAILABLE: 'The store (PostgreSQL) did not answer; the kernel failed closed, nothing of the call was committed and no effect started.',
  INTERNAL_ERROR: 'An unexpected error; the kernel failed closed and nothing further ran.',
} as const;

export type ReasonCode = keyof typeof REASONS;

export const REASON_CODES = Object.keys(REASONS) as ReasonCode[];

export function isReasonCode(value: string): value is ReasonCode {
  return Object.hasOwn(REASONS, value);
}
