import type { Capability, Values } from '../../capabilities/manifest.js';
import { grantFor } from '../../config/contract-schema.js';
import type { ReasonDetail } from '../../core/types.js';
import type { Op } from '../../store/port/index.js';
import type { KernelCore } from '../context.js';
import { contractPeriod } from '../contract-period.js';
import { recheckLimits, type UsageSnapshot } from '../dim.js';
import { usageAdmitted, usageReturned, usageSnapshot } from '../facts.js';
import { statusCode } from '../status.js';
import { withConstraints } from '../stewards.js';
import { chainStanding, type Chain, type Link } from './chain.js';
import { verifyToken } from './token.js';

/** The ancestors of a chain's caller, nearest first (the caller's own link is checked by the ordinary stages). */
export function ancestors(chain: Chain | undefined): Link[] {
  return chain && chain.length > 1 ? chain.slice(0, -1).reverse() : [];
}

/**
 * Standing of a delegated caller, before anything else: every sub-mandate of
 * its chain live and unexpired, and every ancestor active (not paused,
 * suspended or terminated, nor its part of this flow) and within its
 * contract's period. An intervention on an ancestor stops its whole subtree.
 */
export async function chainHolds(k: KernelCore, chain: Chain, caller: string, dfid: string, now: number): Promise<ReasonDetail[]> {
  const lapsed = chainStanding(chain, caller, now);
  if (lapsed.length) return lapsed;
  for (const link of ancestors(chain)) {
    const status = await k.deps.store.agents.status(link.agent);
    if (status !== 'active') return [{ code: statusCode(status), message: `its ancestor \`${link.agent}\` is ${status}`, path: `delegation.${link.agent}` }];
    const flowStatus = await k.deps.store.agents.flowStatus(dfid, link.agent);
    if (flowStatus !== 'active') return [{ code: flowStatus === 'paused' ? 'FLOW_PAUSED' : 'FLOW_TERMINATED', message: `this flow is ${flowStatus} for its ancestor \`${link.agent}\``, path: `delegation.${link.agent}` }];
    const period = contractPeriod(link.contract, now);
    if (period.length) return period.map((d) => ({ ...d, path: `delegation.${link.agent}.${d.path ?? ''}` }));
  }
  return [];
}

/**
 * The call as if each ancestor made it: each must hold the capability under
 * its contract as constrained now, and the values must pass its limits and
 * its budgets on its own usage (which counts its whole subtree's spend).
 * Returns the refusals, each naming the ancestor, and the root's usage (what
 * Cedar, deciding as the root, sees).
 */
export async function ancestorsAllow(k: KernelCore, chain: Chain | undefined, cap: Capability, values: Values): Promise<{ details: ReasonDetail[]; rootUsage: UsageSnapshot | null }> {
  const details: ReasonDetail[] = [];
  let rootUsage: UsageSnapshot | null = null;
  const now = k.deps.world.now();
  for (const link of ancestors(chain)) {
    const constrained = withConstraints(link.contract, cap.def.id, await k.deps.store.agents.constraints(link.agent, cap.def.id, now));
    const grant = grantFor(constrained, cap.def.id);
    if (!grant) {
      details.push({ code: 'CAPABILITY_NOT_GRANTED', message: `its ancestor \`${link.agent}\` no longer holds \`${cap.def.id}\``, path: `delegation.${link.agent}` });
      continue;
    }
    const usage = await usageSnapshot(k, link.agent, cap.def.id, grant.limits.budgets ?? []);
    if (!link.row) rootUsage = usage;
    for (const d of recheckLimits(grant, values, usage)) details.push({ ...d, message: `as its ancestor \`${link.agent}\`: ${d.message}`, path: `delegation.${link.agent}.${d.path ?? ''}` });
  }
  return { details, rootUsage };
}

/**
 * Budgets carved, not copied: the ops that admit the call against every
 * ancestor's budgets and add its usage to each, for the same pre-effect
 * commit as the caller's own (ADR-019's `usage.admit`), so concurrent
 * children can never take an ancestor past its limit.
 */
export function ancestorsUsage(k: KernelCore, chain: Chain | undefined, cap: Capability, values: Values, at: number, returned = false): Op[] {
  const ops: Op[] = [];
  for (const link of ancestors(chain)) {
    const budgets = grantFor(link.contract, cap.def.id)?.limits.budgets ?? [];
    ops.push(...(returned ? usageReturned(k, link.agent, cap.def.id, budgets, values, at) : usageAdmitted(k, link.agent, cap.def.id, budgets, values, at)));
  }
  return ops;
}

/**
 * A delegation token presented with a call (ADR-022): its whole chain of
 * blocks verified against the workspace key and authorized on this call's
 * capability, values and time; it must be this agent's and derive from the
 * sub-mandate it holds now (a revoked link's tokens are refused before this,
 * with the chain). Every other check applies as without a token. `path`
 * names where the token came from: `_meta` or the Authorization header.
 */
export async function tokenRefusal(k: KernelCore, flow: { agent: string; chain?: Chain | undefined }, token: string, capability: string, values: Values, path: string): Promise<ReasonDetail | null> {
  const refuse = (message: string): ReasonDetail => ({ code: 'DELEGATION_TOKEN_INVALID', message, path });
  if (!k.deps.tokenKey) return refuse('this workspace has no signing key, so it accepts no delegation tokens');
  const v = await verifyToken(token, k.deps.tokenKey, { capability, values, now: k.deps.world.now() });
  if (!v.ok) return refuse(v.message);
  if (v.agent !== flow.agent) return refuse(`the token is for \`${v.agent}\`, not for this agent`);
  const held = flow.chain?.at(-1)?.row?.id;
  if (held !== v.delegationId) return refuse('the token derives from a sub-mandate this agent does not hold');
  return null;
}
