import { MEMORY_WRITE_ID, memoryWriteCapability } from './capabilities/builtin/memory-write.js';
import { requireWorkspace, type Workspace } from './config/load-workspace.js';
import type { Logger } from './core/log.js';
import { systemWorld, type World } from './core/world.js';
import { Gateway } from './gateway/gateway.js';
import type { Environment } from './gateway/secrets.js';
import { Kernel } from './kernel/kernel.js';
import { OllamaNormalizer } from './normalize/ollama.js';
import type { KernelObserver } from './kernel/observer.js';
import { openStore, type Store } from './store/store.js';

export interface Runtime {
  workspace: Workspace;
  store: Store;
  kernel: Kernel;
  /** The upstream MCP servers and their pinned tools (ADR-008). */
  gateway: Gateway;
  /** Closes the store. Upstreams a command started must be stopped first: `shutdown()`. */
  close(): void;
  /** Stops every upstream this runtime started, then closes the store. */
  shutdown(): Promise<void>;
}

export interface RuntimeOptions {
  /** Timing hooks for the kernel (the HTTP server's metrics). */
  observer?: KernelObserver | undefined;
  /** Where upstreams' `{ from_env }` secrets are read (default: process.env). */
  env?: Environment;
}

/** The composition root: the only place that wires the concrete store, world, normalizer, gateway and kernel together. */
export async function openRuntime(dir: string, logger: Logger | ((configLevel: string) => Logger), world: World = systemWorld, opts: RuntimeOptions = {}): Promise<Runtime> {
  const workspace = await requireWorkspace(dir);
  const log = typeof logger === 'function' ? logger(workspace.config.log.level) : logger;
  const store = openStore(workspace.storePath, world);
  try {
    const seeds = workspace.memorySeeds.flatMap((s) => s.records.map((r) => ({ scope: s.scope, key: r.key, sensitivity: r.sensitivity, value: r.value })));
    const packs = workspace.memorySeeds.flatMap((s) => Object.entries(s.packs).map(([pack, keys]) => ({ scope: s.scope, pack, keys })));
    store.memory.seed(seeds, packs, world.now());
    store.idempotency.purgeExpired(world.now());
    store.tasks.purgeExpired(world.now());
    workspace.capabilities.set(MEMORY_WRITE_ID, memoryWriteCapability(store.memory, workspace.contracts));
    // Free-text intents only where mandate.yaml has a `normalizer:` block (ADR-006).
    const normalizer = workspace.config.normalizer ? new OllamaNormalizer(workspace.config.normalizer) : undefined;
    // Pinned upstream tools join the capabilities; upstreams themselves start on first use.
    const gateway = new Gateway({ config: workspace.config, workspaceDir: workspace.dir, capabilities: workspace.capabilities, store, world, log, env: opts.env });
    gateway.refresh();
    const kernel = new Kernel({ workspace, store, world, log, normalizer, observer: opts.observer });
    return {
      workspace,
      store,
      kernel,
      gateway,
      close: () => store.close(),
      shutdown: async () => {
        await gateway.close();
        store.close();
      },
    };
  } catch (err) {
    store.close();
    throw err;
  }
}

const SWEEP_MS = 500;

/**
 * Housekeeping for a serving process: expires overdue escalations and
 * interventions, drops MCP tasks past their TTL, aborts running handlers that another process (the CLI,
 * another replica) terminated, and picks up re-pinned upstream tools.
 * Returns the function that stops it.
 */
export function startHousekeeping(rt: Runtime, log: Logger): () => void {
  let since = Date.now();
  const sweep = setInterval(() => {
    try {
      const now = Date.now();
      rt.kernel.abortTerminated(since - SWEEP_MS);
      since = now;
      rt.kernel.expireOverdue();
      rt.kernel.expireInterventions();
      rt.store.tasks.purgeExpired(now); // MCP tasks past their TTL (ADR-014)
      rt.gateway.refresh(); // pick up upstream tools re-pinned by another process
    } catch (err) {
      log.error({ err: { name: (err as Error).name } }, 'housekeeping sweep failed');
    }
  }, SWEEP_MS);
  sweep.unref();
  return () => clearInterval(sweep);
}
