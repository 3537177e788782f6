/**
 * A bounded run of the torture suite (`npm run torture`, docs/reliability.md):
 * kill -9 under load on stdio and HTTP with 1 and 4 calls in flight, fuzzed
 * tool arguments and raw input, and every kind of tamper against signed
 * checkpoints. The full run uses the same code with larger counts.
 */
import { describe, expect, it } from 'vitest';
import { formatFigures, missedTargets, runTorture, type TortureFigures } from '../scripts/torture/run.js';

describe('torture suite, small', () => {
  let figures: TortureFigures;

  it('runs every part and meets the targets this build can meet on its own', async () => {
    // The several-processes series and the soak have their own short runs: test/torture-fleet.test.ts, test/soak-under-load.test.ts.
    figures = await runTorture({ trialsPerSeries: 2, fuzzStdio: 1_000, fuzzHttp: 200, tampersPerKind: 2, fleetRounds: 0, fleetRoundMs: 0, soakSeconds: 0 }, undefined, { fleet: false });
    // Printed so a failing run shows its figures.
    process.stderr.write(formatFigures(figures));
    expect(figures.crash.map((c) => `${c.transport}/${c.inFlight}`)).toEqual(['stdio/1', 'stdio/4', 'http/1', 'http/4']);
    expect(figures.crash.every((c) => c.trials === 2 && c.calls > 0)).toBe(true);
    // A kill can come before a call is answered; over four series some are.
    expect(figures.crash.reduce((n, c) => n + c.acknowledged, 0)).toBeGreaterThan(0);
    expect(figures.fuzz.map((f) => f.inputs)).toEqual([1_000, 200]);
    expect(figures.tamper.every((t) => t.trials === 2)).toBe(true);
    // 0 lost, 0 chain failures, 0 crashes, no effect without a record; fuzzing: 0 crashes, 0 INTERNAL_ERROR, 0 5xx; 100 % of tampers detected.
    expect(missedTargets(figures)).toEqual([]);
  }, 300_000);

  it('one call in flight: nothing doubled, no answer contradicts the book', () => {
    for (const c of figures.crash.filter((x) => x.inFlight === 1)) {
      expect({ at: c.transport, doubled: c.doubled, mismatched: c.mismatched }).toEqual({ at: c.transport, doubled: 0, mismatched: 0 });
    }
  });

  it('truncation, forged appends and re-hashes pass the chain check alone and are caught only by the checkpoints', () => {
    for (const kind of ['truncate', 'forged_append', 'truncate_and_forge', 'rehash_from'] as const) {
      const t = figures.tamper.find((x) => x.kind === kind);
      expect({ kind, chainAlone: t?.detectedByChainAlone, withCheckpoints: t?.detected }).toEqual({ kind, chainAlone: 0, withCheckpoints: 2 });
    }
  });
});
