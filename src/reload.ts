import { MEMORY_WRITE_ID, memoryWriteCapability } from './capabilities/builtin/memory-write.js';
import { requireWorkspace } from './workspace/load.js';
import { loadedSetHash, type Workspace } from './kernel/loaded-set.js';
import { ConfigError, type Problem } from './config/problems.js';
import type { Logger } from './core/log.js';
import type { Receipt } from './core/types.js';
import { pinnedToolTypes } from './gateway/capability.js';
import { delegateCapability } from './kernel/delegation/capability.js';
import { DelegationRegistry } from './kernel/delegation/chain.js';
import { DELEGATE_ID } from './kernel/delegation/request.js';
import type { Runtime } from './runtime.js';

export type ReloadResult =
  | { ok: true; set_hash: string; previous_set_hash: string; changed: boolean; receipt: Receipt | null; config_ignored: boolean }
  | { ok: false; set_hash: string; problems: Problem[]; receipt: Receipt | null };

let reloads = 0;

/**
 * Live reload of contracts, policies and capability modules (ADR-023). The
 * new set is loaded, compiled, type-checked (pinned upstream tools included)
 * and its policies parsed before anything changes; a set with any problem is
 * refused whole and the old one keeps serving. Calls in flight finish under
 * the set they started with (`Kernel.govern` fixes it per call). mandate.yaml
 * itself is not re-applied: store, HTTP, limits and upstreams need a restart.
 * Either way the attempt is on the ledger (`WorkspaceReloaded`) with who asked.
 */
export async function reloadWorkspace(rt: Runtime, by: string, log: Logger): Promise<ReloadResult> {
  const before = rt.workspace;
  const previous = loadedSetHash(before);
  const world = rt.kernel.deps.world;
  const record = async (data: Record<string, unknown>): Promise<Receipt | null> => {
    const r = await rt.store.commit([{ op: 'event', event: { dfid: world.newTraceId(), agent: by, type: 'WorkspaceReloaded', decision_id: null, reasons: [], data: { by, ...data } } }]);
    return r.ok ? (r.receipts[0] ?? null) : null;
  };
  let next: Workspace;
  try {
    const pins = (await rt.store.pins.list()).filter((p) => before.config.upstreams[p.server]);
    const loaded = await requireWorkspace(before.dir, { pinnedTools: (config) => pinnedToolTypes(pins, config), fresh: String(++reloads) });
    next = { ...loaded, config: before.config, storePath: before.storePath };
    next.capabilities.set(MEMORY_WRITE_ID, memoryWriteCapability(rt.store, next.contracts));
    next.capabilities.set(DELEGATE_ID, delegateCapability(rt.store, () => rt.kernel.delegations, next.contracts));
    // Delegated agents stay known to credentials and tool lists from the first call under the new set (as at start).
    const delegations = new DelegationRegistry(rt.store, next.contracts);
    await delegations.preload();
    // The pinned upstream tools join the new map first, so no call sees the set without them.
    await rt.gateway.rebind(next.capabilities);
    try {
      rt.kernel.replaceSet(next, delegations);
    } catch (err) {
      await rt.gateway.rebind(before.capabilities);
      throw err;
    }
    // mandate.yaml is read for the paths only; say so if it changed in anything else.
    const configIgnored = JSON.stringify(loaded.config) !== JSON.stringify(before.config);
    const setHash = loadedSetHash(next);
    const receipt = await record({ ok: true, set_hash: setHash, previous_set_hash: previous, policy_set_hash: next.policySet.hash, config_ignored: configIgnored });
    log.info({ step: 'reload', by, set_hash: setHash, previous_set_hash: previous, config_ignored: configIgnored }, setHash === previous ? 'reloaded; the set is unchanged' : 'reloaded a new set');
    if (configIgnored) log.warn({ step: 'reload' }, 'mandate.yaml changed: only contracts, policies and capability modules are reloaded; restart for the rest');
    return { ok: true, set_hash: setHash, previous_set_hash: previous, changed: setHash !== previous, receipt, config_ignored: configIgnored };
  } catch (err) {
    const problems: Problem[] = err instanceof ConfigError ? err.problems : [{ file: '(workspace)', path: '(set)', message: (err as Error)?.message ?? String(err), hint: 'fix it and reload again' }];
    const receipt = await record({ ok: false, set_hash: previous, problems: problems.length });
    log.warn({ step: 'reload', by, problems: problems.length, set_hash: previous }, 'reload refused: the new set has problems; the old one keeps serving');
    return { ok: false, set_hash: previous, problems, receipt };
  }
}
