import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { createLogger } from '../../core/log.js';
import { createMcpServer } from '../../mcp/server.js';
import { openRuntime } from '../../runtime.js';
import { UsageError, workspaceDir } from '../common.js';

export interface ServeOptions {
  stdio?: boolean;
  agent?: string;
  workspace?: string;
  logLevel?: string;
}

const SWEEP_MS = 500;

/** Serves one agent over stdio: stdout carries only the protocol, logs go to stderr. */
export async function serve(opts: ServeOptions): Promise<void> {
  if (!opts.stdio) throw new UsageError('choose a transport: --stdio (HTTP is not available yet)');
  const agent = opts.agent ?? process.env['MANDATE_AGENT'];
  if (!agent) throw new UsageError('name the agent: --agent <id> or MANDATE_AGENT');
  const dir = workspaceDir(opts.workspace);
  // --log-level beats MANDATE_LOG_LEVEL beats log.level in mandate.yaml.
  const log = createLogger(opts.logLevel ?? process.env['MANDATE_LOG_LEVEL'] ?? 'info');
  const rt = await openRuntime(dir, (configLevel) => {
    if (!opts.logLevel && !process.env['MANDATE_LOG_LEVEL']) log.level = configLevel;
    return log;
  });
  if (!rt.kernel.contractOf(agent)) {
    rt.close();
    throw new UsageError(`unknown agent \`${agent}\`: no contract in ${rt.workspace.config.paths.contracts}/ (known: ${[...rt.workspace.contracts.keys()].join(', ')})`);
  }
  const server = createMcpServer(rt.kernel, agent, 'stdio');
  // A re-pin (`mandate upstream pin`, another process) changes the upstream tools this agent sees.
  rt.gateway.onChange(() => {
    server.sendToolListChanged().catch(() => undefined);
  });
  // Housekeeping: expire overdue escalations and interventions, abort
  // running handlers that another process (the CLI) terminated, and pick up
  // re-pinned upstream tools.
  let since = Date.now();
  const sweep = setInterval(() => {
    try {
      const now = Date.now();
      rt.kernel.abortTerminated(since - SWEEP_MS);
      since = now;
      rt.kernel.expireOverdue();
      rt.kernel.expireInterventions();
      rt.gateway.refresh();
    } catch (err) {
      log.error({ err: { name: (err as Error).name } }, 'housekeeping sweep failed');
    }
  }, SWEEP_MS);
  sweep.unref();

  let closed = false;
  const shutdown = async () => {
    if (closed) return;
    closed = true;
    clearInterval(sweep);
    await server.close().catch(() => undefined);
    await rt.kernel.settle(); // a running challenger call (bounded by normalizer.timeout_ms) records its result first
    await rt.shutdown(); // stops the upstream servers this process started, then closes the store
    log.info({ agent }, 'stopped');
    log.flush();
  };
  server.onclose = () => void shutdown();
  process.once('SIGINT', () => void shutdown().then(() => process.exit(0)));
  process.once('SIGTERM', () => void shutdown().then(() => process.exit(0)));
  await server.connect(new StdioServerTransport());
  log.info({ agent, workspace: dir, policy_set_hash: rt.workspace.policySet.hash }, 'serving over stdio');
}
