import type { Contract } from '../config/contract-schema.js';
import type { ReasonDetail } from '../core/types.js';

/**
 * Whether a contract is in effect at `now` (epoch ms): from `effective_from`
 * (inclusive) until `effective_until` (exclusive). Outside it, the agent is
 * refused with CONTRACT_NOT_EFFECTIVE; the detail names the bound.
 */
export function contractPeriod(contract: Pick<Contract, 'agent' | 'effective_from' | 'effective_until'>, now: number): ReasonDetail[] {
  const from = contract.effective_from;
  if (from !== undefined && now < Date.parse(from)) {
    return [{ code: 'CONTRACT_NOT_EFFECTIVE', message: `the contract of \`${contract.agent}\` takes effect at ${from}; it is now ${new Date(now).toISOString()}`, path: 'effective_from' }];
  }
  const until = contract.effective_until;
  if (until !== undefined && now >= Date.parse(until)) {
    return [{ code: 'CONTRACT_NOT_EFFECTIVE', message: `the contract of \`${contract.agent}\` ended at ${until}; it is now ${new Date(now).toISOString()}`, path: 'effective_until' }];
  }
  return [];
}
