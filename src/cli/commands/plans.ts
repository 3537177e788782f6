import { readFileSync } from 'node:fs';
import { PlanRequestSchema } from '../../kernel/plans/request.js';
import { EXIT, operatorName, printJson, UsageError, withRuntime } from '../common.js';

interface Opts {
  workspace?: string;
  as?: string;
  reason?: string;
  agent?: string;
  json?: boolean;
}

/**
 * `mandate plans submit`: a plan submitted on an agent's behalf (a JSON file,
 * or - for stdin), decided as the agent's own submit_plan: accepted (it may
 * run), escalated (waiting for one approval) or refused. Exit 0 unless refused.
 */
export async function plansSubmit(opts: Opts & { plan?: string }): Promise<number> {
  if (!opts.agent) throw new UsageError('name the agent whose plan it is: --agent <id>');
  if (!opts.plan) throw new UsageError('give the plan: --plan <file.json> (or - for stdin)');
  const parsed = PlanRequestSchema.safeParse(readJson('--plan', opts.plan, 'a JSON plan'));
  if (!parsed.success) throw new UsageError(`--plan: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(plan)'}: ${i.message}`).join('; ')}`);
  const operator = operatorName(opts.as);
  return withRuntime(opts.workspace, undefined, async ({ kernel }) => {
    const outcome = await kernel.submitPlan({ agent: opts.agent as string, request: parsed.data, channel: 'cli' });
    process.stderr.write(`submitted by operator ${operator}\n`);
    printJson({ outcome });
    return outcome.verdict === 'rejected' ? EXIT.failed : EXIT.ok;
  });
}

/** `mandate plans list`: every plan (or one agent's), newest last. */
export async function plansList(opts: Opts): Promise<number> {
  return withRuntime(opts.workspace, undefined, async ({ store }) => {
    const rows = (await store.plans.list()).filter((p) => !opts.agent || p.agent === opts.agent);
    const now = Date.now();
    const status = (p: (typeof rows)[number]) => ((p.status === 'running' || p.status === 'pending_approval') && p.expires_at <= now ? 'expired' : p.status);
    if (opts.json) {
      printJson(rows.map((p) => ({ plan_id: p.id, agent: p.agent, status: status(p), failed_step: p.failed_step, decision_id: p.decision_id, created_at: new Date(p.created_at).toISOString(), expires_at: new Date(p.expires_at).toISOString() })));
      return EXIT.ok;
    }
    if (!rows.length) process.stdout.write('no plans\n');
    for (const p of rows) process.stdout.write(`${p.id}  agent=${p.agent}  status=${status(p)}${p.failed_step !== null ? `  failed_step=${p.failed_step + 1}` : ''}  decision=${p.decision_id}  expires=${new Date(p.expires_at).toISOString()}\n`);
    return EXIT.ok;
  });
}

/** `mandate plans show <id>`: the plan's report (JSON). */
export async function plansShow(id: string, opts: Opts): Promise<number> {
  return withRuntime(opts.workspace, undefined, async ({ kernel }) => {
    printJson(await kernel.planReport(id));
    return EXIT.ok;
  });
}

/**
 * `mandate plans resume <id>`: a failed plan runs again from the step after
 * the one it stopped at. With `--steps`, those steps are replaced: the change
 * is decided and escalates (exit 0, the pending decision printed), or is
 * refused (exit 1, the plan stays failed).
 */
export async function plansResume(id: string, opts: Opts & { steps?: string }): Promise<number> {
  const operator = operatorName(opts.as);
  const steps = opts.steps === undefined ? undefined : readSteps(opts.steps);
  return withRuntime(opts.workspace, undefined, async ({ kernel }) => {
    if (steps === undefined) {
      printJson(await kernel.resumePlan(id, `operator:${operator}`));
      return EXIT.ok;
    }
    const outcome = await kernel.changePlan(id, `operator:${operator}`, steps, 'cli');
    printJson(outcome);
    return outcome.verdict === 'escalated' ? EXIT.ok : EXIT.failed;
  });
}

function readSteps(file: string): unknown {
  return readJson('--steps', file, 'a JSON array of steps');
}

function readJson(option: string, file: string, what: string): unknown {
  try {
    return JSON.parse(readFileSync(file === '-' ? 0 : file, 'utf8')) as unknown;
  } catch (err) {
    throw new UsageError(`${option}: cannot read ${what} from ${file}: ${(err as Error).message}`);
  }
}

/** `mandate plans abandon <id>`: nothing more of the plan runs; its sub-mandate is revoked. */
export async function plansAbandon(id: string, opts: Opts): Promise<number> {
  const operator = operatorName(opts.as);
  return withRuntime(opts.workspace, undefined, async ({ kernel }) => {
    printJson(await kernel.abandonPlan(id, `operator:${operator}`, opts.reason ?? null));
    return EXIT.ok;
  });
}
