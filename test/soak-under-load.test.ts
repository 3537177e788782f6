/**
 * The short soak (`npm run torture -- --soak` runs it for minutes): governed
 * reads, writes and escalations at 16 in flight against one and three HTTP
 * replicas on SQLite and on PostgreSQL. No server may exit, print a fatal
 * line or stop uncleanly, and every call gets the answer its kind expects.
 * ADR-018: the V8 abort this was written to catch.
 */
import { describe, expect, it } from 'vitest';
import { formatSoak, SOAK_IN_FLIGHT } from '../scripts/torture/run.js';
import { soak, soakFailures, SOAK_MATRIX, type SoakFigures } from '../scripts/torture/soak.js';
import { POSTGRES, requires } from './helpers/requires.js';

const SECONDS = 15;
const need = await requires(import.meta.url, [POSTGRES]);

describe.skipIf(need.skip)(need.title('soak under load, short'), () => {
  const rows: SoakFigures[] = [];

  for (const c of SOAK_MATRIX) {
    it(`${c.store}, ${c.replicas} replica(s): every call answered as expected, no server lost`, async () => {
      const f = await soak({ ...c, inFlight: SOAK_IN_FLIGHT, seconds: SECONDS, maxCalls: 20_000 });
      rows.push(f);
      // Printed so a failing run shows its figures.
      process.stderr.write(`${formatSoak([f])}\n`);
      expect(soakFailures(f)).toEqual([]);
      expect(f.expected).toBe(f.calls);
      // The burst ran after the quiet start, with reads, writes and escalations all answered as expected.
      expect(f.burst.read).toBeGreaterThan(0);
      expect(f.burst.write).toBeGreaterThan(0);
      expect(f.burst.gated).toBeGreaterThan(0);
      expect(f.calls).toBeGreaterThan(f.burst.read + f.burst.write + f.burst.gated);
    }, 120_000);
  }

  it('catches a server that dies under load: its exit, and the calls left without an answer', async () => {
    const f = await soak({ store: 'sqlite', replicas: 1, inFlight: 4, seconds: 6, env: { SOAK_ABORT_AFTER_READS: '5' } });
    expect(f.exits).toBe(1);
    expect(f.unanswered).toBeGreaterThan(0);
    expect(soakFailures(f).join('\n')).toMatch(/1 server\(s\) exited under load[\s\S]*call\(s\) without an answer/);
  }, 60_000);

  it('ran the whole matrix', () => {
    expect(rows.map((r) => `${r.store}/${r.replicas}`)).toEqual(SOAK_MATRIX.map((c) => `${c.store}/${c.replicas}`));
  });
});
