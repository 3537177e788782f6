import { hostname } from 'node:os';
import { loadWorkspace } from '../../workspace/load.js';
import { ConfigError } from '../../config/problems.js';
import { pinnedToolTypes } from '../../gateway/capability.js';
import { EXIT, operatorName, printJson, withRuntime } from '../common.js';

export interface ReloadOptions {
  workspace?: string;
  as?: string;
  json?: boolean;
}

/**
 * `mandate reload`: checks the workspace's contracts, policies and capability
 * modules, then sends SIGHUP to every serving process of this workspace on
 * this host (the store's runners), each of which reloads and records
 * `WorkspaceReloaded`. The request is recorded as `ReloadRequested` with who
 * asked. A broken set is reported here and nothing is signalled (exit 2).
 * Replicas on other hosts: `POST /api/v1/reload`.
 */
export async function reloadCommand(opts: ReloadOptions): Promise<number> {
  const by = `operator:${operatorName(opts.as)}`;
  return withRuntime(opts.workspace, undefined, async (rt) => {
    const pins = (await rt.store.pins.list()).filter((p) => rt.workspace.config.upstreams[p.server]);
    const loaded = await loadWorkspace(rt.workspace.dir, { pinnedTools: (config) => pinnedToolTypes(pins, config), fresh: 'check' });
    if (!loaded.workspace) throw new ConfigError(loaded.problems);
    const here = hostname();
    const signalled: number[] = [];
    for (const runner of await rt.store.runners.list()) {
      if (runner.host !== here || runner.pid === process.pid) continue;
      try {
        process.kill(runner.pid, 'SIGHUP');
        signalled.push(runner.pid);
      } catch {
        // gone: crash recovery forgets it
      }
    }
    const world = rt.kernel.deps.world;
    await rt.store.commit([{ op: 'event', event: { dfid: world.newTraceId(), agent: by, type: 'ReloadRequested', decision_id: null, reasons: [], data: { by, host: here, pids: signalled } } }]);
    if (opts.json) printJson({ ok: true, signalled });
    else process.stdout.write(signalled.length ? `asked ${signalled.length} serving process(es) on ${here} to reload: ${signalled.join(', ')}; each records WorkspaceReloaded\n` : `no serving process of this workspace runs on ${here}\n`);
    return EXIT.ok;
  });
}
