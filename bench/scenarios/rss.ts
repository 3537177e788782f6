/** Scenario 5: the governed server's resident memory before and after many calls. */
import { benchWorkspace, governedStdio, measure, noopCall, rssMiB, type Sizes } from '../lib.js';

export interface RssResult {
  calls: number;
  beforeMiB: number;
  afterMiB: number;
  samples: { calls: number; rssMiB: number }[];
}

export async function rssScenario(sizes: Sizes): Promise<RssResult> {
  const g = await governedStdio(benchWorkspace());
  try {
    const call = noopCall(g.client, 'rss');
    // Warm up caches (prepared statements, JIT, pino, Cedar) before the baseline.
    await measure(call, 16, Math.min(2000, sizes.rssCalls), 0);
    const beforeMiB = rssMiB(g.pid);
    const steps = 10;
    const per = Math.ceil(sizes.rssCalls / steps);
    const samples: RssResult['samples'] = [];
    let done = 0;
    for (let s = 0; s < steps; s++) {
      const offset = 10_000_000 + done;
      const r = await measure((i) => call(offset + i), 16, per, 0);
      done += r.calls;
      samples.push({ calls: done, rssMiB: rssMiB(g.pid) });
    }
    return { calls: done, beforeMiB, afterMiB: samples[samples.length - 1]?.rssMiB ?? Number.NaN, samples };
  } finally {
    await g.client.close();
  }
}
