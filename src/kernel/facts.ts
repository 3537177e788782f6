import type { Capability, Facts, ReadyResult, Values } from '../capabilities/manifest.js';
import { windowMs, type Contract } from '../config/contract-schema.js';
import type { BudgetCheck, Op } from '../store/port/index.js';
import { CALLS_FIELD } from '../store/port/index.js';
import type { KernelCore } from './context.js';
import { usageKey, type UsageSnapshot } from './dim.js';
import type { Flow } from './flow.js';
import type { CallReads } from './read-ahead.js';

type Budgets = NonNullable<Contract['grants'][number]['limits']['budgets']>;

/** Longest a capability's readiness check may take (above the largest upstream start_timeout_ms). */
const READY_CEILING_MS = 130_000;

/** Reads the capability's facts under its deadline; a throw, a timeout or a non-object is a failure, never a guess. */
export async function resolveFacts(k: KernelCore, cap: Capability, params: Values, flow: Flow, signal?: AbortSignal): Promise<{ ok: true; facts: Facts } | { ok: false; message: string }> {
  if (!cap.def.facts) return { ok: true, facts: {} };
  const deadlineMs = cap.def.limits?.deadlineMs ?? k.deps.workspace.config.limits.default_deadline_ms;
  const controller = new AbortController();
  const onAbort = () => controller.abort();
  signal?.addEventListener('abort', onAbort, { once: true });
  let timer: NodeJS.Timeout | undefined;
  try {
    const facts = await Promise.race([
      Promise.resolve(cap.def.facts(params, { signal: controller.signal, dfid: flow.dfid, agent: flow.agent, workspaceDir: k.deps.workspace.dir, now: k.deps.world.now() })),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          controller.abort();
          reject(new Error('facts resolver timed out'));
        }, deadlineMs);
      }),
    ]);
    if (facts === null || typeof facts !== 'object' || Array.isArray(facts)) return { ok: false, message: 'facts resolver returned a non-object' };
    return { ok: true, facts: JSON.parse(JSON.stringify(facts)) as Facts };
  } catch (err) {
    return { ok: false, message: `facts resolver failed (${(err as Error)?.message === 'facts resolver timed out' ? 'timeout' : 'error'})` };
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  }
}

/**
 * A capability's readiness check. It bounds itself (the gateway: the
 * upstream's start_timeout_ms); READY_CEILING_MS is only a safety net. A
 * throw or a timeout is UPSTREAM_UNAVAILABLE.
 */
export async function checkReady(cap: Capability, signal?: AbortSignal): Promise<ReadyResult> {
  const controller = new AbortController();
  const onAbort = () => controller.abort();
  signal?.addEventListener('abort', onAbort, { once: true });
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      (cap.ready as NonNullable<Capability['ready']>)(controller.signal),
      new Promise<ReadyResult>((resolve) => {
        timer = setTimeout(() => {
          controller.abort();
          resolve({ ok: false, code: 'UPSTREAM_UNAVAILABLE', message: `\`${cap.def.id}\` was not ready within ${READY_CEILING_MS} ms` });
        }, READY_CEILING_MS);
      }),
    ]);
  } catch {
    return { ok: false, code: 'UPSTREAM_UNAVAILABLE', message: `\`${cap.def.id}\` could not be made ready` };
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  }
}

/** The rolling-window totals the budgets of a grant read. */
export async function usageSnapshot(k: KernelCore, agent: string, capability: string, budgets: Budgets, reads?: Pick<CallReads, 'usageSum'>): Promise<UsageSnapshot> {
  const sum: CallReads['usageSum'] = reads ? reads.usageSum : (...a) => k.deps.store.usage.sum(...a);
  const now = k.deps.world.now();
  const out: UsageSnapshot = {};
  for (const b of budgets) {
    for (const f of [CALLS_FIELD, ...(b.sum ? [b.sum] : [])]) out[usageKey(b.window, f)] = await sum(agent, capability, f, windowMs(b.window), now);
  }
  return out;
}

/** The ops that add an executed call's usage: its count, and each field a budget or a steward gate sums. */
export function usageOps(k: KernelCore, agent: string, capability: string, budgets: Budgets, values: Values, at: number): Op[] {
  const fields = new Set<string>();
  for (const b of budgets) if (b.sum) fields.add(b.sum);
  for (const c of k.contractOf(agent)?.stewards.cumulative ?? []) fields.add(c.sum);
  const ops: Op[] = [{ op: 'usage.add', agent, capability, field: CALLS_FIELD, amount: 1, at }];
  for (const f of fields) {
    const v = values[f];
    if (typeof v === 'number' && Number.isFinite(v)) ops.push({ op: 'usage.add', agent, capability, field: f, amount: v, at });
  }
  return ops;
}

/**
 * The ops that admit a call against its budgets and add its usage, for the
 * pre-effect commit: the store checks each window's total inside the commit
 * (ADR-019), so the usage a call is admitted on is the usage it adds to,
 * whatever other processes commit. An effect that then fails gives it back
 * (`usageReturned`); one a crash cut short keeps it counted (fail closed)
 * until it is settled as not applied (recovery.ts).
 */
export function usageAdmitted(k: KernelCore, agent: string, capability: string, budgets: Budgets, values: Values, at: number): Op[] {
  const checks: BudgetCheck[] = [];
  for (const b of budgets) {
    if (b.max_calls !== undefined) checks.push({ window: b.window, windowMs: windowMs(b.window), field: CALLS_FIELD, amount: 1, max: b.max_calls });
    if (b.sum !== undefined && b.max !== undefined) {
      const v = values[b.sum];
      checks.push({ window: b.window, windowMs: windowMs(b.window), field: b.sum, amount: typeof v === 'number' && Number.isFinite(v) ? v : Number.NaN, max: b.max });
    }
  }
  return [...(checks.length ? [{ op: 'usage.admit' as const, agent, capability, at, budgets: checks }] : []), ...usageOps(k, agent, capability, budgets, values, at)];
}

/** Gives back what `usageAdmitted` added, for an effect that did not happen. */
export function usageReturned(k: KernelCore, agent: string, capability: string, budgets: Budgets, values: Values, at: number): Op[] {
  return usageOps(k, agent, capability, budgets, values, at).map((op) => (op.op === 'usage.add' ? { ...op, amount: -op.amount } : op));
}

/** Usage as Cedar policies see it: `<field>_<window>`, calls as `calls_<window>`. */
export function usageForPolicy(usage: UsageSnapshot): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, v] of Object.entries(usage)) {
    const [window, field] = key.split(':') as [string, string];
    out[`${field === CALLS_FIELD ? 'calls' : field}_${window}`] = Math.round(v);
  }
  return out;
}
