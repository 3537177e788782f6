import { createPublicKey, type KeyObject } from 'node:crypto';
import { resolve } from 'node:path';
import { lastCheckpoint } from './anchor/checkpoint.js';
import { Checkpointer } from './anchor/checkpointer.js';
import { loadSigningKey } from './anchor/signing-key.js';
import { MEMORY_WRITE_ID, memoryWriteCapability } from './capabilities/builtin/memory-write.js';
import { delegateCapability } from './kernel/delegation/capability.js';
import { DELEGATE_ID } from './kernel/delegation/request.js';
import { requireWorkspace } from './workspace/load.js';
import type { Workspace } from './kernel/loaded-set.js';
import type { Logger } from './core/log.js';
import { receiptSigner } from './core/receipt.js';
import { keyId } from './core/signed.js';
import { systemWorld, type World } from './core/world.js';
import { pinnedToolTypes } from './gateway/capability.js';
import { reloadWorkspace, type ReloadResult } from './reload.js';
import { Gateway } from './gateway/gateway.js';
import type { Environment } from './gateway/secrets.js';
import { Kernel } from './kernel/kernel.js';
import { OllamaNormalizer } from './normalize/ollama.js';
import type { KernelObserver } from './kernel/observer.js';
import type { StorePort } from './store/port/index.js';
import { openStorePort } from './store/open.js';
import { hostname } from 'node:os';
import { isPgPort } from './store/pg/port.js';
import { shareBreakers } from './store/pg/shared-breakers.js';
import { SERVER_INFO } from './core/server-info.js';
import { openTracer } from './telemetry/config.js';
import { noopTracer, type Tracer } from './telemetry/port.js';

export interface Runtime {
  /** The set being served now (a live reload replaces it). */
  readonly workspace: Workspace;
  store: StorePort;
  kernel: Kernel;
  /** The upstream MCP servers and their pinned tools (ADR-008). */
  gateway: Gateway;
  /** The workspace's Ed25519 signing key, when mandate.yaml has a `signing:` block and the key loads (ADR-016). */
  signingKey?: KeyObject | undefined;
  /** Live reload (src/reload.ts): one at a time; `by` is who asked, for the ledger. */
  reload(by: string): Promise<ReloadResult>;
  /** Called after each reload that was applied. */
  /** Hears each successful reload until the returned function is called. */
  onReload(listener: (r: Extract<ReloadResult, { ok: true }>) => void): () => void;
  /** Spans of MCP requests, stages and upstream calls (ADR-026): the no-op tracer unless tracing is on. */
  tracer: Tracer;
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
  /** Fail when mandate.yaml configures a signing key that cannot be loaded (serve); otherwise warn and sign nothing. */
  requireSigningKey?: boolean;
  /** A serving process: trace when OTEL_* or mandate.yaml `telemetry:` says so (ADR-026). Other commands never trace. */
  tracing?: boolean;
}

