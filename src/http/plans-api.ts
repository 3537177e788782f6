import { z } from 'zod';
import { KernelError } from '../kernel/kernel.js';
import type { HttpContext, RouteRequest } from './context.js';
import { sendJson } from './errors.js';

/**
 * Plans in the operator API (ADR-025): the list, one plan's report, resume
 * and abandon, each through the kernel as the operator the credential names.
 */

// `steps` (resume only): the steps replacing those after the one the plan stopped at; checked by the kernel, which records a refusal.
const ReasonBody = z.object({ reason: z.string().max(2_000).optional(), steps: z.array(z.unknown()).max(1_000).optional() }).strict();

type Reply = { reject(code: 'NOT_FOUND' | 'PLAN_STATE_CONFLICT', message: string): void };
type Operator = RouteRequest & { principal: { kind: 'operator'; id: string } };
type BodyReader = <T>(schema: z.ZodType<T>) => Promise<T | null>;

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
