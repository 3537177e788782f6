/**
 * Beside scenario 2: the same governed no-op in process, in a store that
 * already holds many governed calls. Scenario 2 starts from an empty store,
 * where every index fits in SQLite's cache; a store in use has grown, and an
 * index written at a random place per call (a random key) then costs a page
 * read and a page written back at each checkpoint (ADR-047). The store is
 * grown by the kernel itself, with the calls that are measured after it.
 */
import { silentLogger } from '../../src/core/log.js';
import { systemWorld } from '../../src/core/world.js';
import { openRuntime } from '../../src/runtime.js';
import { benchWorkspace, type Sizes } from '../lib.js';

export interface GrownStoreResult {
  /** Governed calls in the store before the timed ones. */
  grownBy: number;
  calls: number;
  perCallUs: number;
  cpuPerCallUs: number;
}

export async function grownStoreScenario(sizes: Sizes): Promise<GrownStoreResult> {
  const rt = await openRuntime(benchWorkspace(), silentLogger, systemWorld, {});
  try {
    const call = (n: number) => rt.kernel.govern({ agent: 'bench', channel: 'stdio', intent: { capability: 'bench.noop', params: { n }, idempotency_key: `grown-${n}` } });
    for (let i = 0; i < sizes.grownBy; i++) {
      const o = await call(sizes.calls + i);
      if (o.verdict !== 'accepted') throw new Error(`grown store: call ${i} was ${o.verdict} (${o.reasons.join(', ')})`);
    }
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < sizes.calls; i++) await call(i);
    const perCallUs = ((performance.now() - t0) / sizes.calls) * 1000;
    const cpu = process.cpuUsage(cpu0);
    return { grownBy: sizes.grownBy, calls: sizes.calls, perCallUs, cpuPerCallUs: (cpu.user + cpu.system) / sizes.calls };
  } finally {
    await rt.close();
  }
}
