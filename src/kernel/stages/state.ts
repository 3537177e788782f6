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

/*
 * What the stages of one governed call learn, in pipeline order. Each state
 * is the one before it with what one stage filled, so a stage is given, as
 * required fields, everything the stages before it learnt. One object goes
 * through the whole pipeline: a stage adds its fields to it (`extend`), and the
 * pipeline reads them from the same object when the call ends (CallState).
 */

/** The call as it arrives, before any stage ran. */
export interface ArrivedState {
  call: GovernedCall;
  flow: Flow;
  receivedAt: number;
  /** The caller's plan, when the call names one of its own (ADR-025). */
  plan?: HeldPlan;
  /** The reads the store answered ahead (ADR-028); absent: the stages read one by one. */
  reads?: CallReads;
}

/** Received (`receive`): the intent on the record, by hashes. */
export interface ReceivedState extends ArrivedState {
  /** The intent's canonical JSON, or null if it has none (a cycle, a bigint). */
  rawText: string | null;
  isText: boolean;
  requestHash: string;
}

/** The caller stands (`checkStanding`): its contract, its agent and flow active. */
export interface StandingState extends ReceivedState {
  contract: Contract;
}

/** Shaped (`checkShape`): the intent within bounds and its schema. */
export interface ShapedState extends StandingState {
  /** The intent as its schema read it (structured or free text). */
  shaped: Intent | TextIntent;
  /** The caller's idempotency key, if it gave one. */
  callerKey: string | undefined;
}

/** The structured intent (`normalize`): the caller's own, or the model's proposal for its text. */
export interface IntentState extends ShapedState {
  intent: Intent;
}

/** Bound (`bindCapability`): the capability the intent names, its params if granted, and the key's request identity. */
export interface BoundState extends IntentState {
  capability: Capability | undefined;
  params: SchemaParse<Values> | undefined;
  /** The key's request identity: the params as the capability reads them. */
  keyHash: string;
}

/** Validated (`validate`, DIM): a granted capability, its params, facts and values. */
export interface ValidatedState extends BoundState {
  capability: Capability;
  usage: UsageSnapshot;
  validated: { params: Values; facts: Facts; values: Values; factsHash: string };
  /** The context Cedar sees, each value as the capability's schema types it. */
  policyContext: Record<string, CedarValueJson>;
}

/** Decided (`decidePolicy`): Cedar's verdict, a permit or an escalation once the stage goes on. */
export interface DecidedState extends ValidatedState {
  verdict: PolicyVerdict;
  /** The policy request as Cedar was given it (canonical JSON) and its hash, for the record (ADR-023). */
  policyInput: { text: string; hash: string };
}

/** The call's state as the pipeline sees it when the call ends: what the stages that ran filled, the rest absent. */
export type CallState = ArrivedState & Partial<DecidedState>;

/** A stage's way on: the state the next stage is given. */
export interface Next<S> {
  next: S;
}

/**
 * A stage ends the call with its outcome, or goes on with the state it was
 * given, extended with what it learnt (`Out`; the same state when it learns
 * nothing). A stage that always ends the call goes on to `never`.
 */
export type Stage<In, Out = In> = (k: KernelCore, s: In) => Promise<Outcome | Next<Out>> | Outcome | Next<Out>;

/**
 * The state with what a stage learnt added to it. The fields are set on the
 * state object itself, so the pipeline's view of the call (CallState) holds
 * them even if this or a later stage ends the call.
 */
export function extend<S extends object, F extends object>(s: S, fields: F): S & F {
  return Object.assign(s, fields);
}

/** Goes on to the next stage with this state. */
export function next<S>(s: S): Next<S> {
  return { next: s };
}
