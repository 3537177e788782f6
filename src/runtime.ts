import { MEMORY_WRITE_ID, memoryWriteCapability } from './capabilities/builtin/memory-write.js';
import { requireWorkspace, type Workspace } from './config/load-workspace.js';
import type { Logger } from './core/log.js';
import { systemWorld, type World } from './core/world.js';
import { Gateway } from './gateway/gateway.js';
import type { Environment } from './gateway/secrets.js';
import { Kernel } from './kernel/kernel.js';
import { OllamaNormalizer } from './normalize/ollama.js';
import type { KernelObserver } from './kernel/observer.js';
import type { StorePort } from './store/port.js';
import { openStorePort } from './store/open.js';
import { isPgPort } from './store/pg/port.js';
import { shareBreakers } from './store/pg/shared-breakers.js';

export interface Runtime {
  workspace: Workspace;
  store: StorePort;
  kernel: Kernel;
  /** The upstream MCP servers and their pinned tools (ADR-008). */
  gateway: Gateway;
  /** Closes the store. Upstreams a command started must be stopped first: `shutdown()`. */
  close(): Promise<void>;
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
  const store = await openStorePort(workspace, world);
  try {
    const seeds = workspace.memorySeeds.flatMap((s) => s.records.map((r) => ({ scope: s.scope, key: r.key, sensitivity: r.sensitivity, value: r.value })));
    const packs = workspace.memorySeeds.flatMap((s) => Object.entries(s.packs).map(([pack, keys]) => ({ scope: s.scope, pack, keys })));
    await store.memory.seed(seeds, packs, world.now());
    await store.idempotency.purgeExpired(world.now());
    workspace.capabilities.set(MEMORY_WRITE_ID, memoryWriteCapability(store, workspace.contracts));
    // Free-text intents only where mandate.yaml has a `normalizer:` block (ADR-006).
    const normalizer = workspace.config.normalizer ? new OllamaNormalizer(workspace.config.normalizer) : undefined;
    // Pinned upstream tools join the capabilities; upstreams themselves start on first use.
    const gateway = new Gateway({ config: workspace.config, workspaceDir: workspace.dir, capabilities: workspace.capabilities, store, world, log, env: opts.env });
    await gateway.refresh();
    const kernel = new Kernel({ workspace, store, world, log, normalizer, observer: opts.observer });
    // Replicas on one PostgreSQL store share their circuit breakers (ADR-015).
    const unshare = isPgPort(store)
      ? await shareBreakers(kernel.breakers, store, () => world.now(), (err) => log.warn({ err: { name: (err as Error).name } }, 'sharing a circuit breaker failed'))
      : () => undefined;
    return {
      workspace,
      store,
      kernel,
      gateway,
      close: async () => {
        unshare();
        await store.close();
      },
      shutdown: async () => {
        unshare();
        await gateway.close();
        await kernel.settle();
        await store.close();
      },
    };
  } catch (err) {
    await store.close();
    throw err;
  }
}

const SWEEP_MS = 500;

/**
 * Housekeeping for a serving process: expires overdue escalations and
 * interventions, aborts running handlers that another process (the CLI,
 * another replica) terminated, and picks up re-pinned upstream tools. A
 * store that pushes (PostgreSQL) also wakes the termination check the moment
 * an intervention commits on any replica; the sweep stays as the fallback.
 * Returns the function that stops it.
 */
export function startHousekeeping(rt: Runtime, log: Logger): () => void {
  let since = Date.now();
  let checking: Promise<void> | null = null;
  let again = false;
  // One check at a time; a push during a check asks for one more after it.
  const checkTerminations = (): Promise<void> => {
    if (checking) {
      again = true;
      return checking;
    }
    checking = (async () => {
      try {
        do {
          again = false;
          const now = Date.now();
          await rt.kernel.abortTerminated(since - SWEEP_MS);
          since = now;
        } while (again);
      } finally {
        checking = null;
      }
    })();
    return checking;
  };
  const fail = (err: unknown) => log.error({ err: { name: (err as Error).name } }, 'housekeeping sweep failed');
  const off = rt.store.notifications?.on('intervention', () => void checkTerminations().catch(fail));
  let busy = false;
  const sweep = setInterval(() => {
    if (busy) return; // a slow sweep is not overlapped by the next
    busy = true;
    void (async () => {
      try {
        await checkTerminations();
        await rt.kernel.expireOverdue();
        await rt.kernel.expireInterventions();
        await rt.gateway.refresh(); // pick up upstream tools re-pinned by another process
      } catch (err) {
        fail(err);
      } finally {
        busy = false;
      }
    })();
  }, SWEEP_MS);
  sweep.unref();
  return () => {
    clearInterval(sweep);
    off?.();
  };
}
