import { z } from 'zod';
import type { Values } from '../../capabilities/manifest.js';
import { BudgetSchema } from '../../config/contract-schema.js';
import { canonicalJson } from '../../core/canonical.js';

/** The id a plan's own decision is recorded under (its submission, its approval); agents see the `submit_plan` tool (ADR-025). */
export const PLAN_CAPABILITY = 'plan.submit';
export const PLAN_TOOL = 'submit_plan';
/** Where a step call names its plan: `_meta["mandate/plan"]` (or `plan_id` in `_meta`). */
export const PLAN_META_KEY = 'mandate/plan';

const FIELD = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Most combinations of bounded values a step is decided on (each is checked as its own call). */
export const MAX_VARIANTS = 32;

const Scalar = z.union([z.string(), z.number(), z.boolean()]);

export const BoundSchema = z
  .object({
    max: z.number().optional().describe('Largest value a call of this step may pass.'),
    min: z.number().optional().describe('Smallest value.'),
    allowed: z.array(Scalar).min(1).max(20).optional().describe('The values a call may pass.'),
  })
  .strict()
  .refine((b) => b.max !== undefined || b.allowed !== undefined, { message: 'a bound needs max or allowed (the plan is decided on its worst case)' });

export const PlanStepSchema = z
  .object({
    capability: z.string().min(1).max(200).describe('The capability this step calls, e.g. payments.transfer.'),
    params: z.record(z.string(), z.unknown()).describe('The exact params of the call; a field named in bounds may instead take any value within them.'),
    bounds: z.record(z.string().regex(FIELD), BoundSchema).optional().describe('Fields the call may choose within bounds, e.g. { "amount_minor": { "max": 20000 } }.'),
    optional: z.boolean().default(false).describe('A failure of this step does not stop the plan.'),
  })
  .strict();

export const PlanBudgetSchema = z.intersection(z.object({ capability: z.string().min(1).max(200) }), BudgetSchema);

export const PlanRequestSchema = z
  .object({
    purpose: z.string().min(1).max(500).describe('What the plan is for, shown to the approver.'),
    steps: z.array(PlanStepSchema).min(1).max(1000).describe("The steps, 1 to the contract's plans.max_steps (20 by default)."),
    ordered: z.boolean().default(true).describe('Steps must run in the listed order (an optional step may be passed over).'),
    budgets: z.array(PlanBudgetSchema).max(20).default([]).describe('Plan-wide budgets per capability, e.g. { capability: payments.transfer, window: 1d, sum: amount_minor, max: 50000 }.'),
    expires_in_minutes: z.number().int().positive().max(7 * 24 * 60).optional().describe("The plan's time limit (default: the contract's plans.default_minutes)."),
    compensate_on_failure: z.boolean().default(false).describe('When a step fails, undo the completed steps whose capability can compensate, in reverse order.'),
  })
  .strict();

export type PlanRequest = z.infer<typeof PlanRequestSchema>;
export type PlanStep = z.infer<typeof PlanStepSchema>;

/**
 * The params a step is decided on: its exact params with each bounded field
 * at its worst case (max, else each allowed value), one call per
 * combination. Null if there are more than MAX_VARIANTS combinations.
 */
export function stepVariants(step: PlanStep): Values[] | null {
  let out: Values[] = [{ ...step.params }];
  for (const [field, b] of Object.entries(step.bounds ?? {})) {
    const candidates = b.allowed ? b.allowed.filter((v) => typeof v !== 'number' || ((b.max === undefined || v <= b.max) && (b.min === undefined || v >= b.min))) : [b.max as number];
    out = out.flatMap((p) => candidates.map((v) => ({ ...p, [field]: v })));
    if (out.length > MAX_VARIANTS) return null;
  }
  return out;
}

/** Whether a call's params are this step's: every bounded field within its bounds, every other field exactly the decided value, nothing else. */
export function matchesStep(step: PlanStep, decided: Values, call: Values): boolean {
  const bounds = step.bounds ?? {};
  const fields = new Set([...Object.keys(decided), ...Object.keys(call)]);
  for (const f of fields) {
    const b = bounds[f];
    const v = call[f];
    if (b) {
      if (v === undefined) return false;
      if (b.allowed && !b.allowed.some((a) => canonicalJson(a) === canonicalJson(v))) return false;
      if (b.max !== undefined || b.min !== undefined) {
        if (typeof v !== 'number') return false;
        if (b.max !== undefined && v > b.max) return false;
        if (b.min !== undefined && v < b.min) return false;
      }
      continue;
    }
    if (v === undefined || decided[f] === undefined || canonicalJson(v) !== canonicalJson(decided[f])) return false;
  }
  return true;
}

/** The agent a plan's steps run as: a sub-mandate of the agent itself, one per plan. */
export function planChild(agent: string, planId: string): string {
  return `${agent}/plan/${planId}`;
}
