import { createPublicKey } from 'node:crypto';
import { grantFor, windowMs, type Contract } from '../config/contract-schema.js';
import { withSignedReceipt } from '../core/receipt.js';
import { keyId } from '../core/signed.js';
import type { Kernel } from '../kernel/kernel.js';
import type { DecisionStatus } from '../core/types.js';
import { CALLS_FIELD, type LedgerEvent } from '../store/port/index.js';
import { approvalView, audienceOf } from './approval-view.js';
import type { HttpContext, RouteRequest } from './context.js';
import { sendError, sendJson } from './errors.js';
import { decisionView, interventionView } from './views.js';

/**
 * Read-only views the console's pages draw: budgets against their limits,
 * monitor windows against their thresholds, the decision rate, an agent's
 * contract and history, and a decision's whole story with its receipt. Every
 * figure is read from the store as it stands; viewers get nothing a ledger
 * export would not show them (params only where the capability opts in).
 */

type Role = 'operator' | 'viewer';
type Req = RouteRequest & { principal: { kind: 'operator'; id: string; role: Role } };

/** One budget of one granted capability: what the window holds against the limit. */
export interface BudgetBar {
  capability: string;
  window: string;
  /** `_calls` for max_calls, else the summed field. */
  field: string;
  used: number;
  limit: number;
  remaining: number;
}

export async function budgetsOf(kernel: Kernel, ctx: HttpContext, agent: string): Promise<BudgetBar[]> {
  const contract = kernel.contractOf(agent);
  if (!contract) return [];
  const now = kernel.deps.world.now();
  const bars: BudgetBar[] = [];
  for (const cap of kernel.grantedCapabilities(agent)) {
    for (const b of grantFor(contract, cap.def.id)?.limits.budgets ?? []) {
      const limits: [string, number][] = [];
      if (b.max_calls !== undefined) limits.push([CALLS_FIELD, b.max_calls]);
      if (b.sum !== undefined && b.max !== undefined) limits.push([b.sum, b.max]);
      for (const [field, limit] of limits) {
        const used = await ctx.rt.store.usage.sum(agent, cap.def.id, field, windowMs(b.window), now);
        bars.push({ capability: cap.def.id, window: b.window, field, used, limit, remaining: Math.max(0, limit - used) });
      }
    }
  }
  return bars;
}

/** A drift monitor's window as the store holds it, and its value as the kernel computes it (src/kernel/monitors.ts). */
export async function monitorsOf(kernel: Kernel, ctx: HttpContext, contract: Contract, role: Role) {
  const now = kernel.deps.world.now();
  const out = [];
  for (const m of contract.monitors) {
    const stored = await ctx.rt.store.monitors.samples(contract.agent, m.id);
    // A time window is trimmed on the next sample only: what lies outside it no longer counts.
    const samples = 'window' in m.over ? stored.filter((s) => s.at > now - windowMs((m.over as { window: string }).window)) : stored;
    const sum = samples.reduce((a, s) => a + s.value, 0);
    const value = !samples.length ? null : 'max' in m.metric ? Math.max(...samples.map((s) => s.value)) : 'sum' in m.metric ? sum : sum / samples.length;
    // Each sample of a field metric is one call's value: shown to viewers only where the capability opts in.
    const cap = m.capability ? kernel.workspace.capabilities.get(m.capability) : undefined;
    const samplesShown = role === 'operator' || 'rate' in m.metric || cap?.def.audit?.recordParams === true;
    out.push({
      agent: contract.agent,
      monitor: m.id,
      capability: m.capability ?? null,
      metric: m.metric,
      over: m.over,
      threshold: m.threshold,
      consecutive: m.consecutive,
      value,
      breaching: value !== null && value > m.threshold,
      count: samples.length,
      samples: samplesShown ? samples.map((s) => ({ at: new Date(s.at).toISOString(), value: s.value })) : null,
    });
  }
  return out;
}

