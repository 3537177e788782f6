/**
 * `npm run bench`: the price of governance, measured side by side in one run.
 * Client and server are separate processes over real pipes; loopback only;
 * every loop bounded. Prints tables and writes bench/results/<date>.json.
 * `--smoke` runs each scenario small, so CI keeps the harness from rotting.
 * `--only a,b` runs some scenarios: throughput, stages, floor, grown, ledger, rss, policy, approval, store, pgtrips.
 * `--node <major>` runs it all on another Node line (bench/node-line.ts).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { WAL_CHECKPOINT_PAGES } from '../src/store/sqlite/db.js';
import { THREADED_VERIFY_MIN_EVENTS } from '../src/store/sqlite/verify-threads.js';
import { FULL, fmt, ROOT, SMOKE, table } from './lib.js';
import { benchOnNodeLine, otherNodeLine, RESULTS_DIR_ENV } from './node-line.js';
import { approvalScenario } from './scenarios/approval.js';
import { grownStoreScenario } from './scenarios/grown-store.js';
import { ledgerScenarios } from './scenarios/ledger.js';
import { pgTripsScenario } from './scenarios/pg-trips.js';
import { policyScenario } from './scenarios/policy.js';
import { rssScenario } from './scenarios/rss.js';
import { sqliteFloorScenario } from './scenarios/sqlite-floor.js';
import { stageScenario } from './scenarios/stages.js';
import { storeScenario } from './scenarios/store.js';
import { throughputHttp } from './scenarios/throughput-http.js';
import { throughputHttp2026 } from './scenarios/throughput-http-2026.js';
import { throughputStdio, type ThroughputRow } from './scenarios/throughput.js';
import { walFramesScenario } from './scenarios/wal-frames.js';

try {
  const line = otherNodeLine(process.argv);
  if (line !== null) {
    const at = process.argv.indexOf('--node');
    process.exit(await benchOnNodeLine(line, [...process.argv.slice(2, at), ...process.argv.slice(at + 2)]));
  }
} catch (err) {
  console.error(`bench: ${(err as Error).message}`);
  process.exit(1);
}

const smoke = process.argv.includes('--smoke');
const onlyArg = process.argv[process.argv.indexOf('--only') + 1];
const only = process.argv.includes('--only') && onlyArg ? new Set(onlyArg.split(',')) : null;
const sizes = smoke ? SMOKE : FULL;
const want = (name: string) => !only || only.has(name);
const results: Record<string, unknown> = {};

const machine = `${cpus().length} × ${cpus()[0]?.model?.trim() ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${process.platform}`;
console.log(`Mandate benchmarks${smoke ? ' (smoke run: small sizes, figures not meaningful)' : ''}\nmachine: ${machine}\n`);

/** Issue 22's target for the in-process governed no-op (scenario 2), mean µs. */
const IN_PROCESS_TARGET_US = 300;

let stdioMandateP50: number | undefined;
let inProcessUs: number | undefined;
if (want('throughput')) {
  const rows: ThroughputRow[] = [...(await throughputStdio(sizes)), ...(await throughputHttp(sizes)), ...(await throughputHttp2026(sizes))];
  stdioMandateP50 = rows.find((r) => r.server === 'mandate' && r.transport === 'stdio' && r.inFlight === 1)?.p50ms;
  results['throughput'] = rows;
  console.log('1. Throughput and latency: bare SDK no-op tool vs governed no-op capability (full lineage durably recorded)');
  console.log(
    table(
      ['server', 'transport', 'in flight', 'calls', 'calls/s', 'p50 ms', 'p99 ms', 'governed/bare calls/s', 'server CPU µs/call', 'bare/governed server CPU'],
      rows.map((r) => {
        const bare = rows.find((b) => b.server === 'bare SDK' && b.inFlight === r.inFlight && b.transport === r.transport);
        const governed = r.server === 'mandate' && bare;
        return [
          r.server,
          r.transport,
          r.inFlight,
          r.calls,
          fmt(r.callsPerSec, 0),
          fmt(r.p50ms, 3),
          fmt(r.p99ms, 3),
          governed ? fmt(r.callsPerSec / bare.callsPerSec) : '',
          fmt(r.serverCpuUs ?? Number.NaN, 0),
          governed ? fmt((bare.serverCpuUs ?? Number.NaN) / (r.serverCpuUs ?? Number.NaN)) : '',
        ];
      }),
    ),
  );
  console.log('   server CPU: user + system time of the server process over the timed calls (Linux /proc), per call; the ratio is the bare server\'s over the governed one\'s, so 1.00 would mean governance costs the server nothing');
  console.log();
}

