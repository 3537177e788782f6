import { createLogger, type Logger } from '../../core/log.js';
import { V8_GUARD_ENV, v8Guard } from '../../core/v8-guard.js';
import { Metrics } from '../../http/metrics.js';
import { startHttpServer } from '../../http/server.js';
import { createMcpServer } from '../../mcp/server.js';
import { BoundedStdioTransport } from '../../mcp/stdio-transport.js';
import { EraMux } from '../../mcp/era-router.js';
import { traceTransport } from '../../mcp/traced-transport.js';
import { serveModernStdio } from '../../mcp/modern/stdio.js';
import { openRuntime, startCheckpointer, startHousekeeping, type Runtime, type RuntimeOptions } from '../../runtime.js';
import { watchWorkspace } from '../../watch.js';
import { UsageError, workspaceDir } from '../common.js';

export interface ServeOptions {
  stdio?: boolean;
  http?: boolean;
  agent?: string;
  host?: string;
  port?: string;
  jsonResponse?: boolean;
  workspace?: string;
  logLevel?: string;
  watch?: boolean;
}

/** `mandate serve`: one agent over stdio, or every agent with a credential over Streamable HTTP. */
export async function serve(opts: ServeOptions): Promise<void> {
  if (opts.stdio === opts.http) throw new UsageError('choose one transport: --stdio or --http');
  return opts.stdio ? serveStdio(opts) : serveHttp(opts);
}

/** --log-level beats MANDATE_LOG_LEVEL beats log.level in mandate.yaml. */
async function open(opts: ServeOptions, runtime: RuntimeOptions = {}) {
  const dir = workspaceDir(opts.workspace);
  const log = createLogger(opts.logLevel ?? process.env['MANDATE_LOG_LEVEL'] ?? 'info');
  const rt = await openRuntime(
    dir,
    (configLevel) => {
      if (!opts.logLevel && !process.env['MANDATE_LOG_LEVEL']) log.level = configLevel;
      return log;
    },
    undefined,
    { ...runtime, requireSigningKey: true },
  );
  if (v8Guard === 'disabled') {
    log.warn({ node: process.version, v8: process.versions.v8 }, `${V8_GUARD_ENV}=off on a Node line whose V8 aborts under load (ADR-018); unset it, or run on Node 24`);
  }
  return { dir, log, rt };
}

function onSignals(shutdown: () => Promise<void>, rt: Runtime): void {
  process.once('SIGINT', () => void shutdown().then(() => process.exit(0)));
  process.once('SIGTERM', () => void shutdown().then(() => process.exit(0)));
  // SIGHUP: a live reload of contracts, policies and capability modules (`mandate reload` sends it).
  process.on('SIGHUP', () => void rt.reload('signal:SIGHUP').catch(() => undefined));
}

/** Serves one agent over stdio: stdout carries only the protocol, logs go to stderr. */
async function serveStdio(opts: ServeOptions): Promise<void> {
  if (opts.host !== undefined || opts.port !== undefined || opts.jsonResponse) throw new UsageError('--host, --port and --json-response go with --http');
  const agent = opts.agent ?? process.env['MANDATE_AGENT'];
  if (!agent) throw new UsageError('name the agent: --agent <id> or MANDATE_AGENT');
  const { dir, log, rt } = await open(opts, { tracing: true });
  if (!rt.kernel.contractOf(agent)) {
    await rt.close();
    throw new UsageError(`unknown agent \`${agent}\`: no contract in ${rt.workspace.config.paths.contracts}/ (known: ${[...rt.workspace.contracts.keys()].join(', ')})`);
  }
  // Before serving: effects a crashed process left without an outcome are settled or marked (ADR-017).
  await rt.kernel.recover({ retryUnknown: true });
  const stopHousekeeping = startHousekeeping(rt, log);
  const stopCheckpointer = startCheckpointer(rt, log);
  const stopWatching = opts.watch ? watchWorkspace(rt, log) : () => undefined;
  const closers: (() => Promise<void>)[] = [];
  let closed = false;
  const shutdown = async () => {
    if (closed) return;
    closed = true;
    await stopHousekeeping();
    stopWatching();
    await Promise.all(closers.map((close) => close().catch(() => undefined)));
    await rt.kernel.settle(); // a running challenger call (bounded by normalizer.timeout_ms) records its result first
    await stopCheckpointer(); // the last checkpoint covers everything this process recorded
    await rt.shutdown(); // stops the upstream servers this process started, then closes the store
    log.info({ agent }, 'stopped');
    log.flush();
  };
  onSignals(shutdown, rt);
  // One message per line, refused beyond 4x limits.max_payload_bytes (at least 1 MiB); the end of stdin closes the session.
  const maxLine = Math.max(1_048_576, 4 * rt.workspace.config.limits.max_payload_bytes);
  const bounded = new BoundedStdioTransport(maxLine, process.stdin, process.stdout, (bytes) => log.warn({ bytes, max_bytes: maxLine }, 'stdio message too large; refused'));
  // A server span per request of either era (ADR-026); with tracing off this is the transport itself.
  const stdio = traceTransport(bounded, rt.tracer, 'pipe');
  // Each message goes to the server of its protocol era, started on the first message of that era (ADR-020).
  const mux = new EraMux(stdio, (era, lane) => {
    if (era === 'modern') {
      const handle = serveModernStdio(rt, agent, lane, log);
      closers.push(() => handle.close());
      return;
    }
    const server = createMcpServer(rt.kernel, agent, 'stdio', rt.gateway);
    // A re-pin (`mandate upstream pin`, another process) changes the upstream tools this agent sees.
    rt.gateway.onChange((changed) => {
      if (changed.has('tools')) server.sendToolListChanged().catch(() => undefined);
    });
    // A reload that changed the set may change what this agent is granted.
    rt.onReload((r) => {
      if (r.changed) server.sendToolListChanged().catch(() => undefined);
    });
    closers.push(() => server.close());
    void server.connect(lane);
  });
  void mux.closed.then(shutdown);
  await mux.start();
  log.info({ agent, workspace: dir, policy_set_hash: rt.workspace.policySet.hash }, 'serving over stdio');
}

