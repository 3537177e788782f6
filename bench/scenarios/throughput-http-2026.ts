/**
 * Scenario 1 at revision 2026-07-28 over HTTP (stateless, no session, one
 * server per request): a governed no-op call through `mandate serve --http`
 * vs a bare SDK v2 server, both called by an SDK v2 client pinned to 2026-07-28.
 */
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { join } from 'node:path';
import { benchWorkspace, CLI, createKey, measure, ROOT, startUrlServer, type Sizes } from '../lib.js';
import type { ThroughputRow } from './throughput.js';

const BARE_HTTP_2026_SERVER = join(ROOT, 'dist/bench/bare-http-2026-server.js');

async function connect2026(url: string, headers: Record<string, string> = {}): Promise<Client> {
  const client = new Client({ name: 'mandate-bench-2026', version: '1.0.0' }, { versionNegotiation: { mode: { pin: '2026-07-28' } } });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } }));
  return client;
}

export async function throughputHttp2026(sizes: Sizes): Promise<ThroughputRow[]> {
  const rows: ThroughputRow[] = [];
  const ws = benchWorkspace();
  const key = createKey(ws, 'bench');
  const bareSrv = await startUrlServer([BARE_HTTP_2026_SERVER], /listening on (\S+)/);
  const govSrv = await startUrlServer([CLI, 'serve', '--http', '--port', '0', '-w', ws, '--log-level', 'silent'], /\(mcp (\S+),/);
  try {
    for (const inFlight of [1, 16]) {
      const bare = await connect2026(bareSrv.url);
      const gov = await connect2026(govSrv.url, { Authorization: `Bearer ${key}` });
      try {
        const b = await measure((i) => bare.callTool({ name: 'noop', arguments: { n: i } }), inFlight, sizes.calls, sizes.warmup, bareSrv.proc.pid);
        rows.push({ server: 'bare SDK', transport: 'http 2026-07-28', inFlight, ...b });
        const g = await measure(
          async (i) => {
            const r = await gov.callTool({ name: 'invoke_capability', arguments: { capability: 'bench.noop', params: { n: i }, idempotency_key: `h26-${inFlight}-${i}` } });
            const verdict = (r.structuredContent as { verdict?: string } | undefined)?.verdict;
            if (verdict !== 'accepted') throw new Error(`governed call not accepted: ${JSON.stringify(r.structuredContent)}`);
          },
          inFlight,
          sizes.calls,
          sizes.warmup,
          govSrv.proc.pid,
        );
        rows.push({ server: 'mandate', transport: 'http 2026-07-28', inFlight, ...g });
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
