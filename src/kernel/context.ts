import type { KeyObject } from 'node:crypto';
import type { Capability } from '../capabilities/manifest.js';
import type { Contract } from '../config/contract-schema.js';
import type { Workspace } from './loaded-set.js';
import type { Logger } from '../core/log.js';
import type { ReceiptSigner } from '../core/receipt.js';
import type { Normalizer } from '../core/normalizer.js';
import type { World } from '../core/world.js';
import type { PolicyEngine } from '../policy/engine.js';
import type { StorePort } from '../store/port/index.js';
import type { Breakers } from './breaker.js';
import type { DelegationRegistry } from './delegation/chain.js';
import type { Inflight } from './inflight.js';
import type { KernelObserver } from './observer.js';
import type { SectionLocks } from './sections.js';
import type { Tracer } from '../telemetry/port.js';

export interface KernelDeps {
  workspace: Workspace;
  store: StorePort;
  world: World;
  log: Logger;
  /** Turns free-text intents into proposals; absent: they are refused with NORMALIZER_UNAVAILABLE. */
  normalizer?: Normalizer | undefined;
  /** This process's runner id: a started effect names it, so crash recovery knows whose effects are orphaned (ADR-017). */
  runner?: string | undefined;
  /** Signs each governed answer's receipt (ADR-016); absent: receipts are `{ seq, hash }` only. */
  receipts?: ReceiptSigner | undefined;
  /** The workspace's signing key: verifies delegation tokens (ADR-022); absent: a call with a token is refused. */
  tokenKey?: KeyObject | undefined;
  /** Timing hooks (metrics); absent by default. */
  observer?: KernelObserver | undefined;
  /** Spans for each stage (ADR-026); absent: the no-op tracer. */
  tracer?: Tracer | undefined;
}

/** What every stage and kernel module may use: the injected world and the kernel's shared parts. */
export interface KernelCore {
  readonly deps: KernelDeps;
  readonly policy: PolicyEngine;
  readonly breakers: Breakers;
  readonly inflight: Inflight;
  /** Effect sections: one call at a time per resource (ADR-017). */
  readonly sections: SectionLocks;
  /** Sub-mandates: delegated agents and their chains (ADR-022). */
  readonly delegations: DelegationRegistry;
  /** The hash of the loaded set (contracts, policies, capability modules) this call is decided under; `/readyz` reports the same. */
  readonly setHash: string;
  contractOf(agent: string): Contract | undefined;
  grantedCapabilities(agent: string): Capability[];
}