if (want('stages')) {
  const r = await stageScenario(sizes);
  results['stages'] = r;
  inProcessUs = r.perCallUs;
  const what: Record<string, string> = {
    received: 'IntentReceived journaled (not yet committed); identity, agent and flow status, effective period',
    checks: 'intent shape, params parse, key, repeat check',
    facts: 'the facts resolver (none for the no-op)',
    dim: 'usage reads, constraints, DIM (pure), typed policy context; IntentValidated journaled',
    policy: 'Cedar evaluation (the wasm call, with only the attributes the policies name; a request identical to one answered reuses its verdict, ADR-037)',
    escalate: 'escalations only (one commit)',
    reserve: 'steward gates, PolicyDecided journaled, breaker, readiness',
    pre_effect: 'effect section, facts re-read, drift check; the pre-effect commit (lineage, key, ActionStarted), group-committed',
    handler: 'the capability handler (no-op) under its deadline',
    record: 'the post-effect commit (ActionOutcome, key state, usage, decision), group-committed; monitors in the same batch',
  };
  console.log(`2. Per-stage time of a governed no-op call, in-process (${r.calls} calls, ${fmt(r.perCallUs, 0)} µs per call)`);
  console.log(table(['stage', 'µs per call', 'what it covers'], Object.entries(r.stages).map(([k, v]) => [k, fmt(v, 1), what[k] ?? ''])));
  console.log(`   by thirds of the timed calls, in order: ${r.thirdsUs.map((u) => fmt(u, 0)).join(' / ')} µs per call (V8 is still compiling the kernel in the first)`);
  if (stdioMandateP50 !== undefined) console.log(`   transport (stdio p50 minus in-process mean): ~${fmt(stdioMandateP50 * 1000 - r.perCallUs, 0)} µs`);
  console.log();
}

if (want('floor')) {
  const floor = sqliteFloorScenario(sizes);
  const wal = await walFramesScenario(sizes);
  const callUs = inProcessUs ?? wal.usPerCall;
  // The part of a call that is SQLite writing pages here; with each commit's fixed part (the fit's intercept) beside it.
  const framesUs = wal.framesPerCall * floor.usPerFrame;
  const withCommitsUs = framesUs + wal.commitsPerCall * floor.usPerCommit;
  results['floor'] = { sqlite: floor, wal, callUs, callUsFrom: inProcessUs === undefined ? 'wal run' : 'stages', framesUs, withCommitsUs, callOverFrames: callUs / framesUs };
  console.log(
    `2b. Storage floor on this disk: bare better-sqlite3 in ${floor.dir} (WAL, synchronous=NORMAL, checkpoint every ${WAL_CHECKPOINT_PAGES} pages), one ~200-byte row into each of k tables per transaction, each row after ${sizes.warmup} untimed`,
  );
  console.log(table(['tables written', 'transactions', 'µs per transaction', 'WAL frames per transaction'], floor.rows.map((r) => [r.tables, r.transactions, fmt(r.usPerTransaction, 1), fmt(r.framesPerTransaction, 2)])));
  console.log(`   per WAL frame: ${fmt(floor.usPerFrame, 1)} µs (slope over the rows that write); per commit besides its frames: ${fmt(floor.usPerCommit, 1)} µs`);
  console.log(`2c. WAL frames per governed no-op, counted from the WAL (fresh workspace, ${wal.calls} calls after ${wal.warmup}): ${fmt(wal.framesPerCall, 2)} frames in ${fmt(wal.commitsPerCall, 2)} commits`);
  if (wal.restarted) console.log('   a checkpoint restarted the WAL during the counted calls: frames not counted');
  else console.log(table(['b-tree', 'frames per call'], wal.byTree.map((t) => [t.tree, fmt(t.framesPerCall, 2)])));
  console.log(
    `   SQLite writing pages: ${fmt(wal.framesPerCall, 2)} frames × ${fmt(floor.usPerFrame, 1)} µs = ${fmt(framesUs, 0)} µs per call on this disk (${fmt(withCommitsUs, 0)} µs with its commits' fixed part); the measured call (${inProcessUs === undefined ? 'the counted calls' : 'scenario 2'}: ${fmt(callUs, 0)} µs) is ${fmt(callUs / framesUs)} × the frames' part (target ≤ ${IN_PROCESS_TARGET_US} µs)`,
  );
  console.log();
}

if (want('grown')) {
  const r = await grownStoreScenario(sizes);
  results['grown'] = r;
  const fresh = inProcessUs === undefined ? '' : `; scenario 2, in an empty store: ${fmt(inProcessUs, 0)} µs`;
  console.log(`2d. The same governed no-op in process, in a store the kernel has grown by ${r.grownBy} calls first: ${fmt(r.perCallUs, 0)} µs per call (${r.calls} calls), ${fmt(r.cpuPerCallUs, 0)} µs of CPU${fresh}\n`);
}

