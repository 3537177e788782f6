import type { Outcome } from '../core/types.js';
import type { Kernel } from '../kernel/kernel.js';
import type { AgentStatusRow, InterventionRow } from '../store/port/index.js';
import type { DecisionRecord } from '../store/port/index.js';
import type { EventType, LedgerEvent } from '../store/port/index.js';

/**
 * What the operator API and the event stream show. Content-safe by default:
 * request params and capability outputs appear only where the capability
 * opts in (`audit.recordParams`, `audit.recordOutput`), as in the ledger.
 */

const iso = (ms: number | null | undefined): string | null => (typeof ms === 'number' ? new Date(ms).toISOString() : null);

/** An outcome as operators see it: the output only where the capability opts in. */
export function outcomeView(kernel: Kernel, outcome: Outcome | null): (Outcome & { output_redacted?: boolean }) | null {
  if (!outcome) return null;
  const cap = outcome.capability ? kernel.workspace.capabilities.get(outcome.capability) : undefined;
  if (outcome.output === undefined || cap?.def.audit?.recordOutput) return outcome;
  const { output: _hidden, ...rest } = outcome;
  return { ...rest, output_redacted: true };
}

export function decisionView(kernel: Kernel, d: DecisionRecord) {
  return {
    decision_id: d.id,
    dfid: d.dfid,
    agent: d.agent,
    capability: d.capability,
    status: d.status,
    policies: d.policies,
    created_at: iso(d.created_at),
    expires_at: iso(d.expires_at),
    resolved_at: iso(d.resolved_at),
    resolved_by: d.resolved_by,
    outcome: outcomeView(kernel, d.outcome),
  };
}

export function agentView(kernel: Kernel, agent: string, row: AgentStatusRow | null, sessions: number, pending: number) {
  const c = kernel.contractOf(agent);
  return {
    agent,
    role: c?.role ?? null,
    owner: c?.owner ?? null,
    mission: c?.mission ?? null,
    status: row?.status ?? 'active',
    status_updated_at: iso(row?.updated_at),
    status_updated_by: row?.updated_by ?? null,
    capabilities: c?.grants.map((g) => g.capability) ?? [],
    pending_approvals: pending,
    sessions,
  };
}

export function interventionView(r: InterventionRow) {
  let args: unknown = {};
  try {
    args = JSON.parse(r.args) as unknown;
  } catch {
    // keep {}
  }
  return {
    intervention_id: r.id,
    dfid: r.dfid,
    act: r.act,
    target_kind: r.target_kind,
    target: r.target,
    target_agent: r.target_agent || null,
    args,
    issued_by: r.issued_by,
    issuer_role: r.issuer_role,
    state: r.state,
    reason_hash: r.reason_hash,
    created_at: iso(r.created_at),
    updated_at: iso(r.updated_at),
    expires_at: iso(r.expires_at),
  };
}

export type EventCategory = 'decision' | 'escalation' | 'intervention' | 'system';
export const EVENT_CATEGORIES: readonly EventCategory[] = ['decision', 'escalation', 'intervention', 'system'];

/** Every ledger event type in one category; a new type that is not mapped here does not compile. */
const CATEGORY: Record<EventType, EventCategory> = {
  IntentReceived: 'decision',
  IntentNormalized: 'decision',
  IntentReplayed: 'decision',
  IntentValidated: 'decision',
  IntentRejected: 'decision',
  PolicyDecided: 'decision',
  ActionStarted: 'decision',
  ActionOutcome: 'decision',
  ActionOutcomeUnknown: 'decision',
  EscalationOpened: 'escalation',
  EscalationResolved: 'escalation',
  EscalationChallenged: 'escalation',
  InterventionIssued: 'intervention',
  InterventionAcknowledged: 'intervention',
  InterventionApplied: 'intervention',
  InterventionRejected: 'intervention',
  InterventionExpired: 'intervention',
  AgentSuspended: 'intervention',
  AgentResumed: 'intervention',
  CircuitStateChanged: 'system',
  MemoryRead: 'system',
  CredentialCreated: 'system',
  CredentialRevoked: 'system',
  UpstreamPinned: 'system',
  ResourceAccessed: 'decision',
  PromptAccessed: 'decision',
  ClientRequestRelayed: 'decision',
  PolicyChecked: 'system',
  WorkspaceReloaded: 'system',
  ReloadRequested: 'system',
  Delegated: 'intervention',
  DelegationRevoked: 'intervention',
  DelegationExpired: 'intervention',
  PlanDecided: 'decision',
  PlanStateChanged: 'decision',
  PlanUnplannedCall: 'decision',
};

export function categoryOf(type: EventType): EventCategory {
  return CATEGORY[type];
}

/** A ledger event for the live stream: the event as the ledger holds it (content-safe), its category and the agent it concerns. */
export function streamEventView(e: LedgerEvent, concerns: string) {
  return { ...e, category: categoryOf(e.type), concerns };
}
