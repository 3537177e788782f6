/**
 * Runs the MCP conformance suite (@modelcontextprotocol/conformance, server
 * mode) against `mandate serve --http`, with conformance/baseline.yml as the
 * expected failures. Exit 0 when every failure is expected and no expected
 * failure passes; the suite's own exit code otherwise.
 *
 *   npm run conformance          (builds first)
 *   test/e2e-conformance.test.ts runs it in `npm test` and checks the generic scenarios one by one
 *
 * The suite needs Node >= 22 (versions >= 0.1.14), so it is no dependency of
 * this package: both lines are pinned in scripts/clients/ and installed into
 * .cache/clients, and run under a Node >= 22, by scripts/test-clients.ts.
 *
 * Authentication: Mandate's /mcp needs an agent credential and the suite can
 * send no header. A loopback proxy in front of Mandate adds `Authorization:
 * Bearer <key>` to every request, the way an API gateway holding the agent's
 * key would, and passes Host and Origin through untouched. The throwaway
 * workspace sets http.public_url to the proxy's origin, as a deployment
 * behind a proxy does; DNS-rebinding protection is still Mandate's own, and
 * the suite's evil Host is refused although it carries a valid key.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { clientFile, clientsUnavailable, ensureClients } from './test-clients.js';

const HERE = dirname(fileURLToPath(import.meta.url));
/** The repository root, from dist/scripts or scripts/. */
export const ROOT = existsSync(join(HERE, '..', 'package.json')) ? resolve(HERE, '..') : resolve(HERE, '..', '..');
const CLI = join(ROOT, 'dist', 'src', 'cli', 'main.js');
export const BASELINE = join(ROOT, 'conformance', 'baseline.yml');
/** The scenarios that must pass at each wire (the 0.2 line's `--requirements <revision>`): a regression fails the run. */
export const EXPECTED_PASSES = join(ROOT, 'conformance', 'expected-passes.yml');
/** The two protocol eras Mandate serves, each run at its own wire. */
export const WIRES = ['2025-11-25', '2026-07-28'] as const;
export type Wire = (typeof WIRES)[number];

/** Scenarios that need nothing but a correct MCP server: they must pass, never be baselined. */
export const GENERIC = ['server-initialize', 'ping', 'tools-list', 'server-sse-multiple-streams', 'dns-rebinding-protection', 'resources-list', 'logging-set-level'];

export interface Check {
  id: string;
  name: string;
  status: 'SUCCESS' | 'FAILURE' | 'WARNING' | 'INFO' | 'SKIPPED';
  errorMessage?: string;
}

export interface ConformanceRun {
  code: number;
  stdout: string;
  stderr: string;
  node: string;
  /** scenario -> its checks, from checks.json */
  scenarios: Record<string, Check[]>;
  baseline: string[];
}

/** The built `mandate` CLI, with no MANDATE_* variable of the caller's environment. */
export function cli(args: string[]): Promise<string> {
  return new Promise((ok, fail) =>
    execFile(process.execPath, [CLI, ...args], { timeout: 30_000, env: stripMandateEnv() }, (err, stdout, stderr) => (err ? fail(new Error(`mandate ${args[0]} failed: ${stderr}`)) : ok(stdout))),
  );
}

function stripMandateEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('MANDATE_')));
}

/** A reverse proxy on loopback that adds the agent's credential and changes nothing else. */
function authProxy(key: string): Promise<{ server: Server; port: number; target: { port: number } }> {
  const target = { port: 0 };
  const server = createServer((req, res) => {
    const up = request({ host: '127.0.0.1', port: target.port, method: req.method, path: req.url, headers: { ...req.headers, authorization: `Bearer ${key}` } }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      res.flushHeaders(); // an SSE stream's headers must not wait for its first event
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    res.on('close', () => up.destroy());
    req.pipe(up);
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok({ server, port: (server.address() as AddressInfo).port, target })));
}

function startMandate(ws: string): Promise<{ proc: ChildProcess; port: number }> {
  const proc = spawn(process.execPath, [CLI, 'serve', '--http', '--port', '0', '-w', ws, '--log-level', 'warn'], { env: stripMandateEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stderr?.on('data', (c: Buffer) => (err += c.toString('utf8')));
  return new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`mandate serve --http did not start\n${err}`)), 20_000);
    proc.stdout?.on('data', (c: Buffer) => {
      out += c.toString('utf8');
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        ok({ proc, port: Number(m[1]) });
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`mandate serve --http exited ${code}\n${err}`));
    });
  });
}

