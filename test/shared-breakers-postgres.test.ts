// Circuit breakers shared by replicas on one PostgreSQL store (real database, two and three ports).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Breakers } from '../src/kernel/breaker.js';
import { openPgPort, type PgStorePort } from '../src/store/pg/port.js';
import { shareBreakers } from '../src/store/pg/shared-breakers.js';
import { FakeWorld } from './unit/helpers.js';
import { freshDatabase } from './helpers/postgres.js';
import { POSTGRES, requires } from './helpers/requires.js';

const need = await requires(import.meta.url, [POSTGRES]);
let db: Awaited<ReturnType<typeof freshDatabase>>;
const ports: PgStorePort[] = [];
const offs: (() => void)[] = [];
// A fresh database per attempt, so a retry starts from nothing.
beforeEach(async () => {
  db = await freshDatabase('breakers');
});
afterEach(async () => {
  for (const off of offs.splice(0)) off();
  await Promise.all(ports.splice(0).map((p) => p.close()));
  await db?.drop();
});

let now = 1_000_000;
async function replica(): Promise<Breakers> {
  const port = await openPgPort(db.url, new FakeWorld());
  ports.push(port);
  const b = new Breakers({ failureThreshold: 3, cooldownMs: 1_000 });
  offs.push(await shareBreakers(b, port, () => now, (err) => { throw err; }));
  return b;
}

async function eventually(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 100 && !check(); i++) await new Promise((r) => setTimeout(r, 50));
  expect(check(), what).toBe(true);
}

describe.skipIf(need.skip)(need.title('shared circuit breakers'), () => {
  it('failures add up across replicas; an open circuit refuses on every replica, a late starter loads it, one probe closes it everywhere', async () => {
    const a = await replica();
    const b = await replica();
    for (const [i, br] of [a, b].entries()) {
      expect(br.admit('cap', now).allowed).toBe(true);
      expect(br.report('cap', false, now)).toBeUndefined();
      await eventually(() => a.snapshot('cap').failures === i + 1 && b.snapshot('cap').failures === i + 1, `both replicas count ${i + 1} failure(s)`);
    }
    // Two failures seen fleet-wide; the third, on either replica, opens the circuit.
    expect(a.admit('cap', now).allowed).toBe(true);
    expect(a.report('cap', false, now)).toEqual({ capability: 'cap', from: 'closed', to: 'open' });
    await eventually(() => b.state('cap') === 'open', 'replica b sees the open circuit');
    expect(b.admit('cap', now).allowed).toBe(false);

    const c = await replica();
    expect(c.state('cap')).toBe('open');

    // After the cooldown one replica probes; the others hold off while it runs.
    now += 1_000;
    const probe = b.admit('cap', now);
    expect(probe).toMatchObject({ allowed: true, transition: { from: 'open', to: 'half_open' } });
    await eventually(() => a.admit('cap', now).allowed === false, 'replica a waits for the probe');
    expect(b.report('cap', true, now)).toEqual({ capability: 'cap', from: 'half_open', to: 'closed' });
    await eventually(() => a.state('cap') === 'closed' && c.state('cap') === 'closed', 'every replica closed');
    expect(c.admit('cap', now).allowed).toBe(true);
  });
});
