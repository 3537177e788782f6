import type { Capability, Values } from '../../capabilities/manifest.js';
import { grantFor, windowMs, type Contract } from '../../config/contract-schema.js';
import { canonicalJson } from '../../core/canonical.js';
import type { ReasonDetail } from '../../core/types.js';
import { policyContext } from '../../policy/context.js';
import { CALLS_FIELD } from '../../store/port/index.js';
import type { KernelCore } from '../context.js';
import { ancestorsAllow } from '../delegation/call-checks.js';
import { usageKey, validateIntent, type UsageSnapshot } from '../dim.js';
import { resolveFacts, usageForPolicy, usageSnapshot } from '../facts.js';
import type { Flow } from '../flow.js';
import { evaluatePolicy, policyReasons } from '../stages/policy.js';
import { stewardGates, withConstraints } from '../stewards.js';
import { stepVariants, type PlanRequest } from './request.js';

/**
 * The steps still to run of a plan decided again (an approval, a changed
 * resume): `req.steps` are the plan's steps from `offset` on, and `done`
 * the totals of those that ran.
 */
export interface Remainder {
  offset: number;
  done: Record<string, Record<string, number>>;
}

/** What deciding a plan as a whole found, step by step. */
export interface WholeVerdict {
  /** Refusals, each path `steps.<k>.…` (or `budgets.<j>`): any one rejects the plan. */
  rejected: ReasonDetail[];
  /** Why a human must decide, one line per escalating step: the plan escalates once. */
  escalations: string[];
  policies: string[];
  /** Each step's params as decided (the worst case of its bounds), for matching calls later. */
  decided: Values[];
  /** The facts each step was decided on (its first combination), JSON; a call finds them moved: STATE_DRIFT. */
  facts: (string | null)[];
  /** Planned totals per capability: calls and every field a budget sums. */
  totals: Record<string, Record<string, number>>;
}

/**
 * Decides a plan as if its steps ran in sequence: each passes DIM, the
 * ancestors' contracts and Cedar on facts read now and on usage that counts
 * the steps before it, so steps that each fit a windowed budget but together
 * do not are refused before anything runs. A bounded step is decided on each
 * combination of its worst-case values.
 */
export async function decideWhole(k: KernelCore, flow: Flow, contract: Contract, req: PlanRequest, now: number, rest: Remainder = { offset: 0, done: {} }): Promise<WholeVerdict> {
  const { store, workspace } = k.deps;
  // The totals start from the steps already done: the plan's budgets are over the whole plan.
  const out: WholeVerdict = { rejected: [], escalations: [], policies: [], decided: [], facts: [], totals: structuredClone(rest.done) };
  const governing = flow.chain?.[0] ?? { agent: flow.agent, contract };
  const base = new Map<string, UsageSnapshot>();
  const added: Record<string, Record<string, number>> = {};
  const executed = await store.monitors.executed(governing.agent);
  for (const [j, step] of req.steps.entries()) {
    const i = j + rest.offset;
    const at = (d: ReasonDetail): ReasonDetail => ({ ...d, path: `steps.${i}${d.path ? `.${d.path}` : ''}`, message: `step ${i + 1} (${step.capability}): ${d.message}` });
    const cap = workspace.capabilities.get(step.capability);
    const effective = cap ? withConstraints(contract, cap.def.id, await store.agents.constraints(flow.agent, cap.def.id, now)) : contract;
    const grant = cap ? grantFor(effective, cap.def.id) : undefined;
    const variants = stepVariants(step);
    if (!cap || !grant || !variants) {
      out.decided.push(step.params);
      out.facts.push(null);
      out.rejected.push(at(!cap ? { code: 'CAPABILITY_UNKNOWN', message: 'no such capability' } : !grant ? { code: 'CAPABILITY_NOT_GRANTED', message: 'your contract does not grant it' } : { code: 'PLAN_INVALID', message: 'its bounds allow too many combinations to decide' }));
      continue;
    }
    const mine = (added[cap.def.id] ??= {});
    if (!base.has(cap.def.id)) base.set(cap.def.id, await usageSnapshot(k, flow.agent, cap.def.id, grant.limits.budgets ?? []));
    const usage: UsageSnapshot = { ...base.get(cap.def.id) };
    for (const [key, v] of Object.entries(mine)) usage[key] = (usage[key] ?? 0) + v;
    let worst: Values | null = null;
    let seen: string | null = null;
    for (const params of variants) {
      const parsed = cap.def.input.safeParse(params);
      const facts = parsed.success ? await resolveFacts(k, cap, parsed.data, flow) : undefined;
      const dim = validateIntent({ intent: { capability: cap.def.id, params }, contract: effective, capability: cap, params: parsed, facts, usage, receivedAt: now, now });
      if (!dim.ok) {
        out.rejected.push(...dim.details.map(at));
        break;
      }
      worst ??= dim.values;
      seen ??= canonicalJson(dim.facts);
      const above = await ancestorsAllow(k, flow.chain, cap, dim.values);
      if (above.details.length) {
        out.rejected.push(...above.details.map(at));
        break;
      }
      const context = policyContext(cap, dim.values, dim.facts, usageForPolicy(above.rootUsage ?? usage), now);
      if (!context.ok) {
        out.rejected.push(...context.details.map(at));
        break;
      }
      const verdict = evaluatePolicy(k, contract, cap, context.context, flow.chain);
      out.policies.push(...verdict.policies);
      if (verdict.kind === 'forbid' || verdict.kind === 'no_permit' || verdict.kind === 'error') {
        out.rejected.push(at({ code: policyReasons(verdict)[0] ?? 'POLICY_NO_PERMIT', message: verdict.kind === 'forbid' ? `forbidden by ${verdict.policies.join(', ')}` : 'no policy permits it' }));
        break;
      }
      const sums = async (window: string, field: string) => (await store.usage.sum(governing.agent, cap.def.id, field, windowMs(window), now)) + (mine[usageKey(window, field)] ?? 0);
      const cumulative = new Map<string, number>();
      for (const c of governing.contract.stewards.cumulative ?? []) cumulative.set(usageKey(c.window, c.sum), await sums(c.window, c.sum));
      const gates = stewardGates(governing.contract, cap, executed + j, (w, f) => cumulative.get(usageKey(w, f)) ?? 0, dim.values);
      const reasons = [...(verdict.kind === 'escalate' ? verdict.reasons : []), ...gates.map((g) => g.reason)];
      if (reasons.length) out.escalations.push(`step ${i + 1} (${step.capability}): ${[...new Set(reasons)].join('; ')}`);
      out.policies.push(...gates.map((g) => g.id));
    }
    const first = cap.def.input.safeParse(variants[0]);
    out.decided.push(first.success ? first.data : step.params);
    // Only an exact step's facts are its own: a bounded one's depend on the values the call will choose.
    out.facts.push(Object.keys(step.bounds ?? {}).length ? null : seen);
    if (worst) accumulate(governing.contract, grant.limits.budgets ?? [], req, cap, worst, mine, (out.totals[cap.def.id] ??= {}));
  }
  out.rejected.push(...planBudgets(req, out.totals));
  out.policies = [...new Set(out.policies)];
  out.escalations = [...new Set(out.escalations)];
  return out;
}

