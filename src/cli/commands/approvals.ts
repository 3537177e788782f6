import { KernelError } from '../../kernel/kernel.js';
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
  return withRuntime(opts.workspace, undefined, async ({ store }) => {
    const d = await store.decisions.get(id);
    if (!d) throw new KernelError('DECISION_NOT_FOUND', `no decision \`${id}\``);
    // Params are shown to the operator who decides; they never go to logs or the ledger.
    // The challenger's risk summary, if enabled and written: advisory, for the human who decides.
    const review = d.review ? { risk: d.review.risk, summary: d.review.summary, model: d.review.model, note: 'advisory, written by a model; it does not decide' } : null;
    printJson({ decision_id: d.id, status: d.status, agent: d.agent, capability: d.capability, dfid: d.dfid, policies: d.policies, request_hash: d.request_hash, facts_hash: d.facts_hash, params: d.intent?.params ?? null, normalized_from_text: !!d.outcome?.normalized, review, expires_at: d.expires_at ? new Date(d.expires_at).toISOString() : null, resolved_by: d.resolved_by });
    return EXIT.ok;
  });
}

export async function approvalsApprove(id: string, opts: Opts): Promise<number> {
  const operator = operatorName(opts.as);
  return withRuntime(opts.workspace, undefined, async ({ kernel }) => {
    const outcome = await kernel.approve(id, operator, opts.note ?? null);
    printJson(outcome);
    return outcome.verdict === 'accepted' ? EXIT.ok : EXIT.failed;
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
  return withRuntime(opts.workspace, undefined, async ({ kernel }) => {
    printJson(await kernel.deny(id, operator, opts.note ?? null));
    return EXIT.ok;
  });
}
