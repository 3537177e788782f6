// A pre-effect commit point as the kernel writes it, for store tests that commit units without a kernel.
import type { Op } from '../../src/store/port/index.js';

export const T = 1_800_000_000_000;
export const DFID = 'f'.repeat(32);

/** The lineage, key, flow count, budget admission and usage, the running mark. */
export function preEffect(decision: string, key: string, budget: { amount: number; max: number } = { amount: 1, max: 1000 }): Op[] {
  return [
    { op: 'event', event: { dfid: DFID, agent: 'alice', type: 'IntentReceived', decision_id: decision, data: {} } },
    { op: 'decision.open', id: decision, dfid: DFID, agent: 'alice', capability: 'c', request_hash: 'h', created_at: T },
    { op: 'key.reserve', record: { agent: 'alice', key, request_hash: 'h', state: 'in_flight', decision_id: decision, created_at: T, expires_at: T + 3_600_000 }, now: T },
    { op: 'flow.bump', dfid: DFID, max: 100 },
    { op: 'usage.admit', agent: 'alice', capability: 'c', at: T, budgets: [{ window: '1h', windowMs: 3_600_000, field: 'amount', amount: budget.amount, max: budget.max }] },
    { op: 'usage.add', agent: 'alice', capability: 'c', field: 'amount', amount: budget.amount, at: T },
    { op: 'decision.running', id: decision, runner: null, key, intent: { capability: 'c', params: {} } },
    { op: 'event', event: { dfid: DFID, agent: 'alice', type: 'ActionStarted', decision_id: decision, data: {} } },
  ];
}
