import type { Capability, Values } from '../capabilities/manifest.js';
import { grantFor, type Contract } from '../config/contract-schema.js';
import type { ConstraintRow } from '../store/port/index.js';

export interface StewardGate {
  id: string;
  reason: string;
}

/**
 * Steward gates of a contract, pure: conditions under which a permitted call
 * must still wait for a human. `executed` is the agent's count of executed
 * calls so far; `usageSum(window, field)` reads a rolling-window total.
 */
export function stewardGates(
  contract: Contract,
  cap: Capability,
  executed: number,
  usageSum: (window: string, field: string) => number,
  values: Values,
): StewardGate[] {
  const s = contract.stewards;
  const gates: StewardGate[] = [];
  if (s.side_effects?.includes(cap.def.sideEffect)) {
    gates.push({ id: 'steward.side_effect', reason: `${cap.def.sideEffect} capabilities need a human (steward gate)` });
  }
  if (s.every_n_calls !== undefined && (executed + 1) % s.every_n_calls === 0) {
    gates.push({ id: 'steward.every_n_calls', reason: `every ${s.every_n_calls}th call needs a human (steward gate)` });
  }
  for (const c of s.cumulative ?? []) {
    const add = values[c.sum];
    if (typeof add !== 'number') continue;
    if (usageSum(c.window, c.sum) + add > c.max) {
      gates.push({ id: `steward.cumulative.${c.sum}.${c.window}`, reason: `cumulative \`${c.sum}\` over ${c.window} passes ${c.max} (steward gate)` });
    }
  }
  return gates;
}

/**
 * The contract as an intervention has tightened it: each constrained cap is
 * the lower of the two. A capability granted through a glob gets an exact
 * grant of its own (the glob's, tightened), which then governs it.
 */
export function withConstraints(contract: Contract, capability: string, constraints: ConstraintRow[]): Contract {
  const grant = grantFor(contract, capability);
  if (!constraints.length || !grant) return contract;
  const max = { ...(grant.limits.max ?? {}) };
  for (const c of constraints) max[c.field] = Math.min(max[c.field] ?? Number.POSITIVE_INFINITY, c.max);
  const tightened = { ...grant, capability, limits: { ...grant.limits, max } };
  return { ...contract, grants: [tightened, ...contract.grants.filter((g) => g.capability !== capability)] };
}
