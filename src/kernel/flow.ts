import type { Logger } from '../core/log.js';
import type { CallRelay, DecisionStatus, NormalizedProposal, Outcome, ReasonDetail } from '../core/types.js';
import type { NewEvent } from '../store/port/index.js';
import type { Op } from '../store/port/index.js';
import type { KernelCore } from './context.js';
import type { Chain } from './delegation/chain.js';
import type { PipelineStage } from './observer.js';

/**
 * One decision flow as it moves through the stages: its identity, and its
 * journal, the lineage events and state writes not yet committed. A commit
 * point sends the journal as one unit (ADR-010).
 */
export interface Flow {
  agent: string;
  dfid: string;
  decisionId: string;
  capability: string | null;
  key: string | null;
  log: Logger;
  /** Uncommitted ops of this flow, in order. */
  journal: Op[];
  /** An operator's redirect note taken for delivery with this flow's outcome. */
  note?: string | undefined;
  /** For a free-text intent, once normalised: what the model proposed. */
  normalized?: NormalizedProposal | undefined;
  /** Observer clock at the flow's start and at its last stage boundary. */
  t0?: number | undefined;
  t?: number | undefined;
  /** The caller's progress/notification channel, handed to the handler (absent on an approval). */
  relay?: CallRelay | undefined;
  /** A delegated caller's chain, root first (ADR-022); absent for an agent with a contract of its own. */
  chain?: Chain | undefined;
  /** The plan step this call was matched to (ADR-025); `ran` once its pre-effect commit started it. */
  plan?: { id: string; step: number; optional: boolean; ran: boolean } | undefined;
}

export function newFlow(k: KernelCore, f: { agent: string; dfid: string; decisionId: string; capability: string | null; key: string | null; relay?: CallRelay | undefined }): Flow {
  const flow: Flow = { ...f, log: k.deps.log.child({ dfid: f.dfid, agent: f.agent }), journal: [] };
  startTiming(k, flow);
  return flow;
}

export function event(flow: Flow, type: NewEvent['type'], rest: Omit<NewEvent, 'dfid' | 'agent' | 'type' | 'decision_id'> = {}): Op {
  return { op: 'event', event: { dfid: flow.dfid, agent: flow.agent, type, decision_id: flow.decisionId, ...rest } };
}

export function outcomeOf(flow: Flow, verdict: Outcome['verdict'], status: DecisionStatus, details: ReasonDetail[], policies: string[] = []): Outcome {
  return {
    verdict,
    reasons: [...new Set(details.map((d) => d.code))],
    details,
    dfid: flow.dfid,
    decision_id: flow.decisionId,
    capability: flow.capability,
    idempotency_key: flow.key,
    status,
    policies,
    receipt: null,
    ...(flow.note ? { operator_note: flow.note } : {}),
    ...(flow.normalized ? { normalized: flow.normalized } : {}),
  };
}

/**
 * The op that records a decision's final outcome. The outcome gets the
 * receipt of the unit's last event, and the note the unit took, at commit
 * time; the caller receives the same object.
 */
export function finishOp(flow: Flow, outcome: Outcome, pending?: Extract<Op, { op: 'decision.finish' }>['pending']): Op {
  return {
    op: 'decision.finish',
    id: flow.decisionId,
    pending,
    outcome: (ctx) => {
      outcome.receipt = ctx.receipt;
      if (ctx.note !== undefined) {
        flow.note = ctx.note;
        outcome.operator_note = ctx.note;
      }
      return outcome;
    },
  };
}

// The observer only watches: whatever it does (or throws) never changes a decision.
function startTiming(k: KernelCore, flow: Flow): void {
  const o = k.deps.observer;
  if (!o) return;
  try {
    flow.t0 = flow.t = o.now();
  } catch {
    flow.t0 = flow.t = undefined;
  }
}

/** Tells the observer how long the stage that ends now took. */
export function mark(k: KernelCore, flow: Flow, stage: PipelineStage): void {
  const o = k.deps.observer;
  if (!o || flow.t === undefined) return;
  try {
    const now = o.now();
    o.stage(stage, now - flow.t);
    flow.t = now;
  } catch {
    // ignored: see above
  }
}

/** Tells the observer a decision was answered; returns the outcome. */
export function observed(k: KernelCore, flow: Flow, outcome: Outcome): Outcome {
  const o = k.deps.observer;
  if (!o || flow.t0 === undefined) return outcome;
  try {
    o.decision(outcome, o.now() - flow.t0);
  } catch {
    // ignored: see above
  }
  return outcome;
}