/** The composition root: the only place that wires the concrete store, world, normalizer, gateway and kernel together. */
export async function openRuntime(dir: string, logger: Logger | ((configLevel: string) => Logger), world: World = systemWorld, opts: RuntimeOptions = {}): Promise<Runtime> {
  const loaded = await requireWorkspace(dir);
  const log = typeof logger === 'function' ? logger(loaded.config.log.level) : logger;
  // `mandate test` runs on a temporary SQLite file, whatever store the workspace names.
  const store = await openStorePort(opts.storePath ? { config: { store: { kind: 'sqlite', path: opts.storePath } }, storePath: opts.storePath } : loaded, world);
  try {
    // Grants and policies on pinned upstream tools are compiled and type-checked against the pins (ADR-012).
    const workspace = await withPinnedTypes(loaded, store);
    const seeds = workspace.memorySeeds.flatMap((s) => s.records.map((r) => ({ scope: s.scope, key: r.key, sensitivity: r.sensitivity, value: r.value })));
    const packs = workspace.memorySeeds.flatMap((s) => Object.entries(s.packs).map(([pack, keys]) => ({ scope: s.scope, pack, keys })));
    await store.memory.seed(seeds, packs, world.now());
    await store.idempotency.purgeExpired(world.now());
    await store.commit([{ op: 'tasks.purge', now: world.now() }]);
    // Policy inputs past their retention (ADR-023); 0 days keeps none.
    await store.commit([{ op: 'policy_inputs.purge', before: world.now() - workspace.config.retention.policy_inputs_days * 86_400_000 + (workspace.config.retention.policy_inputs_days ? 0 : 1) }]);
    workspace.capabilities.set(MEMORY_WRITE_ID, memoryWriteCapability(store, workspace.contracts));
    let kernelRef: Kernel | null = null;
    // The registry is read at each call: a live reload replaces it.
    workspace.capabilities.set(DELEGATE_ID, delegateCapability(store, () => kernelRef?.delegations ?? null, workspace.contracts));
    // Free-text intents only where mandate.yaml has a `normalizer:` block (ADR-006).
    const normalizer = workspace.config.normalizer && !opts.noNormalizer ? new OllamaNormalizer(workspace.config.normalizer) : undefined;
    const tracer = opts.tracing ? await openTracer(workspace.config.telemetry, process.env, log, SERVER_INFO.version) : noopTracer;
    // Pinned upstream tools join the capabilities; upstreams themselves start on first use.
    const gateway = new Gateway({ config: workspace.config, workspaceDir: workspace.dir, capabilities: workspace.capabilities, store, world, log, env: opts.env, tracer });
    await gateway.refresh();
    // This process, as a runner of effects: crash recovery elsewhere must know it is alive (ADR-017).
    const runner = { id: world.newId(), host: hostname(), pid: process.pid, started_at: world.now(), heartbeat_at: world.now() };
    await store.commit([{ op: 'runner.beat', row: runner }]);
    const heartbeat = setInterval(() => {
      void store.commit([{ op: 'runner.beat', row: { ...runner, heartbeat_at: world.now() } }]).catch(() => undefined);
    }, HEARTBEAT_MS);
    heartbeat.unref();
    const signingKey = openSigningKey(workspace, log, opts);
    const receipts = signingKey && workspace.config.signing?.receipts ? receiptSigner(signingKey) : undefined;
    const kernel = new Kernel({ workspace, store, world, log, normalizer, observer: opts.observer, runner: runner.id, receipts, tokenKey: signingKey, tracer });
    kernelRef = kernel;
    // Delegated agents are known from the start (credentials, tool lists); each call re-reads its chain anyway (ADR-022).
    await kernel.delegations.preload();
    const closeStore = async () => {
      clearInterval(heartbeat);
      await kernel.settle();
      await store.commit([{ op: 'runner.remove', id: runner.id }]).catch(() => undefined);
      await store.close();
    };
    // Replicas on one PostgreSQL store share their circuit breakers (ADR-015).
    const unshare = isPgPort(store)
      ? await shareBreakers(kernel.breakers, store, () => world.now(), (err) => log.warn({ err: { name: (err as Error).name } }, 'sharing a circuit breaker failed'))
      : () => undefined;
    let reloading: Promise<unknown> = Promise.resolve();
    const reloadListeners: ((r: Extract<ReloadResult, { ok: true }>) => void)[] = [];
    const rt: Runtime = {
      reload: (by) => {
        const next = reloading.then(async () => {
          const r = await reloadWorkspace(rt, by, log);
          if (r.ok) for (const l of reloadListeners) l(r);
          return r;
        });
        reloading = next.catch(() => undefined);
        return next;
      },
      onReload: (listener) => {
        reloadListeners.push(listener);
        return () => {
          const at = reloadListeners.indexOf(listener);
          if (at >= 0) reloadListeners.splice(at, 1);
        };
      },
      // The set being served: a live reload replaces it (src/reload.ts).
      get workspace() {
        return kernel.deps.workspace;
      },
      store,
      kernel,
      gateway,
      signingKey,
      tracer,
      close: async () => {
        unshare();
        await closeStore();
      },
      shutdown: async () => {
        unshare();
        await gateway.close();
        await closeStore();
        await tracer.close(); // the last spans are sent before the process ends
      },
    };
    return rt;
  } catch (err) {
    await store.close();
    throw err;
  }
}

/** The workspace loaded again with its pinned upstream tools typed, when any configured upstream has pins. */
export async function withPinnedTypes(workspace: Workspace, store: StorePort): Promise<Workspace> {
  const pins = (await store.pins.list()).filter((p) => workspace.config.upstreams[p.server]);
  if (!pins.length) return workspace;
  return requireWorkspace(workspace.dir, { pinnedTools: (config) => pinnedToolTypes(pins, config) });
}

