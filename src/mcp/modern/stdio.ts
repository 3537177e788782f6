/**
 * One stdio connection at revision 2026-07-28 (ADR-020): the SDK's
 * `serveStdio` pinned to the modern era over this era's share of the
 * connection Mandate already reads (bounded lines, era-router.ts), from
 * the same createModernServer as over HTTP. The agent is the one the launch
 * configuration named.
 */
import { serveStdio, type StdioServerHandle } from '@modelcontextprotocol/server/stdio';
import type { Transport } from '@modelcontextprotocol/server';
import type { Logger } from '../../core/log.js';
import type { Runtime } from '../../runtime.js';
import type { LaneTransport } from '../era-router.js';
import { requestStateKey } from './request-state.js';
import { HeldCalls } from './held-calls.js';
import { forwardListChanges } from './list-changes.js';
import { GovernedListenTransport } from './governed-listens.js';
import { admitListen, publishOnce } from './resource-subscriptions.js';
import { createModernServer } from './server.js';

export function serveModernStdio(rt: Runtime, agent: string, transport: LaneTransport, log: Logger): StdioServerHandle {
  // One process serves every round of an approval here, so a per-process key would do; the signing key is used when there is one.
  const { key } = requestStateKey(rt.signingKey);
  const held = new HeldCalls();
  let stopChanges = () => {};
  let server: ReturnType<typeof createModernServer> | undefined;
  // An upstream's resource update is told once on the connection; the SDK gives it to each listen that follows the URI.
  const updated = publishOnce((uri) => void server?.sendResourceUpdated({ uri }).catch(() => undefined));
  const governed = new GovernedListenTransport(transport as unknown as Transport, (message) =>
    admitListen(rt.kernel, agent, rt.gateway, message, updated, AbortSignal.timeout(rt.kernel.workspace.config.limits.default_deadline_ms)),
  );
  const handle = serveStdio(
    () => {
      // One instance is pinned for the connection: its change notifications go onto the connection's listen streams.
      const instance = createModernServer(rt.kernel, agent, 'stdio', { stateKey: key, held }, rt.gateway);
      server = instance;
      stopChanges();
      const quiet = (send: () => Promise<void>) => void send().catch(() => undefined);
      stopChanges = forwardListChanges(rt, {
        toolsChanged: () => quiet(() => instance.sendToolListChanged()),
        resourcesChanged: () => quiet(() => instance.sendResourceListChanged()),
        promptsChanged: () => quiet(() => instance.sendPromptListChanged()),
      });
      return instance;
    },
    {
      transport: governed,
      legacy: 'reject',
      onerror: (err) => log.debug({ err: { name: err.name } }, 'mcp 2026-07-28 message refused or failed'),
    },
  );
  return {
    close: () => {
      stopChanges();
      return handle.close();
    },
  };
}
