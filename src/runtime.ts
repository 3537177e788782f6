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
import { hostname } from 'node:os';

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
  /** The store file to open instead of the workspace's own (`mandate test`: a temporary one). */
  storePath?: string;
  /** Never call a model (`mandate test`: no challenger review of its escalations, no network). */
  noNormalizer?: boolean;
}

/** The composition root: the only place that wires the concrete store, world, normalizer, gateway and kernel together. */
export async function openRuntime(dir: string, logger: Logger | ((configLevel: string) => Logger), world: World = systemWorld, opts: RuntimeOptions = {}): Promise<Runtime> {
  const workspace = await requireWorkspace(dir);
  const log = typeof logger === 'function' ? logger(workspace.config.log.level) : logger;
  const store = await openStorePort({ storePath: opts.storePath ?? workspace.storePath }, world);
  try {
    const seeds = workspace.memorySeeds.flatMap((s) => s.records.map((r) => ({ scope: s.scope, key: r.key, sensitivity: r.sensitivity, value: r.value })));
    const packs = workspace.memorySeeds.flatMap((s) => Object.entries(s.packs).map(([pack, keys]) => ({ scope: s.scope, pack, keys })));
    await store.memory.seed(seeds, packs, world.now());
    await store.idempotency.purgeExpired(world.now());
    await store.commit([{ op: 'tasks.purge', now: world.now() }]);
    workspace.capabilities.set(MEMORY_WRITE_ID, memoryWriteCapability(store, workspace.contracts));
    // Free-text intents only where mandate.yaml has a `normalizer:` block (ADR-006).
    const normalizer = workspace.config.normalizer && !opts.noNormalizer ? new OllamaNormalizer(workspace.config.normalizer) : undefined;
    // Pinned upstream tools join the capabilities; upstreams themselves start on first use.
    const gateway = new Gateway({ config: workspace.config, workspaceDir: workspace.dir, capabilities: workspace.capabilities, store, world, log, env: opts.env });
    await gateway.refresh();
    // This process, as a runner of effects: crash recovery elsewhere must know it is alive (ADR-017).
    const runner = { id: world.newId(), host: hostname(), pid: process.pid, started_at: world.now(), heartbeat_at: world.now() };
    await store.commit([{ op: 'runner.beat', row: runner }]);
    const heartbeat = setInterval(() => {
      void store.commit([{ op: 'runner.beat', row: { ...runner, heartbeat_at: world.now() } }]).catch(() => undefined);
    }, HEARTBEAT_MS);
    heartbeat.unref();
    const kernel = new Kernel({ workspace, store, world, log, normalizer, observer: opts.observer, runner: runner.id });
    const closeStore = async () => {
      clearInterval(heartbeat);
      await kernel.settle();
      await store.commit([{ op: 'runner.remove', id: runner.id }]).catch(() => undefined);
      await store.close();
    };
    return {
      workspace,
      store,
      kernel,
      gateway,
      close: closeStore,
      shutdown: async () => {
        await gateway.close();
        await closeStore();
      },
    };
  } catch (err) {
    await store.close();
    throw err;
  }
}

const SWEEP_MS = 500;
/** How often a process tells the store it is alive. */
const HEARTBEAT_MS = 5_000;

/**
 * Housekeeping for a serving process: expires overdue escalations and
 * interventions, drops MCP tasks past their TTL, aborts running handlers that another process (the CLI,
 * another replica) terminated, and picks up re-pinned upstream tools.
 * Returns the function that stops it.
 */
export function startHousekeeping(rt: Runtime, log: Logger): () => void {
  let since = Date.now();
  let busy = false;
  const sweep = setInterval(() => {
    if (busy) return; // a slow sweep is not overlapped by the next
    busy = true;
    void (async () => {
      try {
        const now = Date.now();
        await rt.kernel.recover(); // effects that a crashed process left without an outcome
        await rt.kernel.abortTerminated(since - SWEEP_MS);
        since = now;
        await rt.kernel.expireOverdue();
        await rt.kernel.expireInterventions();
        await rt.store.commit([{ op: 'tasks.purge', now: rt.kernel.deps.world.now() }]); // MCP tasks past their TTL (ADR-014)
        await rt.gateway.refresh(); // pick up upstream tools re-pinned by another process
      } catch (err) {
        log.error({ err: { name: (err as Error).name } }, 'housekeeping sweep failed');
      } finally {
        busy = false;
      }
    })();
  }, SWEEP_MS);
  sweep.unref();
  return () => clearInterval(sweep);
}
