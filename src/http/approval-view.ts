import type { ReasonDetail } from '../core/types.js';
import type { Kernel } from '../kernel/kernel.js';
import type { DecisionRecord } from '../store/port/index.js';

/**
 * The one view of an escalated call, for the console, the operator API and
 * `mandate approvals show`. The call is read from the decision record, which
 * is where the kernel keeps the exact request it runs on approval
 * (src/kernel/approvals.ts). Who decides sees the call: an approval binds to
 * exact arguments, so the person approving must see them. A viewer sees it
 * only where the capability opts in with `audit.recordParams`, as the ledger
 * does; the ledger itself never holds it.
 */

/** `approver`: an operator who may decide (operator role, or the CLI on the workspace). `viewer`: read-only. */
export type Audience = 'approver' | 'viewer';

const iso = (ms: number | null | undefined): string | null => (typeof ms === 'number' ? new Date(ms).toISOString() : null);

/** What the kernel will evaluate on approval: the params after the capability's schema, plus what `derive` adds from the facts. */
function derivedValues(kernel: Kernel, d: DecisionRecord): { values: Record<string, unknown> | null; problem: string | null } {
  const cap = d.capability ? kernel.workspace.capabilities.get(d.capability) : undefined;
  if (!cap || !d.intent) return { values: null, problem: cap ? 'no stored request' : 'the capability is no longer loaded' };
  const parsed = cap.def.input.safeParse(d.intent.params);
  if (!parsed.success) return { values: null, problem: 'the stored params no longer match the capability schema' };
  try {
    return { values: { ...parsed.data, ...(cap.def.derive ? cap.def.derive(parsed.data, d.facts ?? {}) : {}) }, problem: null };
  } catch {
    return { values: null, problem: 'the capability could not derive its values' };
  }
}

export interface ApprovalView {
  decision_id: string;
  status: DecisionRecord['status'];
  agent: string;
  capability: string | null;
  capability_version: string | null;
  side_effect: string | null;
  dfid: string;
  policies: string[];
  /** Why it escalated: the policies' and steward gates' own texts. */
  reason: string | null;
  /** Every reason the decision recorded, code and message. */
  details: ReasonDetail[];
  /** The hash the approval binds: agent, capability and params, canonical (the run uses exactly this request). */
  request_hash: string;
  facts_hash: string | null;
  /** The params as the agent sent them. */
  params: Record<string, unknown> | null;
  /** The values the kernel evaluates: params after the schema, plus derived fields. */
  values: Record<string, unknown> | null;
  values_problem: string | null;
  /** The facts the decision used (read once, before the policies). */
  facts: Record<string, unknown> | null;
  params_redacted: boolean;
  normalized_from_text: boolean;
  review: { risk: string; summary: string; model: string; note: string } | null;
  created_at: string | null;
  expires_at: string | null;
  resolved_at: string | null;
  resolved_by: string | null;
}

export function approvalView(kernel: Kernel, d: DecisionRecord, audience: Audience = 'viewer'): ApprovalView {
  const cap = d.capability ? kernel.workspace.capabilities.get(d.capability) : undefined;
  const shown = audience === 'approver' || cap?.def.audit?.recordParams === true;
  const derived = shown ? derivedValues(kernel, d) : { values: null, problem: null };
  return {
    decision_id: d.id,
    status: d.status,
    agent: d.agent,
    capability: d.capability,
    capability_version: cap?.def.version ?? null,
    side_effect: cap?.def.sideEffect ?? null,
    dfid: d.dfid,
    policies: d.policies,
    reason: d.outcome?.details.find((x) => x.code === 'ESCALATION_REQUIRED')?.message ?? null,
    details: d.outcome?.details ?? [],
    request_hash: d.request_hash,
    facts_hash: d.facts_hash,
    params: shown ? (d.intent?.params ?? null) : null,
    values: derived.values,
    values_problem: derived.problem,
    facts: shown ? d.facts : null,
    params_redacted: !shown,
    normalized_from_text: !!d.outcome?.normalized,
    // The challenger's risk summary, if enabled and written: advisory, for the human who decides.
    review: d.review ? { risk: d.review.risk, summary: d.review.summary, model: d.review.model, note: 'advisory, written by a model; it does not decide' } : null,
    created_at: iso(d.created_at),
    expires_at: iso(d.expires_at),
    resolved_at: iso(d.resolved_at),
    resolved_by: d.resolved_by,
  };
}

/** The audience of an operator credential: only the operator role decides. */
export function audienceOf(role: 'operator' | 'viewer'): Audience {
  return role === 'operator' ? 'approver' : 'viewer';
}
