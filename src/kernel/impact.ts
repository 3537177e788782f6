import type { CedarValueJson } from '@cedar-policy/cedar-wasm/nodejs';
import { grantFor, type Contract } from '../config/contract-schema.js';
import { sha256Hex } from '../core/canonical.js';
import type { ReasonCode } from '../core/reasons.js';
import type { PolicyEngine, PolicyRequest, PolicyVerdict } from '../policy/engine.js';
import type { PolicyInputRow, StorePort } from '../store/port/index.js';
import { contractPeriod } from './contract-period.js';
import { policyReasons } from './stages/policy.js';

/** How a decision's policy verdict reads for an operator. */
export type VerdictClass = 'allowed' | 'escalated' | 'refused';

/** A workspace as a replay needs it: its contracts and its compiled policies. */
export interface ReplaySet {
  contracts: Map<string, Contract>;
  engine: PolicyEngine;
}

export interface ImpactFilter {
  since?: number | undefined;
  agent?: string | undefined;
  capability?: string | undefined;
}

export interface Flip {
  decision_id: string;
  dfid: string;
  agent: string;
  capability: string;
  at: string;
  from: VerdictClass;
  to: VerdictClass;
  before: { verdict: string; gates: string[] };
  after: { verdict: string; policies: string[]; reasons: ReasonCode[] };
  /** The decision's amounts (the fields its grant limits or budgets sum), for the totals. */
  amounts: Record<string, number>;
}

export interface ChangeTotals {
  count: number;
  amounts: Record<string, number>;
}

export interface ImpactReport {
  replayed: number;
  unchanged: number;
  changed: number;
  /** Stored inputs whose hash does not match the ledger's PolicyDecided (or that the ledger does not hold): not replayed. */
  untrusted: { decision_id: string; why: string }[];
  /** By agent, then capability, then change (`allowed→refused`…). */
  groups: { agent: string; capability: string; changes: Record<string, ChangeTotals> }[];
  totals: Record<string, ChangeTotals>;
  flips: Flip[];
}

interface StoredInput {
  principal: PolicyRequest['agent'];
  resource: PolicyRequest['capability'];
  context: Record<string, CedarValueJson>;
}

const PAGE = 1_000;

/**
 * Replays past decisions against a proposed workspace (ADR-023): each stored
 * policy input, proven by the hash its PolicyDecided event holds, is judged by
 * the proposed contracts (agent known, capability granted, contract in
 * effect at the decision's time) and the proposed policy set, and compared
 * with the verdict the decision got. Steward gates are not re-judged: a
 * decision a gate escalated stays escalated while the policies permit it.
 */
export async function policyImpact(store: StorePort, current: ReplaySet, proposed: ReplaySet, filter: ImpactFilter): Promise<ImpactReport> {
  const report: ImpactReport = { replayed: 0, unchanged: 0, changed: 0, untrusted: [], groups: [], totals: {}, flips: [] };
  const groups = new Map<string, ImpactReport['groups'][number]>();
  const ledgerHashes = new Map<string, Map<string, string>>();
  let after: { at: number; decision_id: string } | undefined;
  for (;;) {
    const rows = await store.policyInputs.list({ ...filter, after, limit: PAGE });
    for (const row of rows) {
      const proof = await ledgerHash(store, ledgerHashes, row);
      const why = proof === undefined ? 'the ledger holds no PolicyDecided with its hash' : proof !== row.input_hash || sha256Hex(row.input) !== row.input_hash ? 'its input does not match the hash on the ledger' : null;
      if (why) {
        report.untrusted.push({ decision_id: row.decision_id, why });
        continue;
      }
      report.replayed++;
      const input = JSON.parse(row.input) as StoredInput;
      const from = classOf(row.verdict, row.gates);
      const judged = judge(proposed, row, input);
      const to = judged.kind === 'refused' ? 'refused' : classOf(judged.verdict.kind, row.gates);
      if (from === to) {
        report.unchanged++;
        continue;
      }
      report.changed++;
      // A delegated call's amounts are the fields its root's grant counts (it was decided as its root).
      const amounts = amountsOf(input, [current.contracts.get(input.principal.id), proposed.contracts.get(input.principal.id)], row.capability);
      const flip: Flip = {
        decision_id: row.decision_id,
        dfid: row.dfid,
        agent: row.agent,
        capability: row.capability,
        at: new Date(row.at).toISOString(),
        from,
        to,
        before: { verdict: row.verdict, gates: row.gates },
        after: judged.kind === 'refused' ? { verdict: 'refused', policies: [], reasons: [judged.reason] } : { verdict: judged.verdict.kind, policies: judged.verdict.policies, reasons: policyReasons(judged.verdict) },
        amounts,
      };
      report.flips.push(flip);
      const change = `${from}→${to}`;
      const key = `${row.agent}\0${row.capability}`;
      const group = groups.get(key) ?? { agent: row.agent, capability: row.capability, changes: {} };
      groups.set(key, group);
      add((group.changes[change] ??= { count: 0, amounts: {} }), amounts);
      add((report.totals[change] ??= { count: 0, amounts: {} }), amounts);
    }
    const last = rows.at(-1);
    if (rows.length < PAGE || !last) break;
    after = { at: last.at, decision_id: last.decision_id };
  }
  report.groups = [...groups.values()].sort((a, b) => a.agent.localeCompare(b.agent) || a.capability.localeCompare(b.capability));
  return report;
}

