/** Scenario 1: bare SDK no-op tool vs governed no-op capability, over stdio, at 1 and 16 in flight. */
import { BARE_SERVER, benchWorkspace, connectStdio, governedStdio, measure, noopCall, type Latency, type Sizes } from '../lib.js';

export interface ThroughputRow extends Latency {
  server: 'bare SDK' | 'mandate';
  transport: 'stdio' | 'http' | 'http 2026-07-28';
  inFlight: number;
}

export async function throughputStdio(sizes: Sizes): Promise<ThroughputRow[]> {
  const rows: ThroughputRow[] = [];
  const bare = await connectStdio(process.execPath, [BARE_SERVER]);
  const governed = await governedStdio(benchWorkspace());
  try {
    for (const inFlight of [1, 16]) {
      const b = await measure((i) => bare.client.callTool({ name: 'noop', arguments: { n: i } }), inFlight, sizes.calls, sizes.warmup, bare.pid);
      rows.push({ server: 'bare SDK', transport: 'stdio', inFlight, ...b });
      const g = await measure(noopCall(governed.client, `tp${inFlight}`), inFlight, sizes.calls, sizes.warmup, governed.pid);
      rows.push({ server: 'mandate', transport: 'stdio', inFlight, ...g });
    }
  } finally {
    await bare.client.close();
    await governed.client.close();
  }
  return rows;
}