/** Adds a step's worst case to the usage the later steps are decided on, and to the plan's totals. */
function accumulate(governing: Contract, budgets: { window: string; sum?: string | undefined }[], req: PlanRequest, cap: Capability, values: Values, usage: Record<string, number>, totals: Record<string, number>): void {
  const windows = new Set([...budgets.map((b) => b.window), ...(governing.stewards.cumulative ?? []).map((c) => c.window)]);
  const fields = new Set([...budgets.flatMap((b) => (b.sum ? [b.sum] : [])), ...(governing.stewards.cumulative ?? []).map((c) => c.sum), ...req.budgets.filter((b) => b.capability === cap.def.id).flatMap((b) => (b.sum ? [b.sum] : []))]);
  for (const w of windows) {
    usage[usageKey(w, CALLS_FIELD)] = (usage[usageKey(w, CALLS_FIELD)] ?? 0) + 1;
    for (const f of fields) if (typeof values[f] === 'number') usage[usageKey(w, f)] = (usage[usageKey(w, f)] ?? 0) + (values[f] as number);
  }
  totals['calls'] = (totals['calls'] ?? 0) + 1;
  for (const f of fields) if (typeof values[f] === 'number') totals[f] = (totals[f] ?? 0) + (values[f] as number);
}

/** The plan's own budgets against its planned totals (worst case). */
function planBudgets(req: PlanRequest, totals: Record<string, Record<string, number>>): ReasonDetail[] {
  const out: ReasonDetail[] = [];
  req.budgets.forEach((b, j) => {
    const t = totals[b.capability] ?? {};
    if (b.max_calls !== undefined && (t['calls'] ?? 0) > b.max_calls) out.push({ code: 'BUDGET_EXCEEDED', message: `the plan makes ${t['calls']} calls of ${b.capability}, over its budget of ${b.max_calls}`, path: `budgets.${j}` });
    if (b.sum !== undefined && b.max !== undefined && (t[b.sum] ?? 0) > b.max) out.push({ code: 'BUDGET_EXCEEDED', message: `the plan's \`${b.sum}\` of ${b.capability} totals ${t[b.sum]}, over its budget of ${b.max}`, path: `budgets.${j}` });
  });
  return out;
}
