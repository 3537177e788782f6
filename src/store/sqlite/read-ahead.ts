import { usageAheadKey, type ReadAhead, type ReadAheadRequest } from '../port/port.js';
import { windowStart } from '../tables/usage.js';
import type { Store } from './store.js';

/**
 * A call's reads before its first commit point in one read transaction
 * (ADR-045), each answered as the port read of the same name would answer
 * it: one snapshot and one lock on the WAL instead of one per statement.
 */
export function sqliteReadAhead(store: Store): (req: ReadAheadRequest) => Promise<ReadAhead> {
  const read = store.db.transaction((req: ReadAheadRequest): ReadAhead => {
    const out: ReadAhead = { at: req.now, plans: null, status: store.agents.status(req.agent), flowStatus: store.agents.flowStatus(req.dfid, req.agent), key: null, constraints: null, usage: new Map(), executed: null };
    if (req.plans) out.plans = store.plans.running(req.agent, req.now);
    if (req.key !== null) out.key = store.idempotency.record(req.agent, req.key);
    if (req.capability !== null) {
      out.constraints = store.agents.constraints(req.agent, req.capability, req.now);
      for (const u of req.usage) out.usage.set(usageAheadKey(u.field, windowStart(req.now, u.windowMs)), store.usage.sum(req.agent, req.capability, u.field, u.windowMs, req.now));
    }
    if (req.steward !== null) out.executed = store.monitors.executed(req.steward);
    return out;
  });
  return async (req) => read.deferred(req);
}
