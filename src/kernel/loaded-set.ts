import type { Capability } from '../capabilities/manifest.js';
import type { Contract } from '../config/contract-schema.js';
import type { MemorySeed } from '../config/memory-schema.js';
import type { WorkspaceConfig } from '../config/workspace-schema.js';
import { hashOf } from '../core/canonical.js';
import type { CompiledPolicySet } from '../policy/compile.js';

/**
 * A workspace as loaded and checked (src/workspace/load.ts): the set a kernel
 * serves. Defined here, below the loader, because the loader builds the
 * kernel's built-in `delegation.create` while the kernel serves the result
 * (ADR-033).
 */
export interface Workspace {
  dir: string;
  config: WorkspaceConfig;
  /** The SQLite file (a sqlite store), else empty: a PostgreSQL store is named by `config.store`. */
  storePath: string;
  contracts: Map<string, Contract>;
  capabilities: Map<string, Capability>;
  policySet: CompiledPolicySet;
  memorySeeds: MemorySeed[];
  /** Capabilities whose policies could not be type-checked, with why (validate prints them as notes). */
  untypedCapabilities: string[];
}

/**
 * The hash of the set a process serves: the compiled policy set, each
 * contract as loaded, and each in-process capability's id, version and
 * source (ADR-023). Replicas that report different hashes serve different
 * sets. The contracts count whole: their budgets, steward gates, drift
 * monitors and periods decide calls without compiling to Cedar.
 */
export function loadedSetHash(workspace: Pick<Workspace, 'policySet' | 'capabilities' | 'contracts'>): string {
  const byId = (a: readonly unknown[], b: readonly unknown[]) => String(a[0]).localeCompare(String(b[0]));
  const modules = [...workspace.capabilities.values()].filter((c) => !c.upstream).map((c) => [c.def.id, c.def.version, c.source]).sort(byId);
  const contracts = [...workspace.contracts].map(([agent, c]) => [agent, hashOf(c)]).sort(byId);
  return hashOf({ policy_set: workspace.policySet.hash, contracts, capabilities: modules });
}