function openSigningKey(workspace: Workspace, log: Logger, opts: RuntimeOptions): KeyObject | undefined {
  const signing = workspace.config.signing;
  if (!signing) return undefined;
  try {
    return loadSigningKey(signing, workspace.dir);
  } catch (err) {
    if (opts.requireSigningKey) throw err;
    log.warn({ err: { name: (err as Error).name } }, 'signing key not loaded; this command signs nothing');
    return undefined;
  }
}

/**
 * Starts signing checkpoints of the chain head (ADR-016) when the workspace
 * has a signing key; returns the function that writes the last one and stops.
 */
export function startCheckpointer(rt: Runtime, log: Logger, world: World = systemWorld): () => Promise<void> {
  const signing = rt.workspace.config.signing;
  if (!signing || !rt.signingKey) return async () => undefined;
  const ledger = rt.store.ledger;
  const path = resolve(rt.workspace.dir, signing.checkpoints.path);
  log.info({ checkpoints: path, key_id: keyId(rt.signingKey), every_events: signing.checkpoints.every_events, every_seconds: signing.checkpoints.every_seconds }, 'signing ledger checkpoints');
  void warnIfUnanchored(ledger, path, rt.signingKey, log);
  const checkpointer = new Checkpointer({
    // The head through the ledger's read API: the last event's seq and hash.
    readHead: async () => {
      const event = (await ledger.page((await ledger.headSeq()) - 1, 1))[0];
      return event ? { seq: event.seq, hash: event.hash } : null;
    },
    key: rt.signingKey,
    path,
    everyEvents: signing.checkpoints.every_events,
    everySeconds: signing.checkpoints.every_seconds,
    now: () => world.now(),
    log,
  });
  return checkpointer.start();
}

/**
 * At start, before signing anything new: the ledger must still hold the last
 * checkpointed event. If not (truncated, rewritten, or restored from an older
 * copy), say so loudly; `ledger verify --checkpoints` names the details.
 */
async function warnIfUnanchored(ledger: Runtime['store']['ledger'], path: string, key: KeyObject, log: Logger): Promise<void> {
  try {
    const last = lastCheckpoint(path, createPublicKey(key));
    if (!last) return;
    const held = (await ledger.page(last.seq - 1, 1))[0];
    if (held?.seq === last.seq && held.hash === last.hash) return;
    log.error({ checkpoint_seq: last.seq, checkpoint_time: last.time, head_seq: await ledger.headSeq() }, 'the ledger does not hold its last signed checkpoint (truncated or rewritten); run `mandate ledger verify --checkpoints`');
  } catch (err) {
    log.error({ err: { name: (err as Error)?.name } }, 'could not read the last checkpoint');
  }
}

const SWEEP_MS = 500;
/** How often a process tells the store it is alive. */
const HEARTBEAT_MS = 5_000;

/**
 * Housekeeping for a serving process: expires overdue escalations and
 * interventions, drops MCP tasks past their TTL, settles effects a crashed
 * process left without an outcome, aborts running handlers that another
 * process (the CLI, another replica) terminated, and picks up re-pinned
 * upstream tools. A store that pushes (PostgreSQL) also wakes the
 * termination check the moment an intervention commits on any replica; the
 * sweep stays as the fallback.
 * Returns the function that stops it, resolved once a sweep under way has
 * ended (so the store is not closed under it).
 */
export function startHousekeeping(rt: Runtime, log: Logger): () => Promise<void> {
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
  let busy: Promise<void> | null = null;
  const sweep = setInterval(() => {
    if (busy) return; // a slow sweep is not overlapped by the next
    busy = (async () => {
      try {
        await rt.kernel.recover(); // effects that a crashed process left without an outcome
        await checkTerminations();
        await rt.kernel.expireOverdue();
        await rt.kernel.expireInterventions();
        await rt.kernel.expireDelegations(); // sub-mandates past their expiry, on the ledger (ADR-022)
        await rt.store.commit([{ op: 'tasks.purge', now: rt.kernel.deps.world.now() }]); // MCP tasks past their TTL (ADR-014)
        await rt.gateway.refresh(); // pick up upstream tools re-pinned by another process
      } catch (err) {
        fail(err);
      } finally {
        busy = null;
      }
    })();
  }, SWEEP_MS);
  sweep.unref();
  return async () => {
    clearInterval(sweep);
    off?.();
    await busy;
    await checking?.catch(() => undefined); // a failed check was logged where it was started
  };
}
