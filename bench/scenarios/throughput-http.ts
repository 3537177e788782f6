/** Scenario 1 over Streamable HTTP (JSON response mode, stateful sessions) on loopback. */
import { BARE_HTTP_SERVER, benchWorkspace, CLI, connectHttp, createKey, measure, noopCall, type Sizes } from '../lib.js';
import { startUrlServer } from '../lib.js';
import type { ThroughputRow } from './throughput.js';

export async function throughputHttp(sizes: Sizes): Promise<ThroughputRow[]> {
  const rows: ThroughputRow[] = [];
  const ws = benchWorkspace();
  const key = createKey(ws, 'bench');
  const bareSrv = await startUrlServer([BARE_HTTP_SERVER], /listening on (\S+)/);
  const govSrv = await startUrlServer([CLI, 'serve', '--http', '--port', '0', '--json-response', '-w', ws, '--log-level', 'silent'], /\(mcp (\S+),/);
  try {
    for (const inFlight of [1, 16]) {
      // One session per worker pool, as a client would hold one.
      const bare = await connectHttp(bareSrv.url);
      const gov = await connectHttp(govSrv.url, { Authorization: `Bearer ${key}` });
      try {
        const b = await measure((i) => bare.callTool({ name: 'noop', arguments: { n: i } }), inFlight, sizes.calls, sizes.warmup, bareSrv.proc.pid);
        rows.push({ server: 'bare SDK', transport: 'http', inFlight, ...b });
        const g = await measure(noopCall(gov, `http${inFlight}`), inFlight, sizes.calls, sizes.warmup, govSrv.proc.pid);
        rows.push({ server: 'mandate', transport: 'http', inFlight, ...g });
      } finally {
        await bare.close();
        await gov.close();
      }
    }
  } finally {
    bareSrv.proc.kill();
    govSrv.proc.kill();
  }
  return rows;
}
