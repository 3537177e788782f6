/**
 * `npm run bench`: the price of governance, measured side by side in one run.
 * A bare SDK server with a no-op tool against Mandate governing a no-op
 * capability (full lineage durably recorded), both over stdio, each in its
 * own process, at 1 and 16 calls in flight. Prints a table, writes JSON.
 * `--smoke` runs a few calls only, so CI keeps the harness from rotting.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const smoke = process.argv.includes('--smoke');
const CALLS = smoke ? 50 : 3000;
const WARMUP = smoke ? 10 : 300;
const MAX_SECONDS = 60; // every loop is bounded in count and in time

interface Row {
  server: string;
  transport: string;
  inFlight: number;
  calls: number;
  callsPerSec: number;
  p50ms: number;
  p99ms: number;
}

function workspace(): string {
  const ws = join(mkdtempSync(join(tmpdir(), 'mandate-bench-')), 'ws');
  cpSync(join(root, 'templates/workspace'), ws, { recursive: true });
  writeFileSync(
    join(ws, 'capabilities/bench.mjs'),
    `export default function define({ z }) {
  return {
    id: 'bench.noop', version: '1.0.0', description: 'Does nothing; for benchmarks.', sideEffect: 'write',
    input: z.object({ n: z.number().int() }), output: z.object({ n: z.number().int() }),
    handler: (params) => ({ n: params.n }),
  };
}\n`,
  );
  mkdirSync(join(ws, 'contracts'), { recursive: true });
  writeFileSync(
    join(ws, 'contracts/bench.yaml'),
    'agent: bench\nversion: 1\nowner: bench@example.com\nmission: Benchmark the kernel.\nrole: agent\ngrants:\n  - capability: bench.noop\n',
  );
  writeFileSync(join(ws, 'mandate.yaml'), 'version: 1\nlog:\n  level: silent\n');
  return ws;
}

async function connect(command: string, args: string[]): Promise<Client> {
  const client = new Client({ name: 'bench', version: '1.0.0' });
  await client.connect(new StdioClientTransport({ command, args, stderr: 'ignore', env: { ...process.env, MANDATE_LOG_LEVEL: 'silent' } as Record<string, string> }));
  return client;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

async function measure(name: string, client: Client, call: (i: number) => Promise<unknown>, inFlight: number): Promise<Row> {
  let next = 0;
  const lat: number[] = [];
  const deadline = Date.now() + MAX_SECONDS * 1000;
  const worker = async (count: number, record: boolean) => {
    while (next < count && Date.now() < deadline) {
      const i = next++;
      const t0 = performance.now();
      await call(i);
      if (record) lat.push(performance.now() - t0);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, () => worker(WARMUP, false)));
  next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: inFlight }, () => worker(CALLS, true)));
  const seconds = (performance.now() - t0) / 1000;
  lat.sort((a, b) => a - b);
  void client;
  return { server: name, transport: 'stdio', inFlight, calls: lat.length, callsPerSec: lat.length / seconds, p50ms: percentile(lat, 50), p99ms: percentile(lat, 99) };
}

const rows: Row[] = [];
const ws = workspace();
try {
  const bare = await connect(process.execPath, [join(here, 'bare-server.js')]);
  const governed = await connect(process.execPath, [join(root, 'dist/src/cli/main.js'), 'serve', '--stdio', '--agent', 'bench', '-w', ws]);
  let run = 0;
  const bareCall = (i: number) => bare.callTool({ name: 'noop', arguments: { n: i } });
  const governedCall = (i: number) => {
    const n = run * 1_000_000 + i;
    return governed.callTool({ name: 'invoke_capability', arguments: { capability: 'bench.noop', params: { n }, idempotency_key: `bench-${n}` } }).then((r) => {
      if ((r.structuredContent as { verdict?: string }).verdict !== 'accepted') throw new Error(`governed call not accepted: ${JSON.stringify(r.structuredContent)}`);
    });
  };
  for (const inFlight of [1, 16]) {
    rows.push(await measure('bare SDK', bare, bareCall, inFlight));
    run++;
    rows.push(await measure('mandate', governed, governedCall, inFlight));
    run++;
  }
  await bare.close();
  await governed.close();
} finally {
  rmSync(dirname(ws), { recursive: true, force: true });
}

const fmt = (n: number, d = 2) => n.toFixed(d);
console.log(`\nmachine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, node ${process.version}${smoke ? ' (smoke run)' : ''}`);
console.log('| server | transport | in flight | calls | calls/s | p50 ms | p99 ms | governed/bare (calls/s) |');
console.log('|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  const bare = rows.find((b) => b.server === 'bare SDK' && b.inFlight === r.inFlight && b.transport === r.transport);
  const ratio = r.server === 'mandate' && bare ? fmt(r.callsPerSec / bare.callsPerSec) : '';
  console.log(`| ${r.server} | ${r.transport} | ${r.inFlight} | ${r.calls} | ${fmt(r.callsPerSec, 0)} | ${fmt(r.p50ms, 3)} | ${fmt(r.p99ms, 3)} | ${ratio} |`);
}
const out = join(root, 'bench/results', `${new Date().toISOString().replace(/[:.]/g, '-')}${smoke ? '-smoke' : ''}.json`);
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, `${JSON.stringify({ smoke, node: process.version, cpus: cpus().length, rows }, null, 2)}\n`);
console.log(`\nresults written to ${out}`);
