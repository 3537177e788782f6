/**
 * The MCP conformance suite (0.2 line) against Mandate as a transparent gateway in front of the suite's own
 * reference everything-server (issue 19): at each wire, first against the reference server directly, then against
 * `mandate serve --http` serving a workspace whose only upstream is that server, `expose: transparent`, with
 * Mandate's own tools hidden. conformance/gateway-expected-passes.yml lists what must pass through Mandate; a
 * regression fails the run. Every scenario that passes directly but not through Mandate is printed with its
 * failing checks.
 *
 *   npm run conformance:gateway [-- --wire 2025-11-25|2026-07-28]
 *
 * The reference server is conformance/reference-server/everything-server.ts, vendored from the suite's
 * repository (the npm package does not ship it). It is TypeScript run by tsx upstream; here TypeScript's
 * transpileModule (this repository's own devDependency) strips its types into .cache/reference-server, and it
 * runs under the Node 22 of the clients, its imports (the MCP SDK v1, express, cors, zod, pinned in
 * scripts/clients/) resolved from .cache/clients.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { clientCommand, clientsUnavailable, ensureClients } from './test-clients.js';
import { cli, judgeWire, readExpectedPasses, ROOT, runConformance, scenarioPassed, WIRES, type ConformanceRun, type Wire } from './conformance.js';

export const REFERENCE_SERVER = join(ROOT, 'conformance', 'reference-server', 'everything-server.ts');
/** What must pass through Mandate at each wire, in the format of conformance/expected-passes.yml. */
export const GATEWAY_EXPECTED_PASSES = join(ROOT, 'conformance', 'gateway-expected-passes.yml');
/** The upstream's name in the gateway workspace, and the agent the suite runs as. */
const UPSTREAM = 'reference';
const AGENT = 'conformance';

/** A port nobody listens on now (the reference server takes its port from PORT and reports no other). */
function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => ok(port));
    });
  });
}

/** The vendored server with its types stripped, as an ES module in .cache/reference-server. */
async function transpiledReferenceServer(): Promise<string> {
  const ts = (await import('typescript')).default;
  const out = ts.transpileModule(readFileSync(REFERENCE_SERVER, 'utf8'), {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    fileName: REFERENCE_SERVER,
  });
  const dir = join(ROOT, '.cache', 'reference-server');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'everything-server.mjs');
  writeFileSync(file, out.outputText);
  return file;
}

export interface ReferenceServer {
  url: string;
  proc: ChildProcess;
  stop(): Promise<void>;
}

/** Starts the reference server on a free loopback port; resolves once it listens. */
export async function startReferenceServer(): Promise<ReferenceServer> {
  const clients = ensureClients();
  if (!clients) throw new Error(`the reference server needs Node >= 22 and the pinned install in .cache/clients: ${clientsUnavailable}`);
  const port = await freePort();
  const { command, args } = clientCommand(clients, await transpiledReferenceServer());
  const proc = spawn(command, args, { env: { PATH: process.env['PATH'] ?? '', PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stderr?.on('data', (c: Buffer) => (err = (err + c.toString('utf8')).slice(-4000)));
  const stop = () =>
    new Promise<void>((ok) => {
      if (proc.exitCode !== null || proc.signalCode !== null) return ok();
      proc.once('exit', () => ok());
      proc.kill('SIGTERM');
    });
  await new Promise<void>((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`the reference server did not start\n${err}`)), 20_000);
    proc.stdout?.on('data', (c: Buffer) => {
      // It logs every session on stdout: keep reading (a full pipe would stall it), keep only the start line.
      if (out.includes('running on')) return;
      out += c.toString('utf8');
      if (out.includes('running on')) {
        clearTimeout(timer);
        ok();
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`the reference server exited ${code}\n${err}`));
    });
  });
  return { url: `http://127.0.0.1:${port}/mcp`, proc, stop };
}

/**
 * Turns a fresh workspace into a transparent gateway in front of `upstreamUrl`: Mandate's own tools hidden, the
 * upstream's tools, resources, prompts, sampling and elicitation all granted to one agent, everything pinned.
 */