if (want('ledger')) {
  const r = await ledgerScenarios(sizes);
  results['ledger'] = r;
  console.log(`3. Ledger verification, as \`mandate ledger verify\` runs it (worker threads from ${THREADED_VERIFY_MIN_EVENTS} events, ADR-048): ${r.verify.events} events in records (ADR-021) in ${fmt(r.verify.seconds, 2)} s = ${fmt(r.verify.eventsPerSec, 0)} events/s (${r.verify.intact ? 'intact' : 'BROKEN'}; target ≥ 300,000); ${fmt(r.verify.eventsPerCpuSec, 0)} events per CPU second`);
  console.log(`   in one thread: ${fmt(r.verifyOneThread.seconds, 2)} s = ${fmt(r.verifyOneThread.eventsPerSec, 0)} events/s (${r.verifyOneThread.intact ? 'intact' : 'BROKEN'}); ${fmt(r.verifyOneThread.eventsPerCpuSec, 0)} events per CPU second`);
  console.log(`   format-1 rows (one event each, as before ADR-021): ${r.verifyFormat1.events} events in ${fmt(r.verifyFormat1.seconds, 2)} s = ${fmt(r.verifyFormat1.eventsPerSec, 0)} events/s (${r.verifyFormat1.intact ? 'intact' : 'BROKEN'}); ${fmt(r.verifyFormat1.eventsPerCpuSec, 0)} events per CPU second`);
  console.log(`4. Governed call (stdio, 1 in flight) with an empty ledger vs ${r.events} events`);
  console.log(
    table(
      ['ledger', 'calls', 'calls/s', 'p50 ms', 'p99 ms'],
      [
        ['empty', r.empty.calls, fmt(r.empty.callsPerSec, 0), fmt(r.empty.p50ms, 3), fmt(r.empty.p99ms, 3)],
        [`${r.events} events`, r.large.calls, fmt(r.large.callsPerSec, 0), fmt(r.large.p50ms, 3), fmt(r.large.p99ms, 3)],
      ],
    ),
  );
  console.log(`   p99 ratio large/empty: ${fmt(r.large.p99ms / r.empty.p99ms)}\n`);
}

if (want('rss')) {
  const r = await rssScenario(sizes);
  results['rss'] = r;
  console.log(`5. Server RSS over ${r.calls} governed calls: ${fmt(r.beforeMiB, 1)} MiB after warm-up → ${fmt(r.afterMiB, 1)} MiB (samples: ${r.samples.map((s) => fmt(s.rssMiB, 0)).join(', ')})\n`);
}

if (want('policy')) {
  const r = policyScenario(sizes);
  results['policy'] = r;
  console.log(`6. Policy evaluation with ${r.contracts} contracts (${r.policies} policies, compiled and pre-parsed in ${fmt(r.compileMs, 0)} ms): p50 ${fmt(r.evalP50us, 1)} µs, p99 ${fmt(r.evalP99us, 1)} µs; with 3 contracts: p50 ${fmt(r.baselineP50us, 1)} µs, p99 ${fmt(r.baselineP99us, 1)} µs\n`);
}

if (want('approval')) {
  const r = await approvalScenario(sizes);
  results['approval'] = r;
  console.log(`7. Approval latency over ${r.approvals} escalations: approve (operator process) p50 ${fmt(r.approveP50ms, 1)} ms; waiting get_decision returns p50 ${fmt(r.waitReturnP50ms, 1)} ms / p99 ${fmt(r.waitReturnP99ms, 1)} ms after the approval; escalation → completion p50 ${fmt(r.totalP50ms, 1)} ms\n`);
}

if (want('store')) {
  const rows = await storeScenario(sizes);
  results['store'] = rows;
  console.log('8. Governed no-op over HTTP by store: SQLite vs PostgreSQL (one replica, and three on one database with the clients spread over them) vs bare SDK');
  const sqlite16 = rows.find((r) => r.store === 'sqlite' && r.inFlight === 16)?.callsPerSec;
  const pg1r16 = rows.find((r) => r.store === 'postgres' && r.replicas === 1 && r.inFlight === 16)?.callsPerSec;
  console.log(
    table(
      ['server', 'store', 'replicas', 'in flight', 'calls', 'calls/s', 'p50 ms', 'p99 ms', 'vs SQLite (same in flight)'],
      rows.map((r) => {
        const base = rows.find((b) => b.store === 'sqlite' && b.inFlight === r.inFlight)?.callsPerSec;
        return [r.server, r.store, r.replicas, r.inFlight, r.calls, fmt(r.callsPerSec, 0), fmt(r.p50ms, 3), fmt(r.p99ms, 3), r.store === 'postgres' && base ? fmt(r.callsPerSec / base) : ''];
      }),
    ),
  );
  if (sqlite16 && pg1r16) console.log(`   PostgreSQL, one replica, 16 in flight: ${fmt(pg1r16 / sqlite16)} × SQLite (target ≥ 0.5)`);
  console.log();
}

if (want('pgtrips')) {
  const rows = await pgTripsScenario(sizes);
  results['pgtrips'] = rows;
  console.log('9. PostgreSQL round trips per accepted write: governed no-op, kernel in-process, every query of its pools counted (target ≤ 4)');
  console.log(table(['in flight', 'calls', 'accepted', 'round trips per write', 'mean µs per call'], rows.map((r) => [r.inFlight, r.calls, r.accepted, fmt(r.roundTripsPerWrite, 2), fmt(r.meanUs, 0)])));
  console.log();
}

const out = join(process.env[RESULTS_DIR_ENV] ?? join(ROOT, 'bench/results'), `${new Date().toISOString().replace(/[:.]/g, '-')}${smoke ? '-smoke' : ''}.json`);
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, `${JSON.stringify({ smoke, machine, sizes, results }, null, 2)}\n`);
console.log(`results written to ${out}`);
