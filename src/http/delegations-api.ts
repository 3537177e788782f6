import { z } from 'zod';
import { KernelError } from '../kernel/kernel.js';
import { DELEGATE_ID, DelegationRequestSchema } from '../kernel/delegation/request.js';
import { agentKeyUnit } from './api-keys.js';
import type { HttpContext, RouteRequest } from './context.js';
import { sendJson } from './errors.js';

/**
 * Sub-mandates in the operator API (ADR-022): the tree with each node's
 * remaining budget and expiry, one sub-mandate with its chain, creation on a
 * parent's behalf (decided like the parent's own call), and revocation.
 */

const CreateBody = DelegationRequestSchema.extend({
  parent: z.string().min(1).max(64).describe('The agent that delegates; the request is decided as its call.'),
  issue_key: z.boolean().default(false).describe('Mint an agent key for the child once it is created (shown once).'),
}).strict();
const RevokeBody = z.object({ reason: z.string().max(2_000).optional() }).strict();

type Reply = { reject(code: 'NOT_FOUND' | 'INVALID_REQUEST', message: string): void };
type Operator = RouteRequest & { principal: { kind: 'operator'; id: string } };
type BodyReader = <T>(schema: z.ZodType<T>) => Promise<T | null>;

export async function delegationTree(ctx: HttpContext, r: Operator): Promise<void> {
  const root = r.url.searchParams.get('root') ?? undefined;
  sendJson(r.res, 200, { tree: await ctx.rt.kernel.delegationTree(root), now: new Date(ctx.rt.kernel.deps.world.now()).toISOString() });
}

export async function delegationShow(ctx: HttpContext, r: Operator, child: string, reply: Reply): Promise<void> {
  const { kernel, store } = ctx.rt;
  const row = await store.delegations.byChild(child);
  if (!row) return reply.reject('NOT_FOUND', `no sub-mandate for \`${child}\``);
  const chain = (await kernel.delegations.chain(child)) ?? [];
  const node = findNode(await kernel.delegationTree(row.root), child);
  sendJson(r.res, 200, { delegation: node, chain: chain.map((l) => ({ agent: l.agent, delegation_id: l.row?.id ?? null })) });
}

export async function delegationCreate(ctx: HttpContext, r: Operator, read: BodyReader): Promise<void> {
  const b = await read(CreateBody);
  if (!b) return;
  const { kernel, store } = ctx.rt;
  const { parent, issue_key, ...params } = b;
  const outcome = await kernel.govern({ agent: parent, intent: { capability: DELEGATE_ID, params, rationale: `created by operator ${r.principal.id}` }, channel: 'http' });
  let key: string | undefined;
  if (outcome.verdict === 'accepted' && issue_key) {
    const minted = agentKeyUnit(kernel.deps.world, b.child, `operator:${r.principal.id}`, `sub-mandate of ${parent}`);
    const done = await store.commit(minted.unit);
    if (done.ok) key = minted.key;
  }
  ctx.log.info({ operator: r.principal.id, parent, verdict: outcome.verdict, reasons: outcome.reasons }, 'operator delegated on behalf of an agent');
  // A refused or escalated creation is a governed outcome (on the ledger), not an edge rejection.
  sendJson(r.res, outcome.verdict === 'accepted' ? 201 : outcome.verdict === 'escalated' ? 202 : 422, { outcome, ...(key ? { key } : {}) });
}

export async function delegationRevoke(ctx: HttpContext, r: Operator, child: string, read: BodyReader, reply: Reply): Promise<void> {
  const b = await read(RevokeBody);
  if (!b) return;
  try {
    const ended = await ctx.rt.kernel.revokeDelegation(child, { kind: 'operator', id: r.principal.id }, b.reason ?? null);
    ctx.log.info({ operator: r.principal.id, ended: ended.length }, 'operator revoked a sub-mandate');
    sendJson(r.res, 200, { revoked: ended.map((x) => ({ agent: x.child, delegation_id: x.id })) });
  } catch (err) {
    if (err instanceof KernelError) return reply.reject('NOT_FOUND', err.message);
    throw err;
  }
}

type Node = Awaited<ReturnType<HttpContext['rt']['kernel']['delegationTree']>>[number];
function findNode(nodes: Node[], agent: string): Node | null {
  for (const n of nodes) {
    if (n.agent === agent) return n;
    const below = findNode(n.children, agent);
    if (below) return below;
  }
  return null;
}