export function gatewayWorkspace(upstreamUrl: string): (ws: string) => Promise<string> {
  return async (ws) => {
    const cfgPath = join(ws, 'mandate.yaml');
    const cfg = parse(readFileSync(cfgPath, 'utf8')) as Record<string, unknown>;
    cfg['tools'] = { ...(cfg['tools'] as object), mandate_tools: false };
    // The suite's slowest fixture tools sleep for seconds; a result may carry a base64 image or audio clip.
    // A call waiting for the agent's answer to an input request holds its upstream slot, and the suite leaves some
    // unanswered: more slots than the default 4, so that later scenarios do not queue behind them.
    cfg['upstreams'] = { [UPSTREAM]: { url: upstreamUrl, expose: 'transparent', deadline_ms: 30_000, max_output_bytes: 1_048_576, max_concurrency: 32 } };
    // The suite judges each scenario on its own; with the default threshold (5), one scenario's failing calls would
    // open the upstream's circuit and refuse the next scenarios' calls (CIRCUIT_OPEN).
    cfg['breaker'] = { ...(cfg['breaker'] as object), failure_threshold: 1_000 };
    writeFileSync(cfgPath, stringify(cfg));
    // The fixture tools carry no annotations, so MCP's defaults make them destructive, and `mandate init`'s policy
    // holds every destructive call for a human. Nobody approves during a conformance run: that policy goes.
    const policyPath = join(ws, 'policies', 'base.cedar');
    const policies = readFileSync(policyPath, 'utf8');
    const escalate = policies.indexOf('@id("escalate-destructive")');
    if (escalate < 0) throw new Error(`${policyPath} has no escalate-destructive policy to remove: update gatewayWorkspace`);
    writeFileSync(policyPath, policies.slice(0, policies.lastIndexOf('\n//', escalate)) + '\n');
    writeFileSync(
      join(ws, 'contracts', `${AGENT}.yaml`),
      stringify({
        agent: AGENT,
        version: 1,
        owner: 'conformance@example.com',
        mission: 'Run the MCP conformance suite through the gateway.',
        role: 'agent',
        grants: [{ capability: `${UPSTREAM}.*` }],
        resources: [{ upstream: UPSTREAM, uri: '*' }],
        prompts: [{ upstream: UPSTREAM, name: '*' }],
        client_requests: [
          { upstream: UPSTREAM, kind: 'sampling' },
          { upstream: UPSTREAM, kind: 'elicitation' },
        ],
      }),
    );
    await cli(['upstream', 'pin', '--as', 'conformance', '-w', ws]);
    return AGENT;
  };
}

export interface WireComparison {
  wire: Wire;
  direct: ConformanceRun;
  gateway: ConformanceRun;
}

/** Scenarios that pass directly and not through Mandate, each with its failing (or warning) checks. */
export function lostThroughGateway(c: WireComparison): { scenario: string; checks: string[] }[] {
  return Object.keys(c.direct.scenarios)
    .sort()
    .filter((s) => scenarioPassed(c.direct.scenarios[s]) && !scenarioPassed(c.gateway.scenarios[s]))
    .map((s) => ({
      scenario: s,
      checks: (c.gateway.scenarios[s] ?? [{ id: '(did not run)', name: '', status: 'FAILURE' as const }])
        .filter((k) => k.status === 'FAILURE' || k.status === 'WARNING')
        .map((k) => `${k.id}: ${k.status}${k.errorMessage ? ` ${k.errorMessage.replace(/\s+/g, ' ').slice(0, 300)}` : ''}`),
    }));
}

/** The suite at one wire against the reference server directly, then through Mandate in front of it. */
export async function compareAtWire(wire: Wire, opts: { keep?: boolean; scenario?: string } = {}): Promise<WireComparison> {
  const reference = await startReferenceServer();
  try {
    const base = { requirements: wire, ...(opts.keep ? { keep: true } : {}), ...(opts.scenario ? { scenario: opts.scenario } : {}) };
    const direct = await runConformance({ ...base, url: reference.url });
    const gateway = await runConformance({ ...base, workspace: gatewayWorkspace(reference.url) });
    return { wire, direct, gateway };
  } finally {
    await reference.stop();
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const keep = process.env['MANDATE_CONFORMANCE_KEEP'] === '1';
  const only = process.argv.includes('--wire') ? process.argv[process.argv.indexOf('--wire') + 1] : undefined;
  const scenario = process.argv.includes('--scenario') ? process.argv[process.argv.indexOf('--scenario') + 1] : undefined;
  const expected = readExpectedPasses(GATEWAY_EXPECTED_PASSES);
  let code = 0;
  for (const wire of WIRES) {
    if (only && only !== wire) continue;
    const started = Date.now();
    const c = await compareAtWire(wire, { keep, ...(scenario ? { scenario } : {}) });
    const direct = Object.keys(c.direct.scenarios).filter((s) => scenarioPassed(c.direct.scenarios[s]));
    const v = judgeWire(wire, c.gateway, expected[wire]);
    process.stdout.write(
      `\nwire ${wire}: reference server directly ${direct.length} of ${Object.keys(c.direct.scenarios).length} scenarios pass; ` +
        `through Mandate ${v.passed.length} of ${v.ran} (${expected[wire].scenarios.length} expected), ${v.checksPassed.length} of ${v.checksRan} checks; ` +
        `${Math.round((Date.now() - started) / 1000)} s\n`,
    );
    if (process.env['MANDATE_CONFORMANCE_LIST'] === '1') for (const s of v.passed) process.stdout.write(`pass ${wire} ${s}\n`);
    for (const { scenario: s, checks } of lostThroughGateway(c)) process.stdout.write(`DIRECT ONLY ${wire} ${s}\n${checks.map((k) => `    ${k}\n`).join('')}`);
    for (const s of v.passed.filter((p) => !direct.includes(p))) process.stdout.write(`GATEWAY ONLY ${wire} ${s}: passes through Mandate, not directly\n`);
    for (const s of v.regressions) process.stdout.write(`REGRESSION ${wire} ${s}: expected to pass through Mandate\n`);
    for (const s of v.newPasses) process.stdout.write(`NEW PASS ${wire} ${s}: add it to conformance/gateway-expected-passes.yml\n`);
    if (v.regressions.length > 0) code = 1;
  }
  process.exit(code);
}
