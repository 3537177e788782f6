import type { Capability, Facts, SchemaParse, Values } from '../capabilities/manifest.js';
import { grantFor, windowMs, type Contract, type Grant } from '../config/contract-schema.js';
import type { Intent, ReasonDetail } from '../core/types.js';
import { CALLS_FIELD } from '../store/port/index.js';

/** Usage totals the kernel read for this grant's budgets, keyed `${window}:${field}`. */
export type UsageSnapshot = Record<string, number>;

export function usageKey(window: string, field: string): string {
  return `${window}:${field}`;
}

export interface DimInput {
  intent: Intent;
  contract: Contract;
  capability: Capability | undefined;
  /** The capability's input schema parse of intent.params (done by the caller, before facts). */
  params: SchemaParse<Record<string, unknown>> | undefined;
  facts: { ok: true; facts: Facts } | { ok: false; message: string } | undefined;
  usage: UsageSnapshot;
  receivedAt: number;
  now: number;
}

export type DimResult =
  | { ok: true; capability: Capability; grant: Grant; params: Values; facts: Facts; values: Values }
  | { ok: false; details: ReasonDetail[]; grant?: Grant };

const FUTURE_SKEW_MS = 5 * 60_000;

/**
 * The Decision Integrity Module. Pure and deterministic: everything it needs
 * is in its input. Checks run in this fixed order, and every failure of a
 * stage is reported; a stage that later stages depend on stops the run.
 *   1 capability exists   2 contract grants it   3 params match the schema
 *   4 TTL                 5 facts resolved       6 observed_version current
 *   7 derived values      8 contract limits      9 budgets   10 invariants
 */
export function validateIntent(input: DimInput): DimResult {
  const { intent, contract, capability } = input;
  if (!capability) return fail([{ code: 'CAPABILITY_UNKNOWN', message: `no capability \`${intent.capability}\``, path: 'capability' }]);
  const grant = grantFor(contract, capability.def.id);
  if (!grant) return fail([{ code: 'CAPABILITY_NOT_GRANTED', message: `contract of \`${contract.agent}\` does not grant \`${capability.def.id}\``, path: 'capability' }]);

  const details: ReasonDetail[] = [];
  if (!input.params || !input.params.success) {
    for (const issue of input.params?.error.issues ?? []) {
      const sent = issue.path.length ? valueAt(intent.params, issue.path) : undefined;
      details.push({ code: 'SCHEMA_INVALID', message: sent === undefined ? issue.message : `${issue.message}; sent ${shown(sent)}`, path: ['params', ...issue.path.map(String)].join('.') });
    }
    return fail(details.length ? details : [{ code: 'SCHEMA_INVALID', message: 'params missing', path: 'params' }], grant);
  }
  const params = input.params.data;

  details.push(...checkTtl(intent, contract, input.receivedAt, input.now));

  if (!input.facts || !input.facts.ok) {
    details.push({ code: 'FACTS_UNAVAILABLE', message: input.facts ? input.facts.message : 'facts were not resolved' });
    return fail(details, grant);
  }
  const facts = input.facts.facts;
  if (intent.observed_version !== undefined && String(facts['version']) !== intent.observed_version) {
    details.push({ code: 'STATE_DRIFT', message: 'observed_version is no longer current', path: 'observed_version' });
  }

  let values: Values;
  try {
    values = { ...params, ...(capability.def.derive ? capability.def.derive(params, facts) : {}) };
  } catch (err) {
    details.push({ code: 'INVARIANT_VIOLATED', message: `derive failed: ${(err as Error).message}`, invariant: 'derive' });
    return fail(details, grant);
  }

  details.push(...checkLimits(grant, values));
  details.push(...checkBudgets(grant, values, input.usage));

  for (const inv of capability.def.invariants ?? []) {
    let holds = false;
    try {
      holds = inv.check({ params, facts, values }) === true;
    } catch {
      holds = false; // an invariant that cannot be evaluated does not hold
    }
    if (!holds) details.push(...explained(inv, { params, facts, values }));
  }
  return details.length ? fail(details, grant) : { ok: true, capability, grant, params, facts, values };
}

/**
 * The limits and budgets part of DIM alone, for resuming an approved
 * escalation: the contract (as constrained now) and the usage since the
 * escalation still bind the approved request.
 */
export function recheckLimits(grant: Grant, values: Values, usage: UsageSnapshot): ReasonDetail[] {
  return [...checkLimits(grant, values), ...checkBudgets(grant, values, usage)];
}

