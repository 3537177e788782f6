import { approvalView } from '../../http/approval-view.js';
import { KernelError } from '../../kernel/kernel.js';
import type { Outcome } from '../../core/types.js';
import type { Runtime } from '../../runtime.js';
import { EXIT, operatorName, printJson, UsageError, withRuntime } from '../common.js';

interface Opts {
  workspace?: string;
  as?: string;
  note?: string;
  json?: boolean;
}

export async function approvalsList(opts: Opts): Promise<number> {
  return withRuntime(opts.workspace, undefined, async ({ kernel, store }) => {
    await kernel.expireOverdue();
    const pending = await store.decisions.pending();
    if (opts.json) {
      printJson(pending.map((d) => ({ decision_id: d.id, agent: d.agent, capability: d.capability, dfid: d.dfid, policies: d.policies, expires_at: d.expires_at ? new Date(d.expires_at).toISOString() : null, risk: d.review?.risk ?? null })));
      return EXIT.ok;
    }
    if (!pending.length) process.stdout.write('no pending approvals\n');
    for (const d of pending) {
      const left = Math.max(0, Math.round(((d.expires_at ?? 0) - Date.now()) / 1000));
      process.stdout.write(`${d.id}  agent=${d.agent}  capability=${d.capability}  dfid=${d.dfid}  expires in ${left}s  policies=${d.policies.join(',')}${d.review ? `  risk=${d.review.risk} (advisory; approvals show)` : ''}\n`);
    }
    return EXIT.ok;
  });
}

export async function approvalsShow(id: string, opts: Opts): Promise<number> {
  return withRuntime(opts.workspace, undefined, async ({ kernel, store }) => {
    const d = await store.decisions.get(id);
    if (!d) throw new KernelError('DECISION_NOT_FOUND', `no decision \`${id}\``);
    // The same view the console shows an operator who may approve: the call as sent and as derived, facts, reasons, the request hash.
    // Params are shown to the operator who decides; they never go to logs or the ledger.
    printJson(approvalView(kernel, d, 'approver'));
    return EXIT.ok;
  });
}

/**
 * Approve and deny always print a JSON answer on stdout: the outcome, or,
 * when the decision is not pending (unknown, already decided, expired), an
 * error with its code and the decision's recorded outcome. Exit codes:
 * approve 0 when the approved request ran, deny 0 when denied; 1 otherwise.
 */
export async function approvalsApprove(id: string, opts: Opts): Promise<number> {
  const operator = operatorName(opts.as);
  return withRuntime(opts.workspace, undefined, async (rt) => {
    const outcome = await answered(rt, id, () => rt.kernel.approve(id, operator, opts.note ?? null));
    return outcome?.verdict === 'accepted' ? EXIT.ok : EXIT.failed;
  });
}

/** Settles a decision whose outcome a crash left unknown (ADR-017). */
export async function decisionsSettle(id: string, opts: Opts & { applied?: boolean; notApplied?: boolean; reason?: string }): Promise<number> {
  if (opts.applied === opts.notApplied) throw new UsageError('say what happened: --applied or --not-applied');
  const operator = operatorName(opts.as);
  return withRuntime(opts.workspace, undefined, async ({ kernel }) => {
    printJson(await kernel.settleOutcome(id, opts.applied === true, `operator:${operator}`, opts.reason ?? null));
    return EXIT.ok;
  });
}

export async function approvalsDeny(id: string, opts: Opts): Promise<number> {
  const operator = operatorName(opts.as);
  return withRuntime(opts.workspace, undefined, async (rt) => {
    const outcome = await answered(rt, id, () => rt.kernel.deny(id, operator, opts.note ?? null));
    return outcome?.status === 'denied' ? EXIT.ok : EXIT.failed;
  });
}

/** Runs an approval act and prints its JSON answer; null when the decision was not pending. */
async function answered(rt: Runtime, id: string, act: () => Promise<Outcome> | Outcome): Promise<Outcome | null> {
  try {
    const outcome = await act();
    printJson(outcome);
    return outcome;
  } catch (err) {
    if (!(err instanceof KernelError)) throw err;
    const d = await rt.store.decisions.get(id);
    printJson({ decision_id: id, error: { code: err.code, message: err.message }, status: d?.status ?? null, outcome: d?.outcome ?? null });
    return null;
  }
}
