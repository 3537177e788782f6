import type { Capability, Facts } from '../capabilities/manifest.js';
import { grantFor } from '../config/contract-schema.js';
import { canonicalJson } from '../core/canonical.js';
import type { ReasonDetail } from '../core/types.js';
import { policyContext } from '../policy/context.js';
import type { KernelCore } from './context.js';
import type { EffectRequest } from './effect.js';
import { usageForPolicy, usageSnapshot } from './facts.js';
import type { Flow } from './flow.js';
import { evaluatePolicy } from './stages/policy.js';

/**
 * Drift as re-validation (ADR-019), inside the effect section: facts judged
 * `revalidate` moved, so the decision is asked again on the fresh facts. The
 * derived values must be the same, every invariant must still hold, and
 * Cedar (with usage as it stands now) must give the verdict the call was
 * admitted on: a permit; for an approved escalation, a permit or an
 * escalation again (a human has decided). Returns the refusals, each
 * `STATE_DRIFT` naming the facts that moved and the check that changed;
 * none: the decision holds.
 */
export async function revalidate(k: KernelCore, flow: Flow, cap: Capability, req: EffectRequest, mode: 'fresh' | 'approved', fresh: Facts, fields: string[]): Promise<ReasonDetail[]> {
  const named = fields.map((f) => `\`${f}\``).join(', ');
  const path = `facts.${fields[0] as string}`;
  const drift = (check: string, extra: Partial<ReasonDetail> = {}): ReasonDetail => ({ code: 'STATE_DRIFT', message: `${named} changed before the effect and ${check}`, path, ...extra });

  // The agent pinned the state it acted on: a moved version is drift, whatever the judgement.
  if (req.observedVersion !== undefined && fields.includes('version') && String(fresh['version']) !== req.observedVersion) {
    return [{ code: 'STATE_DRIFT', message: 'observed_version is no longer current', path: 'observed_version' }];
  }
  let values: Record<string, unknown>;
  try {
    values = { ...req.params, ...(cap.def.derive ? cap.def.derive(req.params, fresh) : {}) };
  } catch {
    return [drift('the derived values can no longer be computed', { invariant: 'derive' })];
  }
  if (canonicalJson(values) !== canonicalJson(req.values)) return [drift('the derived values changed')];

  const broken: ReasonDetail[] = [];
  for (const inv of cap.def.invariants ?? []) {
    let holds = false;
    try {
      holds = inv.check({ params: req.params, facts: fresh, values }) === true;
    } catch {
      holds = false; // an invariant that cannot be evaluated does not hold
    }
    if (!holds) broken.push(drift(`invariant \`${inv.id}\` no longer holds: ${inv.message}`, { invariant: inv.id }));
  }
  if (broken.length) return broken;

  const contract = k.contractOf(flow.agent);
  const grant = contract ? grantFor(contract, cap.def.id) : undefined;
  if (!contract || !grant) return [drift('the contract no longer grants the capability')];
  // A delegated call is decided as its root, on the root's usage (ADR-022).
  const governing = flow.chain?.[0] ?? { agent: flow.agent, contract };
  const usage = await usageSnapshot(k, governing.agent, cap.def.id, grantFor(governing.contract, cap.def.id)?.limits.budgets ?? []);
  const context = policyContext(cap, values, fresh, usageForPolicy(usage), k.deps.world.now());
  if (!context.ok) return context.details;
  const verdict = evaluatePolicy(k, contract, cap, context.context, flow.chain);
  const holds = verdict.kind === 'permit' || (mode === 'approved' && verdict.kind === 'escalate');
  return holds ? [] : [drift(`the policy verdict is now \`${verdict.kind}\`${verdict.policies.length ? ` (${verdict.policies.join(', ')})` : ''}`)];
}