export async function listBudgets(ctx: HttpContext, r: Req): Promise<void> {
  const { kernel } = ctx.rt;
  const agents = [];
  for (const agent of [...kernel.workspace.contracts.keys()].sort()) agents.push({ agent, budgets: await budgetsOf(kernel, ctx, agent) });
  sendJson(r.res, 200, { agents, now: new Date(kernel.deps.world.now()).toISOString() });
}

export async function listMonitors(ctx: HttpContext, r: Req): Promise<void> {
  const { kernel } = ctx.rt;
  const monitors = [];
  for (const c of [...kernel.workspace.contracts.values()].sort((a, b) => a.agent.localeCompare(b.agent))) monitors.push(...(await monitorsOf(kernel, ctx, c, r.principal.role)));
  sendJson(r.res, 200, { monitors, now: new Date(kernel.deps.world.now()).toISOString() });
}

/** The verdict a decision got when it was decided: anything that waited for a human counts as escalated. */
const VERDICT_OF: Record<DecisionStatus, 'accepted' | 'rejected' | 'escalated' | null> = {
  accepted: 'accepted',
  rejected: 'rejected',
  failed: 'rejected',
  pending: 'escalated',
  approved: 'escalated',
  denied: 'escalated',
  expired: 'escalated',
  running: null,
  outcome_unknown: null,
};

/** Decisions per minute by verdict over the last `minutes` (default 60), oldest minute first, empty minutes included. */
export async function decisionRate(ctx: HttpContext, r: Req): Promise<void> {
  const raw = Number(r.url.searchParams.get('minutes') ?? 60);
  const minutes = Number.isInteger(raw) ? Math.min(Math.max(raw, 1), 24 * 60) : 60;
  const now = ctx.rt.kernel.deps.world.now();
  const last = Math.floor(now / 60_000);
  const first = last - minutes + 1;
  const buckets = Array.from({ length: minutes }, (_, i) => ({ minute: new Date((first + i) * 60_000).toISOString(), accepted: 0, rejected: 0, escalated: 0 }));
  for (const row of await ctx.rt.store.decisions.perMinute(first * 60_000)) {
    const verdict = VERDICT_OF[row.status];
    const bucket = buckets[row.minute - first];
    if (verdict && bucket) bucket[verdict] += row.n;
  }
  sendJson(r.res, 200, { minutes: buckets });
}

export async function agentOverview(ctx: HttpContext, r: Req, m: RegExpExecArray): Promise<void> {
  const { kernel, store } = ctx.rt;
  const agent = m[1] as string;
  const contract = kernel.contractOf(agent);
  if (!contract) return sendError(r.res, 'NOT_FOUND', { message: `no agent \`${agent}\`` });
  const row = await store.agents.statusRow(agent);
  const interventions = (await store.agents.interventions(1_000)).filter((i) => i.target_agent === agent || (i.target_kind === 'agent' && i.target === agent)).slice(0, 50);
  sendJson(r.res, 200, {
    agent,
    status: row?.status ?? 'active',
    status_updated_at: row ? new Date(row.updated_at).toISOString() : null,
    status_updated_by: row?.updated_by ?? null,
    contract,
    capabilities: kernel.grantedCapabilities(agent).map((c) => c.def.id),
    budgets: await budgetsOf(kernel, ctx, agent),
    monitors: await monitorsOf(kernel, ctx, contract, r.principal.role),
    decisions: (await store.decisions.recent(agent, 20)).map((d) => decisionView(kernel, d)),
    interventions: interventions.map(interventionView),
  });
}

