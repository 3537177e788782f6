import { z } from 'zod';
import { KernelError } from '../kernel/kernel.js';
import { PlanRequestSchema } from '../kernel/plans/request.js';
import type { HttpContext, RouteRequest } from './context.js';
import { sendJson } from './errors.js';

/**
 * Plans in the operator API (ADR-025): submission on an agent's behalf
 * (decided as that agent's own submit_plan), the list, one plan's report,
 * resume and abandon, each through the kernel as the operator the credential names.
 */

// `steps` (resume only): the steps replacing those after the one the plan stopped at; checked by the kernel, which records a refusal.
const ReasonBody = z.object({ reason: z.string().max(2_000).optional(), steps: z.array(z.unknown()).max(1_000).optional() }).strict();

const SubmitBody = z.object({ agent: z.string().min(1).max(64).describe('The agent whose plan it is; it is decided as its own submit_plan.'), plan: PlanRequestSchema }).strict();

type Reply = { reject(code: 'NOT_FOUND' | 'PLAN_STATE_CONFLICT', message: string): void };
type Operator = RouteRequest & { principal: { kind: 'operator'; id: string } };
type BodyReader = <T>(schema: z.ZodType<T>) => Promise<T | null>;

export async function planSubmit(ctx: HttpContext, r: Operator, read: BodyReader): Promise<void> {
  const b = await read(SubmitBody);
  if (!b) return;
  const outcome = await ctx.rt.kernel.submitPlan({ agent: b.agent, request: b.plan, channel: 'http' });
  ctx.log.info({ operator: r.principal.id, agent: b.agent, verdict: outcome.verdict, reasons: outcome.reasons }, 'operator submitted a plan on behalf of an agent');
  // A refused or escalated plan is a governed outcome (on the ledger), not an edge rejection.
  sendJson(r.res, outcome.verdict === 'accepted' ? 201 : outcome.verdict === 'escalated' ? 202 : 422, { outcome });
}

export async function planList(ctx: HttpContext, r: Operator): Promise<void> {
  const agent = r.url.searchParams.get('agent');
  const now = ctx.rt.kernel.deps.world.now();
  const rows = (await ctx.rt.store.plans.list()).filter((p) => !agent || p.agent === agent);
  sendJson(r.res, 200, {
    plans: rows.map((p) => ({
      plan_id: p.id,
      agent: p.agent,
      status: (p.status === 'running' || p.status === 'pending_approval') && p.expires_at <= now ? 'expired' : p.status,
      failed_step: p.failed_step,
      decision_id: p.decision_id,
      created_at: new Date(p.created_at).toISOString(),
      expires_at: new Date(p.expires_at).toISOString(),
    })),
  });
}

export async function planShow(ctx: HttpContext, r: Operator, id: string, reply: Reply): Promise<void> {
  await answer(reply, async () => sendJson(r.res, 200, { report: await ctx.rt.kernel.planReport(id) }));
}

export async function planAct(ctx: HttpContext, r: Operator, id: string, act: 'resume' | 'abandon', read: BodyReader, reply: Reply): Promise<void> {
  const b = await read(ReasonBody);
  if (!b) return;
  const by = `operator:${r.principal.id}`;
  await answer(reply, async () => {
    if (act === 'resume' && b.steps !== undefined) {
      // Changed steps: decided again, and pending a new approval (202), or refused (422); the plan is unchanged then.
      const outcome = await ctx.rt.kernel.changePlan(id, by, b.steps, 'http');
      ctx.log.info({ operator: r.principal.id, plan_id: id, act, verdict: outcome.verdict }, 'operator resumed a plan with changed steps');
      sendJson(r.res, outcome.verdict === 'escalated' ? 202 : 422, { outcome });
      return;
    }
    const report = act === 'resume' ? await ctx.rt.kernel.resumePlan(id, by) : await ctx.rt.kernel.abandonPlan(id, by, b.reason ?? null);
    ctx.log.info({ operator: r.principal.id, plan_id: id, act }, `operator ${act === 'resume' ? 'resumed' : 'abandoned'} a plan`);
    sendJson(r.res, 200, { report });
  });
}

async function answer(reply: Reply, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    if (!(err instanceof KernelError)) throw err;
    reply.reject(err.code === 'PLAN_NOT_FOUND' ? 'NOT_FOUND' : 'PLAN_STATE_CONFLICT', err.message);
  }
}