/** A failed invariant's refusals: its own detailed ones if it explains itself, else its code and message. */
function explained(inv: NonNullable<Capability['def']['invariants']>[number], input: { params: Values; facts: Facts; values: Values }): ReasonDetail[] {
  const plain: ReasonDetail = { code: inv.code ?? 'INVARIANT_VIOLATED', message: inv.message, invariant: inv.id };
  if (!inv.explain) return [plain];
  try {
    const details = inv.explain(input);
    return details.length ? details : [plain];
  } catch {
    return [plain];
  }
}

function fail(details: ReasonDetail[], grant?: Grant): DimResult {
  return grant ? { ok: false, details, grant } : { ok: false, details };
}

function checkTtl(intent: Intent, contract: Contract, receivedAt: number, now: number): ReasonDetail[] {
  let base = receivedAt;
  if (intent.created_at !== undefined) {
    const parsed = Date.parse(intent.created_at);
    if (Number.isNaN(parsed)) return [{ code: 'SCHEMA_INVALID', message: 'created_at is not an ISO 8601 time', path: 'created_at' }];
    if (parsed > receivedAt + FUTURE_SKEW_MS) return [{ code: 'SCHEMA_INVALID', message: 'created_at is in the future', path: 'created_at' }];
    base = parsed;
  }
  const ttl = intent.ttl_seconds ?? contract.default_ttl_seconds;
  return now > base + ttl * 1000 ? [{ code: 'TTL_EXPIRED', message: `intent older than its ttl of ${ttl}s`, path: 'ttl_seconds' }] : [];
}

/**
 * A value as the agent sent it, for the answer to that agent (never for logs
 * or the ledger, which keep codes and paths only). Bounded in length.
 */
function shown(v: unknown): string {
  const text = JSON.stringify(v) ?? String(v);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** The value at a schema issue's path in what the agent sent, if there is one. */
function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let at = root;
  for (const key of path) {
    if (at === null || typeof at !== 'object' || !Object.hasOwn(at, key)) return undefined;
    at = (at as Record<PropertyKey, unknown>)[key];
  }
  return at;
}

function checkLimits(grant: Grant, values: Values): ReasonDetail[] {
  const out: ReasonDetail[] = [];
  const { max = {}, min = {}, allowed = {} } = grant.limits;
  for (const [field, cap] of Object.entries(max)) {
    const v = values[field];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isFinite(v) || v > cap) out.push({ code: 'CONTRACT_LIMIT_EXCEEDED', message: `\`${field}\` is ${shown(v)}, above its cap of ${cap}`, path: field });
  }
  for (const [field, floor] of Object.entries(min)) {
    const v = values[field];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < floor) out.push({ code: 'CONTRACT_LIMIT_EXCEEDED', message: `\`${field}\` is ${shown(v)}, below its floor of ${floor}`, path: field });
  }
  for (const [field, list] of Object.entries(allowed)) {
    const v = values[field];
    if (v === undefined) continue;
    if (!list.some((a) => a === v)) out.push({ code: 'CONTRACT_LIMIT_EXCEEDED', message: `\`${field}\` is ${shown(v)}, not an allowed value; allowed: ${list.map(shown).join(', ')}`, path: field });
  }
  return out;
}

function checkBudgets(grant: Grant, values: Values, usage: UsageSnapshot): ReasonDetail[] {
  const out: ReasonDetail[] = [];
  for (const b of grant.limits.budgets ?? []) {
    windowMs(b.window); // validated by the contract schema; throws on a broken one
    if (b.max_calls !== undefined && (usage[usageKey(b.window, CALLS_FIELD)] ?? 0) + 1 > b.max_calls) {
      out.push({ code: 'BUDGET_EXCEEDED', message: `more than ${b.max_calls} calls in ${b.window} (${usage[usageKey(b.window, CALLS_FIELD)] ?? 0} already)`, path: `budgets.${b.window}.calls` });
    }
    if (b.sum !== undefined && b.max !== undefined) {
      const add = values[b.sum];
      const amount = typeof add === 'number' && Number.isFinite(add) ? add : Number.NaN;
      if (Number.isNaN(amount) || (usage[usageKey(b.window, b.sum)] ?? 0) + amount > b.max) {
        const used = usage[usageKey(b.window, b.sum)] ?? 0;
        out.push({ code: 'BUDGET_EXCEEDED', message: `\`${b.sum}\` of ${shown(add)} would bring the ${b.window} total to ${Number.isNaN(amount) ? '(not a number)' : used + amount}, over ${b.max} (${used} already)`, path: `budgets.${b.window}.${b.sum}` });
      }
    }
  }
  return out;
}