/** A decision's story: the call (as its reader may see it), its ledger events in chain order, its delegation chain, the approval, the receipt and the upstream call. */
export async function decisionStory(ctx: HttpContext, r: Req, m: RegExpExecArray): Promise<void> {
  const { kernel, store } = ctx.rt;
  const d = await store.decisions.get(m[1] as string);
  if (!d) return sendError(r.res, 'NOT_FOUND', { message: `no decision \`${m[1]}\`` });
  const events = (await store.ledger.byDfid(d.dfid)).filter((e) => e.decision_id === d.id);
  const cap = d.capability ? kernel.workspace.capabilities.get(d.capability) : undefined;
  const ran = [...events].reverse().find((e) => e.type === 'ActionOutcome');
  const resolved = events.find((e) => e.type === 'EscalationResolved');
  sendJson(r.res, 200, {
    decision: decisionView(kernel, d),
    call: approvalView(kernel, d, audienceOf(r.principal.role)),
    events,
    approval: resolved ? { resolution: resolved.data['resolution'] ?? null, by: resolved.data['by'] ?? d.resolved_by, at: resolved.time, note_hash: resolved.data['note_hash'] ?? null, seq: resolved.seq } : null,
    delegation: await delegationChain(ctx, events),
    receipt: d.outcome?.receipt ?? null,
    // The receipt as the kernel signs an answer: Ed25519 is deterministic, so this is the receipt the agent was given (or would have been, for an approval answered elsewhere).
    signed_receipt: d.outcome ? (withSignedReceipt(kernel.deps.receipts, d.outcome, d.request_hash).signed_receipt ?? null) : null,
    upstream: cap?.upstream
      ? { server: cap.upstream.server, tool: cap.upstream.tool, pin_hash: cap.upstream.pinHash, ran: ran?.data['ok'] === true, upstream_error: ran?.data['upstream_error'] ?? null, duration_ms: ran?.data['duration_ms'] ?? null }
      : null,
  });
}

/**
 * The delegation chain a decision was made under, as its ledger events
 * recorded it (ADR-022: `delegation: { chain, links, root_owner }` on its
 * PolicyDecided or IntentRejected), each link beside its sub-mandate as the
 * store holds it now (purpose, expiry, whether it still stands); null for a
 * call of a contract's own agent.
 */
async function delegationChain(ctx: HttpContext, events: LedgerEvent[]) {
  const recorded = events.map((e) => e.data['delegation']).find((x): x is { chain: string[]; links: string[]; root_owner: string } => !!x && typeof x === 'object' && Array.isArray((x as { chain?: unknown }).chain));
  if (!recorded) return null;
  const now = ctx.rt.kernel.deps.world.now();
  const [root, ...below] = recorded.chain;
  const contract = root === undefined ? undefined : ctx.rt.kernel.workspace.contracts.get(root);
  const links = [];
  for (const [i, agent] of below.entries()) {
    const row = await ctx.rt.store.delegations.byChild(agent);
    links.push({
      agent,
      delegation_id: recorded.links[i] ?? null,
      parent: row?.parent ?? null,
      purpose: row?.purpose ?? null,
      expires_at: row ? new Date(row.expires_at).toISOString() : null,
      // As of now: the decision was made while every link stood; one revoked or expired since stops the next call.
      status_now: !row ? 'unknown' : row.status === 'live' && now >= row.expires_at ? 'expired' : row.status,
    });
  }
  return { root: { agent: root ?? null, owner: recorded.root_owner, role: contract?.role ?? null, version: contract?.version ?? null }, links };
}

/** The receipt-signing public key (SPKI DER, base64), so the page can check a signature with Web Crypto; 404 without signing. */
export function receiptKey(ctx: HttpContext, r: Req): void {
  const key = ctx.rt.signingKey;
  if (!key || !ctx.rt.kernel.workspace.config.signing?.receipts) return sendError(r.res, 'NOT_FOUND', { message: 'this workspace signs no receipts' });
  sendJson(r.res, 200, { alg: 'Ed25519', key_id: keyId(key), spki: (key.type === 'private' ? createPublicKey(key) : key).export({ type: 'spki', format: 'der' }).toString('base64') });
}
