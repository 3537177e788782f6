import type { Contract } from '../../config/contract-schema.js';
import type { ReasonDetail } from '../../core/types.js';
import type { DelegationRow } from '../../store/port/index.js';
import type { StorePort } from '../../store/port/index.js';
import { subMandateContract } from './contract.js';

/** One agent of a delegation chain: its contract (a sub-mandate's, as a contract) and, below the root, its sub-mandate. */
export interface Link {
  agent: string;
  contract: Contract;
  row: DelegationRow | null;
}

/** Root first, the caller last; a root agent's chain is itself alone. */
export type Chain = Link[];

/** Deeper than any contract allows (delegation.max_depth is at most 8): a chain longer than this is broken. */
const MAX_LINKS = 16;

/**
 * Delegated agents as the kernel knows them. The store is the truth: a call
 * re-reads its whole chain (`chain`), so a revoke or a new child made by
 * another process counts at the next call. The cache only lets synchronous
 * readers (tool listings, credentials) see a delegated agent's contract.
 */
export class DelegationRegistry {
  private readonly cache = new Map<string, Link>();

  constructor(
    private readonly store: StorePort,
    private readonly contracts: ReadonlyMap<string, Contract>,
  ) {}

  /** The contract of a delegated agent seen so far (live or not); undefined for contract agents and strangers. */
  cached(agent: string): Contract | undefined {
    return this.cache.get(agent)?.contract;
  }

  /** The cached sub-mandate of a delegated agent. */
  cachedRow(agent: string): DelegationRow | undefined {
    return this.cache.get(agent)?.row ?? undefined;
  }

  /** Loads every recorded sub-mandate (at start), so their agents are known before their first call. */
  async preload(): Promise<void> {
    const rows = await this.store.delegations.list();
    const byChild = new Map(rows.map((r) => [r.child, r]));
    for (const r of rows) {
      const root = this.contracts.get(r.root);
      if (root && byChild.has(r.child)) this.remember(r, root);
    }
  }

  /** The chain of `agent` as the store has it now; null if the agent is neither a contract's nor a sub-mandate's. */
  async chain(agent: string): Promise<Chain | null> {
    const own = this.contracts.get(agent);
    if (own) return [{ agent, contract: own, row: null }];
    const rows: DelegationRow[] = [];
    let at = agent;
    for (let i = 0; i < MAX_LINKS; i++) {
      const row = await this.store.delegations.byChild(at);
      if (!row) return null;
      rows.unshift(row);
      if (this.contracts.has(row.parent)) break;
      at = row.parent;
    }
    const top = rows[0];
    const root = top ? this.contracts.get(top.parent) : undefined;
    if (!top || !root || top.root !== top.parent) return null;
    return [{ agent: root.agent, contract: root, row: null }, ...rows.map((r) => this.remember(r, root))];
  }

  /** Forgets nothing: an ended sub-mandate's agent stays known so its calls are refused with the reason, not as a stranger. */
  private remember(row: DelegationRow, root: Contract): Link {
    const known = this.cache.get(row.child);
    if (known?.row && known.row.status === row.status && known.row.expires_at === row.expires_at) return known;
    const link = { agent: row.child, contract: subMandateContract(row, root), row };
    this.cache.set(row.child, link);
    return link;
  }
}

/** Whether every sub-mandate of the chain is live at `now`: the first that is not, as a refusal naming it. */
export function chainStanding(chain: Chain, caller: string, now: number): ReasonDetail[] {
  for (const link of chain) {
    const row = link.row;
    if (!row) continue;
    const whose = link.agent === caller ? 'this agent\'s sub-mandate' : `the sub-mandate of its ancestor \`${link.agent}\``;
    if (row.status === 'revoked') return [{ code: 'DELEGATION_REVOKED', message: `${whose} (${row.id}) was revoked`, path: `delegation.${link.agent}` }];
    if (row.status === 'expired' || now >= row.expires_at) return [{ code: 'DELEGATION_EXPIRED', message: `${whose} (${row.id}) expired at ${new Date(row.expires_at).toISOString()}`, path: `delegation.${link.agent}` }];
  }
  return [];
}

/** Who Cedar decides as for a call of this chain: the root, told how deep the caller is and who delegated to it. */
export function policyPrincipal(chain: Chain | undefined, agent: { id: string; role: string }): { id: string; role: string; depth: number; root: string; caller: string; delegated_by?: string } {
  if (!chain || chain.length < 2) return { ...agent, depth: 0, root: agent.id, caller: agent.id };
  const root = chain[0] as Link;
  const caller = chain[chain.length - 1] as Link;
  return { id: root.agent, role: root.contract.role, depth: chain.length - 1, root: root.agent, caller: caller.agent, delegated_by: (caller.row as DelegationRow).parent };
}

/** The chain as the ledger records it on a delegated call's decision: agents root first, and the sub-mandate ids. */
export function chainRef(chain: Chain | undefined): { delegation?: { chain: string[]; links: string[]; root_owner: string } } {
  if (!chain || chain.length < 2) return {};
  return { delegation: { chain: chain.map((l) => l.agent), links: chain.flatMap((l) => (l.row ? [l.row.id] : [])), root_owner: (chain[0] as Link).contract.owner } };
}
