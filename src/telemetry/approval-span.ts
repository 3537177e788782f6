import type { Outcome } from '../core/types.js';
import type { Tracer } from './port.js';

/**
 * Runs a wait for a human's answer to an escalation in a `mandate.approval.wait` span: how the
 * answer was sought (`wait`: the decision polled; `elicitation`: the client's human asked) and the
 * status it ended in.
 */
export async function approvalWait(tracer: Tracer | undefined, decisionId: string, via: 'wait' | 'elicitation', fn: () => Promise<Outcome | null>): Promise<Outcome | null> {
  if (!tracer?.enabled) return fn();
  return tracer.span('mandate.approval.wait', { 'mandate.decision_id': decisionId, 'mandate.approval.via': via }, async (span) => {
    const outcome = await fn();
    span.set({ 'mandate.status': outcome?.status ?? 'unknown' });
    return outcome;
  });
}
