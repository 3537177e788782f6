import type { Capability } from '../capabilities/manifest.js';
import type { Contract } from '../config/contract-schema.js';
import { grantFor } from '../config/contract-schema.js';
import { loadedSetHash, type Workspace } from './loaded-set.js';
import type { Channel, GovernedCall, Outcome } from '../core/types.js';
import { PolicyEngine } from '../policy/engine.js';
import * as approvals from './approvals.js';
import { Breakers } from './breaker.js';
import { checkCall, type CheckRequest, type CheckResult } from './check.js';
import { settleChallenges } from './challenger.js';
import type { KernelCore, KernelDeps } from './context.js';
import { DelegationRegistry } from './delegation/chain.js';
import { Inflight } from './inflight.js';
import { delegationTree, expireDelegations, revokeDelegation, type TreeNode } from './delegation/lifecycle.js';
import type { DelegationRow } from '../store/port/index.js';
import { govern } from './pipeline.js';
import { recoverStarted, settleDecision } from './recovery.js';
import { abandonPlan, planReport, resumePlan, type PlanReport } from './plans/operate.js';
import { submitPlan, type PlanSubmission } from './plans/submit.js';
import { changePlan } from './plans/amend.js';
import { InProcessSections, SharedSections, type SectionLocks } from './sections.js';
import { approvalWait } from '../telemetry/approval-span.js';

export type { KernelDeps } from './context.js';
export { KernelError, MAX_WAIT_MS } from './approvals.js';

/**
 * The governance kernel: composition only. The pipeline is a list of stage
 * modules (`pipeline.ts`, `stages/`), approvals and decision queries are in
 * `approvals.ts`, and every write goes through the store port's commit
 * points (ADR-010).
 */
export class Kernel implements KernelCore {
  /** Replaced whole by a live reload (`replaceSet`); a call in flight keeps the one it started with. */
  policy: PolicyEngine;
  readonly breakers: Breakers;
  readonly inflight = new Inflight();
  readonly sections: SectionLocks;
  /** Rebuilt by a live reload: it resolves chains against the contracts being served. */
  delegations: DelegationRegistry;

  /** Hashed once per set, not per call; replaced with the set. */
  setHash: string;

  /** The view calls are governed under (`pinned`). */
  private view: KernelCore | undefined;

  constructor(public deps: KernelDeps) {
    this.setHash = loadedSetHash(deps.workspace);
    this.delegations = new DelegationRegistry(deps.store, deps.workspace.contracts);
    this.policy = new PolicyEngine(deps.workspace.policySet);
    const { breaker } = deps.workspace.config;
    this.breakers = new Breakers({ failureThreshold: breaker.failure_threshold, cooldownMs: breaker.cooldown_ms });
    // A store shared by processes holds sections across them too (ADR-019); in-process waiters queue here first.
    const local = new InProcessSections();
    const shared = deps.store.sections;
    this.sections = shared
      ? new SharedSections(local, shared, () => deps.world.now(), (err) => deps.log.error({ step: 'section', err: { name: (err as Error)?.name } }, 'releasing an effect section failed; the store frees it with the session'))
      : local;
  }

  get workspace(): Workspace {
    return this.deps.workspace;
  }

  contractOf(agent: string): Contract | undefined {
    return this.deps.workspace.contracts.get(agent) ?? this.delegations.cached(agent);
  }

  /** Capabilities this agent's contract grants, in contract order (a glob's matches sorted by id). */
  grantedCapabilities(agent: string): Capability[] {
    const contract = this.contractOf(agent);
    if (!contract) return [];
    const all = [...this.deps.workspace.capabilities.values()].sort((a, b) => a.def.id.localeCompare(b.def.id));
    const out = new Map<string, Capability>();
    for (const g of contract.grants) {
      for (const cap of all) if (!out.has(cap.def.id) && grantFor(contract, cap.def.id) === g) out.set(cap.def.id, cap);
    }
    return [...out.values()];
  }

  /** Governs one call under the set loaded now, to the end, whatever a reload swaps in meanwhile. */
  govern(call: GovernedCall): Promise<Outcome> {
    return govern(this.pinned(), call);
  }

  /**
   * Serves a new set of contracts, policies and capability modules from the
   * next call on (live reload). The set must be loaded, compiled and
   * type-checked already; the policy engine is built here and a set that
   * fails to parse throws before anything changes.
   */
  replaceSet(workspace: Workspace, delegations = new DelegationRegistry(this.deps.store, workspace.contracts)): void {
    const policy = new PolicyEngine(workspace.policySet);
    this.deps = { ...this.deps, workspace };
    this.policy = policy;
    this.delegations = delegations;
    this.setHash = loadedSetHash(workspace);
  }

