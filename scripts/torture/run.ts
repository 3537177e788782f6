/**
 * `npm run torture`: kill -9 under concurrent load, fuzzing, and tampering,
 * against the built CLI (docs/reliability.md). Prints the figures; exit 1
 * if a target that the current build is meant to meet was missed.
 *
 *   npm run torture                 full run (>= 100 crash trials, >= 100k fuzzed inputs, the soak at 2 min per configuration)
 *   npm run torture -- --quick      a few of each, in about a minute and a half
 *   npm run torture -- --soak       only the soak (--seconds N per configuration, --runs N times in a row)
 *   npm run torture -- --json       the figures as JSON on stdout
 *   npm run torture -- --no-fleet   without the several-processes series (they need PostgreSQL on 127.0.0.1:5432)
 */
import { rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { crashSeries, type CrashFigures } from './crash.js';
import { FLEET_SERIES, fleetMissed, fleetRuns, formatFleet, type FleetFigures } from './fleet.js';
import { fuzzHttp, fuzzStdio, type FuzzFigures } from './fuzz.js';
import { RawStdio } from './raw-stdio.js';
import { soak, soakFailures, SOAK_MATRIX, type SoakFigures } from './soak.js';
import { tamperTrials, type TamperFigures } from './tamper-trials.js';
import { AGENT, CLI, tortureWorkspace } from './workspace.js';

export interface TortureSizes {
  /** Crash trials per series (four series: stdio and HTTP, 1 and 4 in flight). */
  trialsPerSeries: number;
  fuzzStdio: number;
  fuzzHttp: number;
  tampersPerKind: number;
  /** Several processes on one store (ADR-019): rounds per kill -9 series, and how long each round's load runs. */
  fleetRounds: number;
  fleetRoundMs: number;
  /** Seconds of soak per configuration (SQLite and PostgreSQL, 1 and 3 replicas, 16 in flight); 0 skips it. */
  soakSeconds: number;
}

export const FULL: TortureSizes = { trialsPerSeries: 30, fuzzStdio: 80_000, fuzzHttp: 22_000, tampersPerKind: 20, fleetRounds: 5, fleetRoundMs: 3_000, soakSeconds: 120 };
export const QUICK: TortureSizes = { trialsPerSeries: 3, fuzzStdio: 2_000, fuzzHttp: 400, tampersPerKind: 3, fleetRounds: 2, fleetRoundMs: 1_000, soakSeconds: 10 };
export const SOAK_IN_FLIGHT = 16;

export interface TortureFigures {
  crash: CrashFigures[];
  fuzz: FuzzFigures[];
  tamper: TamperFigures[];
  /** Absent when the run skipped the fleet series. */
  fleet?: FleetFigures[];
  soak: SoakFigures[];
  seconds: number;
}

/** The soak matrix, `runs` times in a row. */
export async function soakSeries(seconds: number, runs = 1, log: (line: string) => void = () => undefined): Promise<SoakFigures[]> {
  const out: SoakFigures[] = [];
  for (let run = 1; run <= runs; run++) {
    for (const c of SOAK_MATRIX) {
      log(`soak${runs > 1 ? ` run ${run}/${runs}` : ''}: ${c.store}, ${c.replicas} replica(s), ${SOAK_IN_FLIGHT} in flight, ${seconds} s`);
      out.push(await soak({ ...c, inFlight: SOAK_IN_FLIGHT, seconds }, log));
    }
  }
  return out;
}

export async function runTorture(sizes: TortureSizes, log: (line: string) => void = () => undefined, opts: { fleet?: boolean } = {}): Promise<TortureFigures> {
  const started = Date.now();
  const dirs: string[] = [];
  try {
    const crash: CrashFigures[] = [];
    let anchored: string | undefined;
    for (const transport of ['stdio', 'http'] as const) {
      for (const inFlight of [1, 4]) {
        const ws = tortureWorkspace();
        dirs.push(ws.dir);
        log(`crash: ${transport}, ${inFlight} in flight, ${sizes.trialsPerSeries} trials`);
        crash.push(await crashSeries({ dir: ws.dir, key: ws.key, transport, inFlight, trials: sizes.trialsPerSeries, log }));
        anchored ??= ws.dir;
      }
    }
    // A clean start and stop: the server signs a checkpoint of the head the crashes left.
    const settle = await RawStdio.start(CLI, anchored as string, AGENT);
    await settle.close();
    log(`tamper: ${sizes.tampersPerKind} of each kind`);
    const tamper = await tamperTrials(anchored as string, sizes.tampersPerKind);

    const fz = tortureWorkspace();
    dirs.push(fz.dir);
    log(`fuzz: ${sizes.fuzzStdio} stdio inputs, ${sizes.fuzzHttp} HTTP inputs`);
    const fuzz = [await fuzzStdio(fz.dir, sizes.fuzzStdio), await fuzzHttp(fz.dir, fz.key, sizes.fuzzHttp)];
    const fleet = opts.fleet === false ? undefined : await fleetRuns(FLEET_SERIES, { rounds: sizes.fleetRounds, roundMs: sizes.fleetRoundMs }, log);
    const soaked = sizes.soakSeconds > 0 ? await soakSeries(sizes.soakSeconds, 1, log) : [];
    return { crash, fuzz, tamper, ...(fleet ? { fleet } : {}), soak: soaked, seconds: Math.round((Date.now() - started) / 1000) };
  } finally {
    for (const d of dirs) rmSync(dirname(d), { recursive: true, force: true });
  }
}

function table(headers: string[], rows: (string | number)[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells: (string | number)[]) => cells.map((c, i) => String(c).padStart(widths[i] as number)).join('  ');
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

export function formatFigures(t: TortureFigures): string {
  const crash = table(
    ['transport', 'in flight', 'trials', 'calls', 'acked', 'lost', 'doubled', 'effect w/o record', 'outcome unrecorded', 'mismatched', 'retries stuck', 'chain failures', 'crashes', 'error logs'],
    t.crash.map((c) => [c.transport, c.inFlight, c.trials, c.calls, c.acknowledged, c.lost, c.doubled, c.effectsWithoutRecord, c.outcomeUnrecorded, c.mismatched, c.retriesStuck, c.chainFailures, c.crashes, c.errorLogLines]),
  );
  const fuzz = table(
    ['channel', 'inputs', 'answered', 'INTERNAL_ERROR', 'HTTP 5xx', 'unanswered', 'crashes', 'error logs'],
    t.fuzz.map((f) => [f.channel, f.inputs, f.answered, f.internalErrors, f.http5xx, f.unanswered, f.crashes, f.errorLogLines]),
  );
  const tamper = table(
    ['tamper', 'trials', 'detected', 'detected by the chain alone'],
    t.tamper.map((x) => [x.kind, x.trials, `${x.detected} (${Math.round((100 * x.detected) / Math.max(1, x.trials))} %)`, x.detectedByChainAlone]),
  );
  const fleet = t.fleet ? `\n\nseveral processes on one store, 4 in flight each\n${formatFleet(t.fleet)}` : '';
  const soaked = t.soak.length ? `\n\nsoak (${t.soak[0]?.node})\n${formatSoak(t.soak)}` : '';
  return `kill -9 under load\n${crash}\n\nfuzzing\n${fuzz}\n\ntampering, against signed checkpoints\n${tamper}${fleet}${soaked}\n\n${t.seconds} s\n`;
}

export function formatSoak(rows: SoakFigures[]): string {
  return table(
    ['store', 'replicas', 'in flight', 's', 'calls', 'calls/s', 'p50 ms', 'p99 ms', 'expected', 'unexpected', 'unanswered', 'exits', 'fatal lines', 'unclean stops', 'error logs'],
    rows.map((r) => [r.store, r.replicas, r.inFlight, Math.round(r.seconds), r.calls, Math.round(r.callsPerSec), r.p50ms.toFixed(1), r.p99ms.toFixed(1), r.expected, Object.values(r.unexpected).reduce((a, b) => a + b, 0), r.unanswered, r.exits, r.fatalLines, r.uncleanStops, r.errorLogLines]),
  );
}

/** Targets this build meets on its own; doubled/mismatched under 4 in flight need per-resource effect sections. */
export function missedTargets(t: TortureFigures): string[] {
  const missed: string[] = [];
  for (const c of t.crash) {
    const at = `${c.transport}/${c.inFlight}`;
    if (c.lost) missed.push(`${at}: ${c.lost} acknowledged decisions lost`);
    if (c.chainFailures) missed.push(`${at}: ${c.chainFailures} chain failures`);
    if (c.crashes) missed.push(`${at}: ${c.crashes} crashes`);
    if (c.effectsWithoutRecord) missed.push(`${at}: ${c.effectsWithoutRecord} effects without a record`);
    if (c.errorLogLines) missed.push(`${at}: ${c.errorLogLines} error lines in the server logs`);
  }
  for (const f of t.fuzz) {
    if (f.crashes || f.internalErrors || f.http5xx || f.unanswered || f.errorLogLines) {
      missed.push(`fuzz ${f.channel}: ${f.crashes} crashes, ${f.internalErrors} INTERNAL_ERROR, ${f.http5xx} 5xx, ${f.unanswered} unanswered, ${f.errorLogLines} error log lines`);
    }
  }
  for (const x of t.tamper) if (x.detected !== x.trials) missed.push(`tamper ${x.kind}: ${x.trials - x.detected} of ${x.trials} undetected`);
  for (const f of t.fleet ?? []) missed.push(...fleetMissed(f));
  for (const s of t.soak) missed.push(...soakFailures(s));
  return missed;
}

function numberArg(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(name);
  const n = i >= 0 ? Number(args[i + 1]) : fallback;
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} takes a whole number ≥ 1`);
  return n;
}

async function soakMain(args: string[], json: boolean): Promise<void> {
  const rows = await soakSeries(numberArg(args, '--seconds', FULL.soakSeconds), numberArg(args, '--runs', 1), (line) => process.stderr.write(`torture: ${line}\n`));
  process.stdout.write(json ? `${JSON.stringify(rows, null, 2)}\n` : `soak (${process.version}, V8 ${process.versions.v8})\n${formatSoak(rows)}\n`);
  const failed = rows.flatMap(soakFailures);
  for (const m of failed) process.stderr.write(`torture: target missed: ${m}\n`);
  process.exitCode = failed.length ? 1 : 0;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const json = args.includes('--json');
  if (args.includes('--soak')) return soakMain(args, json);
  const sizes = args.includes('--quick') ? QUICK : FULL;
  const figures = await runTorture(sizes, (line) => process.stderr.write(`torture: ${line}\n`), { fleet: !args.includes('--no-fleet') });
  process.stdout.write(json ? `${JSON.stringify(figures, null, 2)}\n` : formatFigures(figures));
  const missed = missedTargets(figures);
  for (const m of missed) process.stderr.write(`torture: target missed: ${m}\n`);
  process.exitCode = missed.length ? 1 : 0;
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) await main();
