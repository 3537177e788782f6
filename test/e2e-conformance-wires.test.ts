/**
 * The MCP conformance suite's 0.2 line (mcp-conformance-next) at both wires
 * Mandate serves, each revision's requirements at that revision's wire
 * (`--requirements 2025-11-25`, `--requirements 2026-07-28`), against
 * `mandate serve --http` through scripts/conformance.ts: every scenario and
 * check in conformance/expected-passes.yml passes (no regression), and the
 * tasks extension's generic checks pass on 2026-07-28.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { judgeWire, readExpectedPasses, runConformance, WIRES, type Wire, type WireVerdict } from '../scripts/conformance.js';
import { assertBuilt } from './helpers/e2e.js';
import { NODE22_CLIENTS, requires } from './helpers/requires.js';

const need = await requires(import.meta.url, [NODE22_CLIENTS]);

describe.skipIf(need.skip)(need.title('MCP conformance suite 0.2, server mode, at the 2025-11-25 and 2026-07-28 wires'), () => {
  const verdicts = {} as Record<Wire, WireVerdict>;
  beforeAll(async () => {
    assertBuilt();
    const expected = readExpectedPasses();
    for (const wire of WIRES) verdicts[wire] = judgeWire(wire, await runConformance({ requirements: wire }), expected[wire]);
  }, 400_000);

  it.each(WIRES)('at %s every expected scenario and check passes', (wire) => {
    const v = verdicts[wire];
    expect(v.ran, `${wire}: the suite ran no scenario`).toBeGreaterThan(20);
    expect(v.regressions, `${wire}: expected to pass`).toEqual([]);
  });

  it('on 2026-07-28 the tasks extension is advertised, gated with -32021, and an unknown task is -32602', () => {
    expect(verdicts['2026-07-28'].checksPassed).toEqual(
      expect.arrayContaining([
        'tasks-capability-negotiation/tasks-extension-advertised',
        'tasks-capability-negotiation/sep-2663-tasks-methods-non-declaring',
        'tasks-dispatch-and-envelope/sep-2663-tasks-get-invalid-task-id-32602',
      ]),
    );
  });
});