function parsePort(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65_535) throw new UsageError(`--port must be an integer from 0 to 65535, not \`${raw}\``);
  return n;
}

/** Serves every agent over Streamable HTTP at /mcp, plus the operator API, /events, /metrics and the console. */
async function serveHttp(opts: ServeOptions): Promise<void> {
  if (opts.agent !== undefined) throw new UsageError('--agent goes with --stdio: over HTTP each credential names its agent');
  const port = parsePort(opts.port);
  const metrics = new Metrics();
  const { dir, log, rt } = await open(opts, { observer: metrics, tracing: true });
  let handle;
  try {
    // Before serving: effects a crashed process left without an outcome are settled or marked (ADR-017).
    await rt.kernel.recover({ retryUnknown: true });
    handle = await startHttpServer(rt, metrics, log, { host: opts.host, port, jsonResponse: opts.jsonResponse });
  } catch (err) {
    await rt.close();
    throw listenError(err);
  }
  const stopHousekeeping = startHousekeeping(rt, log);
  const stopCheckpointer = startCheckpointer(rt, log);
  const stopWatching = opts.watch ? watchWorkspace(rt, log) : () => undefined;
  if (!(await rt.store.credentials.list()).some((c) => c.revoked_at === null) && !handle.ctx.cfg.auth.jwt) {
    log.warn('no credentials yet: every request will get 401; create one with `mandate keys create --agent <id>` (and `--operator <name>` for the console)');
  }
  let closed = false;
  const shutdown = async () => {
    if (closed) return;
    closed = true;
    await stopHousekeeping();
    stopWatching();
    await handle.close();
    await rt.kernel.settle();
    await stopCheckpointer(); // the last checkpoint covers everything this process recorded
    await rt.shutdown(); // stops the upstream servers this process started, then closes the store
    log.info('stopped');
    log.flush();
  };
  onSignals(shutdown, rt);
  announce(log, handle.url, handle.listening, dir, rt.workspace.policySet.hash, handle.ctx.cfg.json_response);
}

function announce(log: Logger, url: string, listening: { host: string; port: number }, dir: string, hash: string, json: boolean): void {
  log.info({ url, host: listening.host, port: listening.port, mcp: `${url}/mcp`, console: `${url}/console`, json_response: json, workspace: dir, policy_set_hash: hash }, 'serving over http');
  // One plain line for people and scripts; logs stay on stderr, stdout carries nothing else.
  process.stdout.write(`mandate: listening on http://${listening.host.includes(':') ? `[${listening.host}]` : listening.host}:${listening.port} (mcp ${url}/mcp, console ${url}/console)\n`);
}

/** A listen failure as the operator can act on it: which address, and what to do. */
function listenError(err: unknown): unknown {
  const e = err as NodeJS.ErrnoException & { address?: string; port?: number };
  const where = `${e.address?.includes(':') ? `[${e.address}]` : (e.address ?? '?')}:${e.port ?? '?'}`;
  if (e?.code === 'EADDRINUSE') return new Error(`port ${e.port ?? '?'} is already in use (${where}); choose another with --port <n> (or --port 0 for any free port), or set http.port in mandate.yaml`);
  if (e?.code === 'EACCES') return new Error(`not allowed to listen on ${where} (ports below 1024 need privileges); choose another with --port <n>`);
  if (e?.code === 'EADDRNOTAVAIL') return new Error(`cannot listen on ${where}: no such local address; choose another with --host`);
  return err;
}