  /**
   * This kernel with its set fixed: what one call sees from start to end.
   * Its fields are read-only, so calls share one view until a field it pins
   * changes (a reload), instead of each building its own.
   */
  private pinned(): KernelCore {
    const v = this.view;
    if (v && v.deps === this.deps && v.policy === this.policy && v.delegations === this.delegations && v.setHash === this.setHash) return v;
    this.view = Object.create(this, { deps: { value: this.deps }, policy: { value: this.policy }, delegations: { value: this.delegations }, setHash: { value: this.setHash } }) as KernelCore;
    return this.view;
  }

  /** "Would this call be allowed?": the pipeline up to the effect, with nothing written but the check's own record. */
  check(req: CheckRequest): Promise<CheckResult> {
    return checkCall(this, req);
  }

  /** A plan, decided as a whole (ADR-025). */
  submitPlan(sub: PlanSubmission): Promise<Outcome> {
    return submitPlan(this, sub);
  }

  /** A plan's report; with `agent`, only that agent's plan. */
  planReport(id: string, agent: string | null = null): Promise<PlanReport> {
    return planReport(this, id, agent);
  }

  resumePlan(id: string, by: string): Promise<PlanReport> {
    return resumePlan(this, id, by);
  }

  /** Resumes a failed plan with its remaining steps changed: decided again, it waits for a new approval. */
  changePlan(id: string, by: string, steps: unknown, channel: Channel): Promise<Outcome> {
    return changePlan(this, id, by, steps, channel);
  }

  abandonPlan(id: string, by: string, reason: string | null): Promise<PlanReport> {
    return abandonPlan(this, id, by, reason);
  }

  approve(decisionId: string, operator: string, note: string | null): Promise<Outcome> {
    return approvals.approve(this, decisionId, operator, note);
  }

  deny(decisionId: string, operator: string, note: string | null): Promise<Outcome> {
    return approvals.deny(this, decisionId, operator, note);
  }

  /** Withdraws a pending escalation for its own caller (an MCP task cancelled): nothing ran, so the key is released. */
  withdraw(decisionId: string, by: string): Promise<Outcome> {
    return approvals.withdraw(this, decisionId, by);
  }

  expire(decisionId: string): Promise<Outcome> {
    return approvals.expire(this, decisionId);
  }

  expireOverdue(): Promise<number> {
    return approvals.expireOverdue(this);
  }

  getDecision(agent: string | null, decisionId: string): Promise<Outcome | null> {
    return approvals.getDecision(this, agent, decisionId);
  }

  waitForDecision(agent: string | null, decisionId: string, waitMs: number, signal?: AbortSignal): Promise<Outcome | null> {
    // The wait for a human is a span of its own (ADR-026): the time a call spent on approval, apart from the kernel's.
    return approvalWait(this.deps.tracer, decisionId, 'wait', () => approvals.waitForDecision(this, agent, decisionId, waitMs, signal));
  }

  /** Aborts this process's running handlers of an agent or a flow; returns how many. */
  abortInflight(target: { agent: string } | { dfid: string; agent: string }, interventionId: string): number {
    return this.inflight.abort(target, interventionId);
  }

  /** Applies terminations another process recorded since `since` to this process's running handlers. */
  abortTerminated(since: number): Promise<void> {
    return this.inflight.abortTerminated(this.deps.store, since);
  }

  /** Expires interventions (constraints, notes) past their deadline, recording each. */
  async expireInterventions(): Promise<number> {
    const r = await this.deps.store.commit([{ op: 'interventions.expire', now: this.deps.world.now() }]);
    return r.ok ? ((r.results.get(0) as number | undefined) ?? 0) : 0;
  }

  /** Crash recovery: settles or marks the effects that processes now gone left without an outcome (ADR-017). */
  recover(opts: { retryUnknown: boolean } = { retryUnknown: false }): Promise<number> {
    return recoverStarted(this, this.deps.runner, opts);
  }

  /** An operator settles a decision whose outcome a crash left unknown. */
  settleOutcome(decisionId: string, applied: boolean, by: string, reason: string | null): Promise<Outcome> {
    return settleDecision(this, decisionId, applied ? { status: 'applied' } : { status: 'not_applied' }, by, reason);
  }

  /** Revokes a child's sub-mandate, its subtree's and all their keys (ADR-022). */
  revokeDelegation(child: string, by: { kind: 'operator' | 'agent'; id: string }, reason: string | null): Promise<DelegationRow[]> {
    return revokeDelegation(this, child, by, reason);
  }

  /** Records sub-mandates past their expiry as expired. */
  expireDelegations(): Promise<number> {
    return expireDelegations(this);
  }

  /** The delegation tree, with remaining budgets and expiry per node. */
  delegationTree(root?: string): Promise<TreeNode[]> {
    return delegationTree(this, root);
  }

  /** Waits for running challenger calls (tests, and a server before it closes its store). */
  async settle(): Promise<void> {
    await settleChallenges(this);
    // Sections released by finished calls reach the store before it closes.
    if (this.sections instanceof SharedSections) await this.sections.settle();
  }
}
