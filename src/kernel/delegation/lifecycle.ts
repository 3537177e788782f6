import { windowMs } from '../../config/contract-schema.js';
import { hashOf } from '../../core/canonical.js';
import type { DelegationRow, DelegationStatus } from '../../store/port/index.js';
import type { Op } from '../../store/port/index.js';
import { CALLS_FIELD } from '../../store/port/index.js';
import type { KernelCore } from '../context.js';
import { KernelError } from '../approvals.js';
import type { ChildGrant } from './request.js';

/** A sub-mandate and every one made below it, the given one first, parents before children. */
export function subtreeOf(rows: DelegationRow[], child: string): DelegationRow[] {
  const out: DelegationRow[] = [];
  const queue = rows.filter((r) => r.child === child);
  while (queue.length) {
    const r = queue.shift() as DelegationRow;
    out.push(r);
    queue.push(...rows.filter((x) => x.parent === r.child));
  }
  return out;
}

/** The ops that end each live sub-mandate of a subtree, with its ledger event: keys revoked in the same commit. */
function endOps(k: KernelCore, rows: DelegationRow[], status: 'revoked' | 'expired', by: string, at: number, reasonHash: string | null, from: string): Op[] {
  const dfid = k.deps.world.newTraceId();
  return rows.flatMap((r): Op[] => [
    { op: 'delegation.end', child: r.child, status, by, at },
    {
      op: 'event',
      event: {
        dfid,
        agent: r.child,
        type: status === 'revoked' ? 'DelegationRevoked' : 'DelegationExpired',
        decision_id: r.id,
        reasons: [status === 'revoked' ? 'DELEGATION_REVOKED' : 'DELEGATION_EXPIRED'],
        data: { delegation_id: r.id, parent: r.parent, root: r.root, by, ...(r.child !== from ? { cascade_from: from } : {}), ...(reasonHash ? { reason_hash: reasonHash } : {}) },
      },
    },
  ]);
}

/**
 * Revokes a child's sub-mandate and every live one below it, and all their
 * keys, in one commit; their next calls are refused with DELEGATION_REVOKED.
 * Returns the sub-mandates it ended. An operator, or an ancestor of the child
 * (never the child itself, nor anyone below), may revoke.
 */
export async function revokeDelegation(k: KernelCore, child: string, by: { kind: 'operator' | 'agent'; id: string }, reason: string | null): Promise<DelegationRow[]> {
  const rows = await k.deps.store.delegations.list();
  const target = rows.find((r) => r.child === child);
  if (!target) throw new KernelError('UNKNOWN_AGENT', `no sub-mandate for \`${child}\``);
  if (by.kind === 'agent') {
    const chain = await k.delegations.chain(child);
    const above = (chain ?? []).slice(0, -1).map((l) => l.agent);
    if (!above.includes(by.id)) throw new KernelError('INTERVENTION_NOT_ALLOWED', `\`${by.id}\` is not an ancestor of \`${child}\``);
  }
  const now = k.deps.world.now();
  const live = subtreeOf(rows, child).filter((r) => r.status === 'live');
  if (!live.length) return [];
  const who = `${by.kind}:${by.id}`;
  const r = await k.deps.store.commit(endOps(k, live, 'revoked', who, now, reason ? hashOf(reason) : null, child));
  if (!r.ok) throw new Error(`revocation refused by the store: ${r.conflict.kind}`);
  k.deps.log.info({ step: 'delegation', child, by: who, ended: live.length }, 'sub-mandate revoked');
  return live;
}

/** Marks sub-mandates past their expiry as expired, each on the ledger (a housekeeping sweep); returns how many. */
export async function expireDelegations(k: KernelCore): Promise<number> {
  const now = k.deps.world.now();
  const due = await k.deps.store.delegations.dueToExpire(now);
  if (!due.length) return 0;
  const r = await k.deps.store.commit(due.flatMap((d) => endOps(k, [d], 'expired', 'system:expiry', now, null, d.child)));
  return r.ok ? due.length : 0;
}

/** One node of the delegation tree, as the operator API and the CLI show it. */
export interface TreeNode {
  agent: string;
  delegation_id: string | null;
  parent: string | null;
  depth: number;
  status: DelegationStatus | 'contract';
  purpose: string | null;
  owner: string | null;
  expires_at: string | null;
  may_delegate: boolean;
  max_depth: number | null;
  grants: { capability: string; limits: ChildGrant['limits']; budgets: { window: string; field: string; max: number; used: number; remaining: number }[] }[];
  children: TreeNode[];
}

/**
 * The delegation tree: each root contract that has delegated, and below it
 * every sub-mandate with its status as of now (a live one past its expiry
 * shows as expired), its expiry and the remaining budget of each grant.
 */
export async function delegationTree(k: KernelCore, rootFilter?: string): Promise<TreeNode[]> {
  const rows = await k.deps.store.delegations.list();
  const now = k.deps.world.now();
  const node = async (r: DelegationRow): Promise<TreeNode> => {
    const grants = JSON.parse(r.grants) as ChildGrant[];
    return {
      agent: r.child,
      delegation_id: r.id,
      parent: r.parent,
      depth: r.depth,
      status: r.status === 'live' && now >= r.expires_at ? 'expired' : r.status,
      purpose: r.purpose,
      owner: null,
      expires_at: new Date(r.expires_at).toISOString(),
      may_delegate: r.may_delegate === 1,
      max_depth: r.max_depth,
      grants: await Promise.all(grants.map(async (g) => ({ capability: g.capability, limits: g.limits, budgets: await remaining(k, r.child, g, now) }))),
      children: await Promise.all(rows.filter((x) => x.parent === r.child).map(node)),
    };
  };
  const roots = [...new Set(rows.map((r) => r.root))].filter((r) => !rootFilter || r === rootFilter).sort();
  return Promise.all(
    roots.map(async (root) => {
      const c = k.deps.workspace.contracts.get(root);
      return {
        agent: root,
        delegation_id: null,
        parent: null,
        depth: 0,
        status: 'contract' as const,
        purpose: c?.mission ?? null,
        owner: c?.owner ?? null,
        expires_at: c?.effective_until ?? null,
        may_delegate: !!c?.delegation,
        max_depth: c?.delegation?.max_depth ?? null,
        grants: [],
        children: await Promise.all(rows.filter((x) => x.parent === root).map(node)),
      };
    }),
  );
}

async function remaining(k: KernelCore, agent: string, g: ChildGrant, now: number): Promise<TreeNode['grants'][number]['budgets']> {
  const out: TreeNode['grants'][number]['budgets'] = [];
  for (const b of g.limits.budgets ?? []) {
    const field = b.max_calls !== undefined ? CALLS_FIELD : (b.sum as string);
    const max = b.max_calls ?? (b.max as number);
    const used = await k.deps.store.usage.sum(agent, g.capability, field, windowMs(b.window), now);
    out.push({ window: b.window, field: field === CALLS_FIELD ? 'calls' : field, max, used, remaining: Math.max(0, max - used) });
  }
  return out;
}
