import { z } from 'zod';
import { toCapability, CapabilityError, type Capability, type CapabilityDefinition } from '../../capabilities/manifest.js';
import { windowMs, type Contract } from '../../config/contract-schema.js';
import { hashOf } from '../../core/canonical.js';
import type { StorePort } from '../../store/port/index.js';
import { CALLS_FIELD } from '../../store/port/index.js';
import type { DelegationRegistry } from './chain.js';
import { DELEGATE_ID, DelegationRequestSchema, type DelegationRequest } from './request.js';
import { checkSubMandate, parentGrantFor, remainingKey, requestedExpiry, requestedMaxDepth, type ParentFacts } from './subset.js';

const Output = z.object({
  delegation_id: z.string(),
  child: z.string(),
  parent: z.string(),
  root: z.string(),
  depth: z.number().int(),
  max_depth: z.number().int(),
  expires_at: z.string(),
});

/** Every fact may move between the decision and the effect (a sibling spent, a child was made): the decision is asked again on the fresh ones. */
const REVALIDATE = Object.fromEntries(
  ['parent', 'root', 'depth', 'max_depth', 'may_delegate', 'delegable', 'grants', 'memory', 'expires_at', 'default_expiry_minutes', 'max_expiry_minutes', 'max_children', 'live_children', 'child_taken', 'remaining', 'now'].map((f) => [f, 'revalidate' as const]),
);

/**
 * `delegation.create`, the `delegate` tool: a sub-mandate is created like any
 * other governed call (ADR-022). DIM checks it against the parent's facts,
 * per dimension; Cedar decides as the root (a policy may forbid or escalate
 * `delegation.create`); the effect records the child in the store and on the
 * ledger. `registry` is null while only validating a workspace: it fails closed.
 */
export function delegateCapability(store: StorePort | null, registry: () => DelegationRegistry | null, contracts: ReadonlyMap<string, Contract>): Capability {
  const def: CapabilityDefinition = {
    id: DELEGATE_ID,
    version: '1.0.0',
    title: 'Delegate part of your mandate',
    description:
      'Create a sub-agent (a new agent id) holding part of your authority: a subset of your capabilities with limits no wider than yours, budgets carved from what you have left, memory scopes at no higher sensitivity, an expiry no later than yours. Anything more than you have is refused with a reason per dimension, never clipped. Every call of the sub-agent is also checked against you and your ancestors, and counts against your budgets.',
    sideEffect: 'write',
    input: DelegationRequestSchema,
    output: Output,
    limits: { deadlineMs: 5000, maxOutputBytes: 2048 },
    // The output holds ids and times only.
    audit: { recordOutput: true },
    drift: REVALIDATE,
    // Children of one parent are made one at a time (the store guards the count too).
    serializeBy: () => DELEGATE_ID,
    // The parent's facts a policy may read (ParentFacts; its nested grants, memory and budgets are not typed for Cedar).
    factsSchema: z.object({
      parent: z.string(),
      root: z.string(),
      depth: z.number().int(),
      max_depth: z.number().int(),
      may_delegate: z.boolean(),
      delegable: z.array(z.string()),
      expires_at: z.number().int().nullable(),
      default_expiry_minutes: z.number().int(),
      max_expiry_minutes: z.number().int(),
      max_children: z.number().int(),
      live_children: z.number().int(),
      child_taken: z.boolean(),
      now: z.number().int(),
    }),
    facts: async (params, ctx) => {
      const reg = registry();
      if (!store || !reg) throw new Error('delegation store unavailable');
      return (await parentFacts(store, reg, contracts, ctx.agent, params as DelegationRequest, ctx.now)) as unknown as Record<string, unknown>;
    },
    invariants: [
      {
        id: 'within_parent',
        message: "the sub-mandate is not within the parent's",
        check: ({ params, facts }) => checkSubMandate(params as DelegationRequest, facts as unknown as ParentFacts).length === 0,
        explain: ({ params, facts }) => checkSubMandate(params as DelegationRequest, facts as unknown as ParentFacts),
      },
    ],
    handler: async (params, ctx) => {
      if (!store) throw new Error('delegation store unavailable');
      const req = params as DelegationRequest;
      const f = ctx.facts as unknown as ParentFacts;
      // Ids come from the decision, never from a random source: the same decision names the same sub-mandate.
      const id = `dlg-${hashOf(ctx.decisionId ?? `${ctx.dfid}:${req.child}`).slice(0, 16)}`;
      const row = {
        id,
        child: req.child,
        parent: f.parent,
        root: f.root,
        depth: f.depth + 1,
        max_depth: requestedMaxDepth(req, f),
        may_delegate: req.may_delegate ? 1 : 0,
        purpose: req.purpose,
        grants: JSON.stringify(req.grants),
        memory: JSON.stringify(req.memory),
        created_at: ctx.now,
        expires_at: requestedExpiry(req, { ...f, now: ctx.now }),
        created_by: `agent:${ctx.agent}`,
        decision_id: ctx.decisionId ?? '',
      };
      const r = await store.commit([
        { op: 'delegation.add', row, maxChildren: f.max_children, now: ctx.now },
        {
          op: 'event',
          event: {
            dfid: ctx.dfid,
            agent: f.parent,
            type: 'Delegated',
            decision_id: ctx.decisionId ?? null,
            data: { delegation_id: id, child: req.child, parent: f.parent, root: f.root, depth: row.depth, max_depth: row.max_depth, expires_at: new Date(row.expires_at).toISOString(), capabilities: req.grants.map((g) => g.capability), grants_hash: hashOf(req.grants), purpose_hash: hashOf(req.purpose) },
          },
        },
      ]);
      if (!r.ok) {
        if (r.conflict.kind === 'child_taken') throw new CapabilityError('DELEGATION_CHILD_TAKEN', `\`${req.child}\` is already an agent`);
        if (r.conflict.kind === 'children_limit') throw new CapabilityError('DELEGATION_CHILDREN_EXCEEDED', `\`${f.parent}\` already holds ${r.conflict.count} live sub-mandates`);
        throw new Error(`delegation refused by the store: ${r.conflict.kind}`);
      }
      // Known to this process at once (credentials, tool lists); other processes read it at its first call.
      await registry()?.chain(req.child);
      return { delegation_id: id, child: req.child, parent: f.parent, root: f.root, depth: row.depth, max_depth: row.max_depth, expires_at: new Date(row.expires_at).toISOString() };
    },
  };
  return toCapability(def, '(built-in)');
}

