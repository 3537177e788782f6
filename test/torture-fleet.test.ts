/**
 * A short run of the torture suite's several-processes series (ADR-019,
 * `npm run torture`): built CLI processes on one SQLite workspace and HTTP
 * replicas on one PostgreSQL database, 4 transfers in flight each on one
 * account, with and without kill -9. The book must balance against the
 * store whatever the interleaving.
 */
import { describe, expect, it } from 'vitest';
import { fleetMissed, fleetRuns, formatFleet, type FleetFigures } from '../scripts/torture/fleet.js';
import { POSTGRES, requires } from './helpers/requires.js';

const need = await requires(import.meta.url, [POSTGRES]);

describe.skipIf(need.skip)(need.title('torture: several processes on one store, small'), () => {
  let figures: FleetFigures[] = [];

  it('three processes on one SQLite file and two and three PostgreSQL replicas, with and without kill -9: nothing accepted without its transfer, no transfer without an accepted decision, the book balances', async () => {
    figures = await fleetRuns(
      [
        { store: 'sqlite', processes: 3, kill: false },
        { store: 'sqlite', processes: 3, kill: true },
        { store: 'postgres', processes: 2, kill: true },
        { store: 'postgres', processes: 3, kill: false },
      ],
      { rounds: 2, roundMs: 1_000 },
    );
    process.stderr.write(`${formatFleet(figures)}\n`);
    expect(figures.map((f) => `${f.store}/${f.processes}/${f.kill}`)).toEqual(['sqlite/3/false', 'sqlite/3/true', 'postgres/2/true', 'postgres/3/false']);
    for (const f of figures) {
      // Every series moved money, and calls reached every process.
      expect(f.transfers).toBeGreaterThan(0);
      expect(f.accepted).toBe(f.transfers);
      expect(fleetMissed(f)).toEqual([]);
    }
  }, 280_000);

  it('budgets across three processes on one SQLite file and two PostgreSQL replicas are never exceeded, and they bind', async () => {
    const budget = { maxCalls: 25, maxSum: 120 };
    const runs = await fleetRuns(
      [
        { store: 'sqlite', processes: 3, kill: false, budget },
        { store: 'postgres', processes: 2, kill: false, budget },
      ],
      { rounds: 1, roundMs: 2_000 },
    );
    process.stderr.write(`${formatFleet(runs)}\n`);
    for (const f of runs) {
      expect(f.refused['BUDGET_EXCEEDED'] ?? 0).toBeGreaterThan(0);
      expect(f.budget?.transfers).toBeLessThanOrEqual(budget.maxCalls);
      expect(f.budget?.sum).toBeLessThanOrEqual(budget.maxSum);
      expect(fleetMissed(f)).toEqual([]);
    }
  }, 200_000);
});