function classOf(verdict: string, gates: string[]): VerdictClass {
  if (verdict === 'permit') return gates.length ? 'escalated' : 'allowed';
  return verdict === 'escalate' ? 'escalated' : 'refused';
}

type Judged = { kind: 'refused'; reason: ReasonCode } | { kind: 'cedar'; verdict: PolicyVerdict };

/** The proposed workspace's answer to one stored request, as the pipeline would give it from identity to Cedar. */
function judge(set: ReplaySet, row: PolicyInputRow, input: StoredInput): Judged {
  // A delegated call was decided as its root (ADR-022): the root's proposed contract judges it; the sub-mandate itself is not re-judged.
  const contract = set.contracts.get(input.principal.id);
  if (!contract) return { kind: 'refused', reason: 'UNKNOWN_AGENT' };
  const lapsed = contractPeriod(contract, row.at)[0];
  if (lapsed) return { kind: 'refused', reason: lapsed.code };
  if (!grantFor(contract, row.capability)) return { kind: 'refused', reason: 'CAPABILITY_NOT_GRANTED' };
  return { kind: 'cedar', verdict: set.engine.evaluate({ agent: { ...input.principal, role: contract.role }, capability: input.resource, context: input.context }) };
}

/** The PolicyDecided hash the ledger holds for a decision (its flow's events, read once per flow). */
async function ledgerHash(store: StorePort, cache: Map<string, Map<string, string>>, row: PolicyInputRow): Promise<string | undefined> {
  let byDecision = cache.get(row.dfid);
  if (!byDecision) {
    byDecision = new Map();
    for (const e of await store.ledger.byDfid(row.dfid)) {
      const hash = e.data['policy_input_hash'];
      if (e.type === 'PolicyDecided' && e.decision_id && typeof hash === 'string') byDecision.set(e.decision_id, hash);
    }
    // Bounded: one flow's map at a time is enough for rows in time order; keep a few.
    if (cache.size > 1_000) cache.clear();
    cache.set(row.dfid, byDecision);
  }
  return byDecision.get(row.decision_id);
}

/** The amounts of a decision: the fields its grant caps (`limits.max`) or its budgets and steward gates sum. */
function amountsOf(input: StoredInput, contracts: (Contract | undefined)[], capability: string): Record<string, number> {
  const fields = new Set<string>();
  for (const c of contracts) {
    const grant = c ? grantFor(c, capability) : undefined;
    for (const f of Object.keys(grant?.limits.max ?? {})) fields.add(f);
    for (const b of grant?.limits.budgets ?? []) if (b.sum) fields.add(b.sum);
    for (const g of c?.stewards.cumulative ?? []) fields.add(g.sum);
  }
  const values = (input.context['values'] ?? {}) as Record<string, CedarValueJson>;
  const out: Record<string, number> = {};
  for (const f of [...fields].sort()) {
    const n = numberOf(values[f]);
    if (n !== null) out[f] = n;
  }
  return out;
}

function numberOf(v: CedarValueJson | undefined): number | null {
  if (typeof v === 'number') return v;
  const ext = (v as { __extn?: { fn?: string; arg?: unknown } } | undefined)?.__extn;
  return ext?.fn === 'decimal' && typeof ext.arg === 'string' ? Number(ext.arg) : null;
}

function add(t: ChangeTotals, amounts: Record<string, number>): void {
  t.count++;
  for (const [f, n] of Object.entries(amounts)) t.amounts[f] = (t.amounts[f] ?? 0) + n;
}
