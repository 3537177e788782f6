import { grantFor, plansOf, windowMs } from '../config/contract-schema.js';
import { hashOf } from '../core/canonical.js';
import type { Intent } from '../core/types.js';
import { IdempotencyKeySchema } from '../core/wire.js';
import { CALLS_FIELD, isLive, usageAheadKey, windowStart, type AgentStatus, type ConstraintRow, type FlowStatus, type IdempotencyRecord, type PlanRow, type ReadAhead, type ReadAheadRequest, type StorePort } from '../store/port/index.js';
import type { KernelCore } from './context.js';
import { next, type ArrivedState, type ReceivedState, type Stage } from './stages/state.js';

/**
 * The reads a governed call makes before its first commit point. Each is the
 * port read of the same name; a store that reads ahead (PostgreSQL) answers
 * them from one round trip where the arguments are those it was asked for.
 */
export interface CallReads {
  status(agent: string): Promise<AgentStatus>;
  flowStatus(dfid: string, agent: string): Promise<FlowStatus>;
  peek(agent: string, key: string, now: number): Promise<IdempotencyRecord | null>;
  constraints(agent: string, capability: string, now: number): Promise<ConstraintRow[]>;
  executed(agent: string): Promise<number>;
  running(agent: string, now: number): Promise<PlanRow[]>;
  usageSum(agent: string, capability: string, field: string, windowMs: number, now: number): Promise<number>;
}

/** The call's reads: from its read ahead, or the port's one by one. */
export function readsOf(k: KernelCore, s: ArrivedState): CallReads {
  return s.reads ?? directReads(k.deps.store);
}

/** The port's reads, one by one. */
export function directReads(store: StorePort): CallReads {
  return {
    status: (agent) => store.agents.status(agent),
    flowStatus: (dfid, agent) => store.agents.flowStatus(dfid, agent),
    peek: (agent, key, now) => store.idempotency.peek(agent, key, now),
    constraints: (agent, capability, now) => store.agents.constraints(agent, capability, now),
    executed: (agent) => store.monitors.executed(agent),
    running: (agent, now) => store.plans.running(agent, now),
    usageSum: (agent, capability, field, ms, now) => store.usage.sum(agent, capability, field, ms, now),
  };
}

/**
 * Answers from `ahead` where a read's arguments are those asked for, else
 * reads. A read later than `ahead.at` applies its own `now` to what was read:
 * a key, plan or constraint that expired meanwhile is not live, as a read at
 * that moment would say; an earlier `now` (the clock stepped back) reads.
 */
export function readsFrom(ahead: ReadAhead, req: ReadAheadRequest, store: StorePort): CallReads {
  const direct = directReads(store);
  const mine = (agent: string, now?: number) => agent === req.agent && (now === undefined || now >= ahead.at);
  return {
    status: (agent) => (mine(agent) ? Promise.resolve(ahead.status) : direct.status(agent)),
    flowStatus: (dfid, agent) => (mine(agent) && dfid === req.dfid ? Promise.resolve(ahead.flowStatus) : direct.flowStatus(dfid, agent)),
    peek: (agent, key, now) => (mine(agent, now) && key === req.key ? Promise.resolve(ahead.key && isLive(ahead.key, now) ? ahead.key : null) : direct.peek(agent, key, now)),
    constraints: (agent, capability, now) =>
      mine(agent, now) && capability === req.capability && ahead.constraints ? Promise.resolve(ahead.constraints.filter((c) => c.expires_at > now)) : direct.constraints(agent, capability, now),
    executed: (agent) => (agent === req.steward && ahead.executed !== null ? Promise.resolve(ahead.executed) : direct.executed(agent)),
    running: (agent, now) => (mine(agent, now) && ahead.plans ? Promise.resolve(ahead.plans.filter((p) => p.expires_at > now)) : direct.running(agent, now)),
    usageSum: (agent, capability, field, ms, now) => {
      const total = mine(agent, now) && capability === req.capability ? ahead.usage.get(usageAheadKey(field, windowStart(now, ms))) : undefined;
      return total !== undefined ? Promise.resolve(total) : direct.usageSum(agent, capability, field, ms, now);
    },
  };
}

/**
 * Stage: where the store reads ahead, asks it at once for what the stages
 * after this one will read, foreseen from the raw intent as those stages will
 * read it (the key, the capability, its budgets). A guess that turns out
 * wrong costs only the read it did not answer, made then as before.
 */
export const readAhead: Stage<ReceivedState> = async (k, s) => {
  const { store, world } = k.deps;
  if (!store.readAhead) return next(s);
  const req = foresee(k, s, world.now());
  s.reads = readsFrom(await store.readAhead(req), req, store);
  return next(s);
};

/** What this call will read, as answerRepeats, validate and the steward gates will ask for it. */
function foresee(k: KernelCore, s: ReceivedState, now: number): ReadAheadRequest {
  const { call, flow } = s;
  const contract = k.contractOf(call.agent);
  const raw = (typeof call.intent === 'object' && call.intent !== null ? call.intent : {}) as Partial<Intent>;
  const capability = !s.isText && typeof raw.capability === 'string' ? k.deps.workspace.capabilities.get(raw.capability) : undefined;
  const grant = capability && contract ? grantFor(contract, capability.def.id) : undefined;
  const usage: ReadAheadRequest['usage'] = [];
  for (const b of grant?.limits.budgets ?? []) for (const field of [CALLS_FIELD, ...(b.sum ? [b.sum] : [])]) usage.push({ field, windowMs: windowMs(b.window) });
  for (const c of contract?.stewards.cumulative ?? []) usage.push({ field: c.sum, windowMs: windowMs(c.window) });
  return {
    agent: call.agent,
    dfid: flow.dfid,
    now,
    plans: !!contract && plansOf(contract).outside !== 'allow',
    key: grant && capability ? foreseenKey(s, capability, raw) : null,
    capability: grant && capability ? capability.def.id : null,
    usage,
    steward: grant && contract?.stewards.every_n_calls !== undefined ? call.agent : null,
  };
}

/** The key answerRepeats will fix: the caller's, else the one derived from the params as the capability reads them. */
function foreseenKey(s: ReceivedState, capability: NonNullable<ReturnType<KernelCore['deps']['workspace']['capabilities']['get']>>, raw: Partial<Intent>): string | null {
  const caller = raw.idempotency_key ?? s.call.metaIdempotencyKey;
  // A key of a shape the intake refuses ends the call before it is read; it is never sent to the store.
  if (typeof caller === 'string') return IdempotencyKeySchema.safeParse(caller).success ? caller : null;
  if (capability.def.sideEffect === 'read') return null;
  const params = capability.def.input.safeParse(raw.params);
  return `derived:${params.success ? hashOf({ agent: s.call.agent, capability: capability.def.id, params: params.data }) : s.requestHash}`;
}