/** The would-be parent as the sub-mandate check reads it: its chain, its grants, what is left of its budgets, its live children. */
export async function parentFacts(store: StorePort, registry: DelegationRegistry, contracts: ReadonlyMap<string, Contract>, agent: string, req: DelegationRequest, now: number): Promise<ParentFacts> {
  const chain = await registry.chain(agent);
  const link = chain?.at(-1);
  const root = chain?.[0]?.contract;
  if (!chain || !link || !root) throw new Error('unknown parent');
  const contract = link.contract;
  const row = link.row;
  const section = root.delegation;
  const remaining: Record<string, number> = {};
  for (const g of req.grants ?? []) {
    const held = parentGrantFor(contract.grants, g.capability);
    for (const b of held?.limits.budgets ?? []) {
      const field = b.max_calls !== undefined ? CALLS_FIELD : b.sum;
      const max = b.max_calls ?? b.max;
      if (field === undefined || max === undefined) continue;
      remaining[remainingKey(g.capability, b.window, field)] = max - (await store.usage.sum(agent, g.capability, field, windowMs(b.window), now));
    }
  }
  const childTaken = contracts.has(req.child) || (await store.delegations.byChild(req.child)) !== null;
  return {
    parent: agent,
    root: root.agent,
    depth: chain.length - 1,
    max_depth: row ? row.max_depth : (section?.max_depth ?? 0),
    may_delegate: !!section && !!contract.delegation,
    delegable: section?.capabilities ?? [],
    grants: contract.grants,
    memory: contract.memory,
    expires_at: row ? row.expires_at : contract.effective_until ? Date.parse(contract.effective_until) : null,
    default_expiry_minutes: section?.default_expiry_minutes ?? 60,
    max_expiry_minutes: section?.max_expiry_minutes ?? 0,
    max_children: section?.max_children ?? 0,
    live_children: await store.delegations.liveChildren(agent, now),
    child_taken: childTaken,
    remaining,
    now,
  };
}