function stop(proc: ChildProcess): Promise<void> {
  return new Promise((ok) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return ok();
    const kill = setTimeout(() => proc.kill('SIGKILL'), 5_000);
    proc.once('exit', () => {
      clearTimeout(kill);
      ok();
    });
    proc.kill('SIGTERM');
  });
}

/** A scenario passes when it has a success and no failure or warning. */
export function scenarioPassed(checks: Check[] | undefined): boolean {
  return !!checks?.some((c) => c.status === 'SUCCESS') && !checks.some((c) => c.status === 'FAILURE' || c.status === 'WARNING');
}

/** What must pass at one wire: whole scenarios, and single checks (`scenario/check-id`) of scenarios that need the suite's fixtures. */
export interface Expected {
  scenarios: string[];
  checks: string[];
}

export function readExpectedPasses(path = EXPECTED_PASSES): Record<Wire, Expected> {
  const doc = parse(readFileSync(path, 'utf8')) as Partial<Record<Wire, Partial<Expected> | null>>;
  const one = (w: Wire): Expected => ({ scenarios: (doc[w]?.scenarios ?? []).map(String), checks: (doc[w]?.checks ?? []).map(String) });
  return { '2025-11-25': one('2025-11-25'), '2026-07-28': one('2026-07-28') };
}

export interface WireVerdict {
  wire: Wire;
  passed: string[];
  ran: number;
  /** Successful checks (`scenario/check-id`) and how many checks ran. */
  checksPassed: string[];
  checksRan: number;
  /** Expected to pass, and did not (or did not run): fails the run. */
  regressions: string[];
  /** Scenarios that passed and are not yet in the expected list: add them. */
  newPasses: string[];
}

export function judgeWire(wire: Wire, run: ConformanceRun, expected: Expected): WireVerdict {
  const names = Object.keys(run.scenarios).sort();
  const passed = names.filter((s) => scenarioPassed(run.scenarios[s]));
  const checks = names.flatMap((s) => (run.scenarios[s] ?? []).map((c) => ({ key: `${s}/${c.id}`, ok: c.status === 'SUCCESS' })));
  const checksPassed = checks.filter((c) => c.ok).map((c) => c.key);
  return {
    wire,
    passed,
    ran: names.length,
    checksPassed,
    checksRan: checks.length,
    regressions: [...expected.scenarios.filter((s) => !passed.includes(s)), ...expected.checks.filter((c) => !checksPassed.includes(c))],
    newPasses: passed.filter((s) => !expected.scenarios.includes(s)),
  };
}

export function readBaseline(path = BASELINE): string[] {
  return ((parse(readFileSync(path, 'utf8')) as { server?: string[] }).server ?? []).map(String);
}

/** Reads every <out>/server-<scenario>-<timestamp>/checks.json. */
function readChecks(outDir: string): Record<string, Check[]> {
  const out: Record<string, Check[]> = {};
  for (const d of readdirSync(outDir)) {
    const m = /^server-(.+)-\d{4}-\d{2}-\d{2}T[\d-]+Z$/.exec(d);
    if (m && existsSync(join(outDir, d, 'checks.json'))) out[m[1] as string] = JSON.parse(readFileSync(join(outDir, d, 'checks.json'), 'utf8')) as Check[];
  }
  return out;
}

export interface RunOptions {
  suite?: string;
  keep?: boolean;
  /** Run the 0.2 line with `--requirements <revision>` instead of the 0.1 line with the baseline of expected failures. */
  requirements?: string;
  /** Extra `--scenario` selection (0.2 line only). */
  scenario?: string;
  /** A different URL to test (the suite's reference server), instead of starting Mandate. */
  url?: string;
  /**
   * Prepares the throwaway workspace before Mandate serves it (e.g. a gateway in front of an upstream), and returns
   * the agent whose key the proxy adds; without it, the workspace is `mandate init`'s, and the agent alice.
   */
  workspace?: (ws: string) => Promise<string>;
}

