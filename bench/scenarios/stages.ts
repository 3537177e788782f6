/**
 * Scenario 2: where a governed call's time goes. The kernel runs in this
 * process with the observer hooks the HTTP metrics use; transport is what a
 * stdio round trip adds on top of the in-process call.
 */
import { silentLogger } from '../../src/core/log.js';
import { systemWorld } from '../../src/core/world.js';
import { PIPELINE_STAGES, type PipelineStage } from '../../src/kernel/observer.js';
import { openRuntime } from '../../src/runtime.js';
import { benchWorkspace, type Sizes } from '../lib.js';

export interface StageResult {
  calls: number;
  perCallUs: number;
  /**
   * The mean of each third of the timed calls, in order. The first third
   * still carries V8 compiling the kernel's code; the last is nearer the
   * steady state of a server that has run for a while.
   */
  thirdsUs: number[];
  stages: Record<PipelineStage, number>;
}

export async function stageScenario(sizes: Sizes): Promise<StageResult> {
  const totals = Object.fromEntries(PIPELINE_STAGES.map((s) => [s, 0])) as Record<PipelineStage, number>;
  let counting = false;
  const rt = await openRuntime(benchWorkspace(), silentLogger, systemWorld, {
    observer: {
      now: () => performance.now(),
      stage: (stage, ms) => {
        if (counting) totals[stage] += ms;
      },
      decision: () => undefined,
    },
  });
  try {
    const call = (n: number) => rt.kernel.govern({ agent: 'bench', channel: 'stdio', intent: { capability: 'bench.noop', params: { n }, idempotency_key: `stage-${n}` } });
    for (let i = 0; i < sizes.warmup; i++) await call(1_000_000 + i);
    counting = true;
    const t0 = performance.now();
    const ends = thirdEnds(sizes.calls);
    const marks = [t0];
    for (let i = 0; i < sizes.calls; i++) {
      await call(i);
      if (ends.includes(i + 1)) marks.push(performance.now());
    }
    const perCallUs = (((marks.at(-1) as number) - t0) / sizes.calls) * 1000;
    const thirdsUs = ends.map((end, k) => (((marks[k + 1] as number) - (marks[k] as number)) / (end - (ends[k - 1] ?? 0))) * 1000);
    const stages = Object.fromEntries(PIPELINE_STAGES.map((s) => [s, (totals[s] / sizes.calls) * 1000])) as Record<PipelineStage, number>;
    return { calls: sizes.calls, perCallUs, thirdsUs, stages };
  } finally {
    rt.close();
  }
}

/** Where each third of `calls` timed calls ends (at least 3 calls, so that no third is empty). */
function thirdEnds(calls: number): number[] {
  if (calls < 3) throw new Error(`scenario 2 times at least 3 calls, not ${calls}`);
  return [1, 2, 3].map((k) => Math.round((calls * k) / 3));
}
