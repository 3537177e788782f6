import type { Outcome } from '../core/types.js';
import type { Kernel } from '../kernel/kernel.js';
import { PLAN_CAPABILITY } from '../kernel/plans/request.js';
import type { PlanReport } from '../kernel/plans/operate.js';
import type { DecisionRecord } from '../store/port/index.js';

/** Where a task of a plan stands: still open (with its progress), or ended with the plan's report. */
export type PlanTaskState = { open: true; message: string } | { open: false; status: 'completed' | 'failed'; outcome: Outcome; message: string | null };

/**
 * A task whose call submitted a plan that was accepted (or approved) follows
 * the plan, not only its decision (ADR-025): it stays `working` while the
 * plan runs, or waits for an operator (failed and resumable, or changed and
 * waiting for approval), its status message saying which step it is at; it
 * ends when the plan does, its result the decision's outcome with the
 * plan's report. Null for any other call.
 */
export async function planTask(kernel: Kernel, agent: string, d: DecisionRecord, outcome: Outcome): Promise<PlanTaskState | null> {
  const planId = (outcome.output as { plan_id?: unknown } | undefined)?.plan_id;
  if (d.capability !== PLAN_CAPABILITY || outcome.verdict !== 'accepted' || typeof planId !== 'string') return null;
  const report = await kernel.planReport(planId, agent);
  const withReport: Outcome = { ...outcome, output: { ...(outcome.output as Record<string, unknown>), status: report.status, report } };
  const n = report.planned.length;
  const done = report.planned.filter((p) => p.status === 'done').length;
  switch (report.status) {
    case 'running':
      return { open: true, message: `plan ${planId}: ${done} of ${n} steps done${running(report)}` };
    case 'failed':
      return { open: true, message: `plan ${planId}: stopped at step ${(report.failed_step ?? 0) + 1} of ${n}; waiting for an operator to resume or abandon it` };
    case 'pending_approval':
      return { open: true, message: `plan ${planId}: changed at resume; waiting for a human to approve the change` };
    case 'completed':
      return { open: false, status: 'completed', outcome: withReport, message: null };
    default:
      return { open: false, status: 'failed', outcome: withReport, message: `plan ${planId} ${report.status} after ${done} of ${n} steps` };
  }
}

function running(report: PlanReport): string {
  const now = report.planned.find((p) => p.status === 'running');
  return now ? `; step ${now.step + 1} (${now.capability}) running` : '';
}