export async function runConformance(opts: RunOptions = {}): Promise<ConformanceRun> {
  const clients = ensureClients();
  if (!clients) throw new Error(`the conformance suite needs Node >= 22 and its pinned install in .cache/clients: ${clientsUnavailable}`);
  const node = clients.node;
  // The 0.1 line, and the 0.2 line (alias mcp-conformance-next in scripts/clients/): each revision's requirements at that revision's wire.
  const suite01 = clientFile(clients, '@modelcontextprotocol/conformance', 'dist/index.js');
  const suite02 = clientFile(clients, 'mcp-conformance-next', 'dist/index.js');
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`);
  const dir = mkdtempSync(join(tmpdir(), 'mandate-conformance-'));
  const ws = join(dir, 'ws');
  let mandate: ChildProcess | undefined;
  let proxy: Server | undefined;
  try {
    let url = opts.url;
    if (!url) {
      await cli(['init', ws]);
      const agent = opts.workspace ? await opts.workspace(ws) : 'alice';
      const key = (await cli(['keys', 'create', '--agent', agent, '--label', 'conformance', '-w', ws])).trim();
      const p = await authProxy(key);
      proxy = p.server;
      // The proxy's origin is the public one; each scenario opens a session it never deletes.
      const cfgPath = join(ws, 'mandate.yaml');
      const cfg = parse(readFileSync(cfgPath, 'utf8')) as Record<string, Record<string, unknown>>;
      cfg['http'] = { ...cfg['http'], public_url: `http://127.0.0.1:${p.port}`, sessions: { ...(cfg['http']?.['sessions'] as object), max_per_agent: 200 } };
      writeFileSync(cfgPath, stringify(cfg));
      const started = await startMandate(ws);
      mandate = started.proc;
      p.target.port = started.port;
      url = `http://127.0.0.1:${p.port}/mcp`;
    }
    const outDir = join(dir, 'results');
    const args = opts.requirements
      ? [suite02, 'server', '--url', url, ...(opts.scenario ? ['--scenario', opts.scenario] : ['--requirements', opts.requirements]), ...(opts.scenario ? ['--spec-version', opts.requirements] : []), '-o', outDir]
      : [suite01, 'server', '--url', url, '--suite', opts.suite ?? 'all', '--expected-failures', BASELINE, '-o', outDir];
    const result = await new Promise<{ code: number; stdout: string; stderr: string }>((ok) =>
      execFile(node, args, { timeout: 300_000, maxBuffer: 16 * 1024 * 1024, env: { ...stripMandateEnv(), NO_COLOR: '1' } }, (err, stdout, stderr) =>
        ok({ code: err ? (typeof (err as { code?: unknown }).code === 'number' ? Number((err as { code: number }).code) : 1) : 0, stdout: String(stdout), stderr: String(stderr) }),
      ),
    );
    return { ...result, node, scenarios: existsSync(outDir) ? readChecks(outDir) : {}, baseline: readBaseline() };
  } finally {
    if (mandate) await stop(mandate);
    proxy?.close();
    if (!opts.keep) rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * `npm run conformance [-- --wire 2025-11-25|2026-07-28|legacy]`: the 0.1 line with its baseline of expected
 * failures, then the 0.2 line at each wire against conformance/expected-passes.yml. Exit 1 on any regression.
 */
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const keep = process.env['MANDATE_CONFORMANCE_KEEP'] === '1';
  const only = process.argv.includes('--wire') ? process.argv[process.argv.indexOf('--wire') + 1] : undefined;
  let code = 0;
  if (!only || only === 'legacy') {
    const run = await runConformance({ keep });
    process.stdout.write(run.stdout.slice(run.stdout.indexOf('=== SUMMARY ===')));
    for (const s of GENERIC) {
      const ok = scenarioPassed(run.scenarios[s]);
      process.stdout.write(`${ok ? 'PASS' : 'FAIL'} generic scenario ${s}\n`);
      if (!ok) run.code = run.code || 1;
    }
    process.stdout.write(`conformance suite 0.1 under node ${run.node}: exit ${run.code}\n`);
    code ||= run.code;
  }
  const expected = readExpectedPasses();
  for (const wire of WIRES) {
    if (only && only !== wire) continue;
    const v = judgeWire(wire, await runConformance({ keep, requirements: wire }), expected[wire]);
    if (process.env['MANDATE_CONFORMANCE_LIST'] === '1') for (const c of v.checksPassed) process.stdout.write(`check ${wire} ${c}\n`);
    const e = expected[wire];
    process.stdout.write(`\nwire ${wire}: ${v.passed.length} of ${v.ran} scenarios pass (${e.scenarios.length} expected), ${v.checksPassed.length} of ${v.checksRan} checks\n`);
    for (const s of v.regressions) process.stdout.write(`REGRESSION ${wire} ${s}: expected to pass\n`);
    for (const s of v.newPasses) process.stdout.write(`NEW PASS ${wire} ${s}: add it to conformance/expected-passes.yml\n`);
    if (v.regressions.length > 0) code = 1;
  }
  process.exit(code);
}
