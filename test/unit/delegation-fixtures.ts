// Shared fixtures of the delegation tests: alice may hand on transfers, two levels deep.
import type { Outcome } from '../../src/core/types.js';
import type { DelegationRequest } from '../../src/kernel/delegation/request.js';
import { call, type Env } from './helpers.js';

export const DELEGATING_ALICE = {
  'contracts/alice.yaml': (t: string) =>
    `${t}\ndelegation:\n  capabilities: [payments.transfer, payments.get_balance]\n  max_depth: 2\n  max_children: 3\n  default_expiry_minutes: 60\n  max_expiry_minutes: 240\n`,
};

/** A worker's request: transfers to acme-supplies up to `max` each, `total` a day. */
export function workerRequest(child: string, max = 5_000, total = 10_000, extra: Partial<DelegationRequest> = {}): Record<string, unknown> {
  return {
    child,
    purpose: `pay acme-supplies (${child})`,
    grants: [{ capability: 'payments.transfer', limits: { max: { amount_minor: max }, allowed: { payee: ['acme-supplies'] }, budgets: [{ window: '1d', sum: 'amount_minor', max: total }] } }],
    expires_in_minutes: 30,
    ...extra,
  };
}

export async function delegate(env: Env, parent: string, params: Record<string, unknown>, key?: string): Promise<Outcome> {
  return env.rt.kernel.govern(call(parent, { capability: 'delegation.create', params, ...(key ? { idempotency_key: key } : {}) }));
}
