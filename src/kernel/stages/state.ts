import type { Capability, Facts, SchemaParse, Values } from '../../capabilities/manifest.js';
import type { Contract } from '../../config/contract-schema.js';
import type { GovernedCall, Intent, Outcome, TextIntent } from '../../core/types.js';
import type { CedarValueJson } from '@cedar-policy/cedar-wasm/nodejs';
import type { PolicyVerdict } from '../../policy/engine.js';
import type { KernelCore } from '../context.js';
import type { UsageSnapshot } from '../dim.js';
import type { Flow } from '../flow.js';
import type { HeldPlan } from '../plans/steps.js';
import type { CallReads } from '../read-ahead.js';

/** What the stages of one governed call learn, in pipeline order; each stage fills its part. */
export interface CallState {
  call: GovernedCall;
  flow: Flow;
  receivedAt: number;
  /** The intent's canonical JSON, or null if it has none (a cycle, a bigint). */
  rawText: string | null;
  isText: boolean;
  requestHash: string;
  contract?: Contract;
  /** The intent as its schema read it (structured or free text). */
  shaped?: Intent | TextIntent;
  /** The caller's idempotency key, if it gave one. */
  callerKey?: string | undefined;
  intent?: Intent;
  capability?: Capability | undefined;
  params?: SchemaParse<Values> | undefined;
  /** The key's request identity: the params as the capability reads them. */
  keyHash?: string;
  usage?: UsageSnapshot;
  validated?: { params: Values; facts: Facts; values: Values; factsHash: string };
  /** The context Cedar sees, each value as the capability's schema types it. */
  policyContext?: Record<string, CedarValueJson>;
  verdict?: PolicyVerdict;
  /** The caller's plan, when the call names one of its own (ADR-025). */
  plan?: HeldPlan;
  /** The reads the store answered ahead (ADR-028); absent: the stages read one by one. */
  reads?: CallReads;
  /** The policy request as Cedar was given it (canonical JSON) and its hash, for the record (ADR-023). */
  policyInput?: { text: string; hash: string };
}

/** A stage goes on (undefined) or ends the call with its outcome. */
export type Stage = (k: KernelCore, s: CallState) => Promise<Outcome | undefined> | Outcome | undefined;
