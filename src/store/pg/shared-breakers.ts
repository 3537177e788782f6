import { randomUUID } from 'node:crypto';
import type { PgStorePort } from './port.js';

type CircuitState = 'closed' | 'open' | 'half_open';
interface Snapshot {
  state: CircuitState;
  failures: number;
  openedAt: number;
}

/** What sharing needs of the kernel's circuit breakers (src/kernel/breaker.ts). */
export interface ShareableBreakers {
  watch(fn: (capability: string, snapshot: Snapshot) => void): void;
  adopt(capability: string, snapshot: Snapshot, now: number): void;
}

/**
 * Shares circuit breakers across replicas (ADR-015): each local change is
 * written to the `breakers` table and announced on the `breaker` topic; every
 * other replica reads the row and adopts it. Decisions stay local and
 * synchronous (the effect asks its breaker without waiting on the network);
 * what is shared arrives within a notification's latency.
 */
export async function shareBreakers(breakers: ShareableBreakers, store: PgStorePort, now: () => number, onError: (err: unknown) => void): Promise<() => void> {
  const me = randomUUID();
  const read = async (capability?: string) =>
    (
      await store.volatilePool.query<{ capability: string; state: CircuitState; failures: number; opened_at: number }>(
        `SELECT capability, state, failures, opened_at FROM breakers${capability === undefined ? '' : ' WHERE capability = $1'}`,
        capability === undefined ? [] : [capability],
      )
    ).rows;
  for (const r of await read()) breakers.adopt(r.capability, { state: r.state, failures: r.failures, openedAt: r.opened_at }, now());
  breakers.watch((capability, s) => {
    store.volatilePool
      .query(
        `WITH up AS (INSERT INTO breakers (capability, state, failures, opened_at, updated_at) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (capability) DO UPDATE SET state = EXCLUDED.state, failures = EXCLUDED.failures, opened_at = EXCLUDED.opened_at, updated_at = EXCLUDED.updated_at RETURNING 1)
         SELECT pg_notify('mandate_breaker', $6) FROM up`,
        [capability, s.state, s.failures, s.openedAt, now(), `${me} ${capability}`],
      )
      .catch(onError);
  });
  const off = store.notifications.on('breaker', (payload) => {
    const [from, capability] = payload.split(' ', 2);
    if (from === me || !capability) return;
    read(capability)
      .then((rows) => {
        for (const r of rows) breakers.adopt(r.capability, { state: r.state, failures: r.failures, openedAt: r.opened_at }, now());
      })
      .catch(onError);
  });
  await store.notifications.ready();
  return off;
}
