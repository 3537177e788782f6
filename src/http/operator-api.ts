import { z } from 'zod';
import { intervene } from '../kernel/interventions.js';
import { KernelError } from '../kernel/kernel.js';
import { parseJson, readBody } from './body.js';
import * as delegations from './delegations-api.js';
import * as plans from './plans-api.js';
import { policyFiles, policyImpactHttp } from './impact-api.js';
import type { HttpContext, RouteRequest } from './context.js';
import { sendError, sendJson, type HttpErrorCode } from './errors.js';
import { approvalView, audienceOf } from './approval-view.js';
import { agentOverview, decisionRate, decisionStory, listBudgets, listMonitors, receiptKey } from './console-api.js';
import { agentView, decisionView, interventionView, outcomeView } from './views.js';

/**
 * The operator REST API under /api/v1 (operator and viewer credentials; the
 * viewer role is read-only). Every action goes through the kernel as the
 * operator the credential names: approvals through kernel.approve/deny,
 * interventions through intervene() with an operator principal.
 */

const ReasonBody = z.object({ reason: z.string().max(2_000).optional() }).strict();
const SettleBody = z.object({ applied: z.boolean(), reason: z.string().max(2_000).optional() }).strict();

const InterventionBody = z
  .object({
    act: z.enum(['pause', 'resume', 'terminate', 'constrain', 'redirect']),
    agent: z.string().min(1).max(64).optional(),
    dfid: z.string().regex(/^[0-9a-f]{32}$/).optional(),
    reason: z.string().min(1).max(2_000).optional(),
    capability: z.string().min(1).max(200).optional(),
    field: z.string().min(1).max(200).optional(),
    max: z.number().finite().optional(),
    minutes: z.number().int().positive().max(7 * 24 * 60).optional(),
    note: z.string().min(1).max(2_000).optional(),
  })
  .strict()
  .refine((b) => (b.agent === undefined) !== (b.dfid === undefined), { message: 'name exactly one target: agent or dfid' });

const CheckBody = z
  .object({
    agent: z.string().min(1).max(64),
    capability: z.string().min(1).max(200),
    params: z.record(z.string(), z.unknown()).default({}),
    observed_version: z.union([z.string().max(200), z.number()]).optional(),
    /** Judge as of this time (ISO 8601); default: now. */
    at: z.iso.datetime({ offset: true }).optional(),
  })
  .strict();

const ID = '([A-Za-z0-9._:-]{1,128})';
const ROUTES: { method: 'GET' | 'POST'; pattern: RegExp; handler: Handler }[] = [
  { method: 'GET', pattern: /^\/api\/v1\/whoami$/, handler: whoami },
  { method: 'GET', pattern: /^\/api\/v1\/approvals$/, handler: listApprovals },
  { method: 'GET', pattern: new RegExp(`^/api/v1/approvals/${ID}$`), handler: getApproval },
  { method: 'POST', pattern: new RegExp(`^/api/v1/approvals/${ID}/(approve|deny)$`), handler: decide },
  { method: 'GET', pattern: /^\/api\/v1\/agents$/, handler: listAgents },
  { method: 'GET', pattern: new RegExp(`^/api/v1/agents/${ID}$`), handler: getAgent },
  { method: 'GET', pattern: new RegExp(`^/api/v1/agents/${ID}/overview$`), handler: agentOverview },
  { method: 'GET', pattern: /^\/api\/v1\/budgets$/, handler: listBudgets },
  { method: 'GET', pattern: /^\/api\/v1\/monitors$/, handler: listMonitors },
  { method: 'GET', pattern: /^\/api\/v1\/stats\/decisions$/, handler: decisionRate },
  { method: 'GET', pattern: /^\/api\/v1\/keys\/receipts$/, handler: receiptKey },
  { method: 'GET', pattern: /^\/api\/v1\/interventions$/, handler: listInterventions },
  { method: 'POST', pattern: /^\/api\/v1\/interventions$/, handler: issueIntervention },
  { method: 'GET', pattern: /^\/api\/v1\/decisions$/, handler: decisionsOfFlow },
  { method: 'GET', pattern: new RegExp(`^/api/v1/decisions/${ID}$`), handler: getDecision },
  { method: 'GET', pattern: new RegExp(`^/api/v1/decisions/${ID}/story$`), handler: decisionStory },
  { method: 'POST', pattern: new RegExp(`^/api/v1/decisions/${ID}/settle$`), handler: settle },
  { method: 'POST', pattern: /^\/api\/v1\/check$/, handler: checkCall },
  { method: 'POST', pattern: /^\/api\/v1\/reload$/, handler: reload },
  { method: 'GET', pattern: /^\/api\/v1\/policy\/files$/, handler: policyFiles },
  { method: 'POST', pattern: /^\/api\/v1\/policy\/impact$/, handler: (ctx, r) => policyImpactHttp(ctx, r, (schema) => body(ctx, r, schema)) },
  { method: 'GET', pattern: /^\/api\/v1\/delegations$/, handler: (ctx, r) => delegations.delegationTree(ctx, r) },
  { method: 'POST', pattern: /^\/api\/v1\/delegations$/, handler: (ctx, r) => delegations.delegationCreate(ctx, r, (schema) => body(ctx, r, schema)) },
  { method: 'GET', pattern: new RegExp(`^/api/v1/delegations/${ID}$`), handler: (ctx, r, m) => delegations.delegationShow(ctx, r, m[1] as string, replies(ctx, r)) },
  { method: 'POST', pattern: new RegExp(`^/api/v1/delegations/${ID}/revoke$`), handler: (ctx, r, m) => delegations.delegationRevoke(ctx, r, m[1] as string, (schema) => body(ctx, r, schema), replies(ctx, r)) },
  { method: 'GET', pattern: /^\/api\/v1\/plans$/, handler: (ctx, r) => plans.planList(ctx, r) },
  { method: 'POST', pattern: /^\/api\/v1\/plans$/, handler: (ctx, r) => plans.planSubmit(ctx, r, (schema) => body(ctx, r, schema)) },
  { method: 'GET', pattern: new RegExp(`^/api/v1/plans/${ID}$`), handler: (ctx, r, m) => plans.planShow(ctx, r, m[1] as string, planReplies(ctx, r)) },
  { method: 'POST', pattern: new RegExp(`^/api/v1/plans/${ID}/(resume|abandon)$`), handler: (ctx, r, m) => plans.planAct(ctx, r, m[1] as string, m[2] as 'resume' | 'abandon', (schema) => body(ctx, r, schema), planReplies(ctx, r)) },
  { method: 'GET', pattern: /^\/api\/v1\/ledger$/, handler: ledgerPage },
  { method: 'GET', pattern: /^\/api\/v1\/ledger\/verify$/, handler: ledgerVerify },
];

type Handler = (ctx: HttpContext, r: OperatorRequest, match: RegExpExecArray) => Promise<void> | void;
type OperatorRequest = RouteRequest & { principal: { kind: 'operator'; id: string; role: 'operator' | 'viewer' } };

export async function handleApi(ctx: HttpContext, r: OperatorRequest): Promise<void> {
  const path = r.url.pathname;
  const sameUrl = ROUTES.filter((route) => route.pattern.test(path));
  if (!sameUrl.length) return reject(ctx, r, 'NOT_FOUND');
  const route = sameUrl.find((x) => x.method === r.req.method);
  if (!route) return reject(ctx, r, 'METHOD_NOT_ALLOWED', { headers: { Allow: [...new Set(sameUrl.map((x) => x.method))].join(', ') } });
  if (route.method === 'POST' && r.principal.role !== 'operator') return reject(ctx, r, 'READ_ONLY_ROLE');
  await route.handler(ctx, r, route.pattern.exec(path) as RegExpExecArray);
}

function replies(ctx: HttpContext, r: RouteRequest) {
  return { reject: (code: 'NOT_FOUND' | 'INVALID_REQUEST', message: string) => reject(ctx, r, code, { message }) };
}

function planReplies(ctx: HttpContext, r: RouteRequest) {
  return { reject: (code: 'NOT_FOUND' | 'PLAN_STATE_CONFLICT', message: string) => reject(ctx, r, code, { message }) };
}

function reject(ctx: HttpContext, r: RouteRequest, code: HttpErrorCode, opts: Parameters<typeof sendError>[2] = {}): void {
  ctx.metrics.rejected(code);
  sendError(r.res, code, opts);
}

/** Reads and validates a JSON body; answers the rejection itself and returns null when it is not acceptable. */
async function body<T>(ctx: HttpContext, r: RouteRequest, schema: z.ZodType<T>): Promise<T | null> {
  const type = r.req.headers['content-type'];
  const read = await readBody(r.req, ctx.cfg.max_body_bytes);
  if (!read.ok) {
    reject(ctx, r, read.code, { close: true });
    return null;
  }
  if (read.body.length && !/^application\/json\b/i.test(type ?? '')) {
    reject(ctx, r, 'UNSUPPORTED_MEDIA_TYPE');
    return null;
  }
  const json = parseJson(read.body);
  if (!json.ok) {
    reject(ctx, r, 'INVALID_REQUEST', { message: 'the body is not valid JSON' });
    return null;
  }
  const parsed = schema.safeParse(json.value ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    reject(ctx, r, 'INVALID_REQUEST', { message: `${issue?.path.join('.') || 'body'}: ${issue?.message ?? 'invalid'}` });
    return null;
  }
  return parsed.data;
}

function intParam(url: URL, name: string, fallback: number, min: number, max: number): number {
  const raw = url.searchParams.get(name);
  const n = raw === null ? fallback : Number(raw);
  return Number.isInteger(n) ? Math.min(Math.max(n, min), max) : fallback;
}

function whoami(_ctx: HttpContext, r: OperatorRequest): void {
  sendJson(r.res, 200, { kind: 'operator', operator: r.principal.id, role: r.principal.role });
}

async function listApprovals(ctx: HttpContext, r: OperatorRequest): Promise<void> {
  const { kernel, store } = ctx.rt;
  const now = kernel.deps.world.now();
  const pending = (await store.decisions.pending()).filter((d) => d.expires_at === null || d.expires_at > now);
  sendJson(r.res, 200, { approvals: pending.map((d) => approvalView(kernel, d, audienceOf(r.principal.role))), now: new Date(now).toISOString() });
}

async function getApproval(ctx: HttpContext, r: OperatorRequest, m: RegExpExecArray): Promise<void> {
  const d = await ctx.rt.store.decisions.get(m[1] as string);
  if (!d) return reject(ctx, r, 'NOT_FOUND', { message: `no decision \`${m[1]}\`` });
  sendJson(r.res, 200, { approval: approvalView(ctx.rt.kernel, d, audienceOf(r.principal.role)) });
}

async function decide(ctx: HttpContext, r: OperatorRequest, m: RegExpExecArray): Promise<void> {
  const id = m[1] as string;
  const act = m[2] as 'approve' | 'deny';
  const b = await body(ctx, r, ReasonBody);
  if (!b) return;
  const { kernel, store } = ctx.rt;
  const d = await store.decisions.get(id);
  if (!d) return reject(ctx, r, 'NOT_FOUND', { message: `no decision \`${id}\`` });
  if (d.status !== 'pending') return reject(ctx, r, 'DECISION_NOT_PENDING', { message: `decision \`${id}\` is ${d.status}`, extra: { status: d.status } });
  try {
    const outcome = act === 'approve' ? await kernel.approve(id, r.principal.id, b.reason ?? null) : await kernel.deny(id, r.principal.id, b.reason ?? null);
    ctx.log.info({ operator: r.principal.id, decision_id: id, act, verdict: outcome.verdict }, 'operator decided an escalation');
    sendJson(r.res, 200, { outcome: outcomeView(kernel, outcome) });
  } catch (err) {
    // Resolved by someone else (another operator, the CLI, the expiry sweep) in the meantime.
    if (err instanceof KernelError) return reject(ctx, r, 'DECISION_NOT_PENDING', { message: err.message });
    throw err;
  }
}

async function agentRows(ctx: HttpContext, only?: string) {
  const { kernel, store } = ctx.rt;
  const pending = new Map<string, number>();
  for (const d of await store.decisions.pending()) pending.set(d.agent, (pending.get(d.agent) ?? 0) + 1);
  const agents = only !== undefined ? [only] : [...kernel.workspace.contracts.keys()].sort();
  const rows = [];
  for (const a of agents) rows.push(agentView(kernel, a, await store.agents.statusRow(a), ctx.sessions.countFor(a), pending.get(a) ?? 0));
  return rows;
}

async function listAgents(ctx: HttpContext, r: OperatorRequest): Promise<void> {
  sendJson(r.res, 200, { agents: await agentRows(ctx) });
}

async function getAgent(ctx: HttpContext, r: OperatorRequest, m: RegExpExecArray): Promise<void> {
  const agent = m[1] as string;
  if (!ctx.rt.kernel.contractOf(agent)) return reject(ctx, r, 'NOT_FOUND', { message: `no agent \`${agent}\`` });
  sendJson(r.res, 200, { agent: (await agentRows(ctx, agent))[0] });
}

async function listInterventions(ctx: HttpContext, r: OperatorRequest): Promise<void> {
  // Read-only: the housekeeping sweep expires interventions, not a GET.
  const limit = intParam(r.url, 'limit', 100, 1, 1_000);
  sendJson(r.res, 200, { interventions: (await ctx.rt.store.agents.interventions(limit)).map(interventionView) });
}

async function issueIntervention(ctx: HttpContext, r: OperatorRequest): Promise<void> {
  const b = await body(ctx, r, InterventionBody);
  if (!b) return;
  const outcome = await intervene(ctx.rt.kernel, { kind: 'operator', id: r.principal.id }, {
    act: b.act,
    target: b.agent !== undefined ? { agent: b.agent } : { dfid: b.dfid as string },
    reason: b.reason ?? `${b.act} by operator`,
    constrain: b.act === 'constrain' ? { capability: b.capability ?? '', field: b.field ?? '', max: b.max ?? Number.NaN, minutes: b.minutes } : undefined,
    redirect: b.act === 'redirect' ? { note: b.note ?? '', minutes: b.minutes } : undefined,
  });
  ctx.log.info({ operator: r.principal.id, act: b.act, verdict: outcome.verdict }, 'operator intervention');
  // A refused intervention is a governed outcome (recorded in the ledger), not an edge rejection.
  sendJson(r.res, outcome.verdict === 'accepted' ? 200 : 422, { outcome });
}

async function decisionsOfFlow(ctx: HttpContext, r: OperatorRequest): Promise<void> {
  const dfid = r.url.searchParams.get('dfid');
  if (!dfid || !/^[0-9a-f]{32}$/.test(dfid)) return reject(ctx, r, 'INVALID_REQUEST', { message: 'give ?dfid=<32 lowercase hex>' });
  const { kernel, store } = ctx.rt;
  sendJson(r.res, 200, { dfid, decisions: (await store.decisions.byDfid(dfid)).map((d) => decisionView(kernel, d)), events: await store.ledger.byDfid(dfid) });
}

async function getDecision(ctx: HttpContext, r: OperatorRequest, m: RegExpExecArray): Promise<void> {
  const d = await ctx.rt.store.decisions.get(m[1] as string);
  if (!d) return reject(ctx, r, 'NOT_FOUND', { message: `no decision \`${m[1]}\`` });
  sendJson(r.res, 200, { decision: decisionView(ctx.rt.kernel, d) });
}

/** Settles a decision whose outcome a crash left unknown: the effect happened (`applied`), or it did not. */
async function settle(ctx: HttpContext, r: OperatorRequest, m: RegExpExecArray): Promise<void> {
  const b = await body(ctx, r, SettleBody);
  if (!b) return;
  try {
    const outcome = await ctx.rt.kernel.settleOutcome(m[1] as string, b.applied, `operator:${r.principal.id}`, b.reason ?? null);
    ctx.log.info({ operator: r.principal.id, decision_id: m[1], applied: b.applied }, 'operator settled an unknown outcome');
    sendJson(r.res, 200, { outcome: outcomeView(ctx.rt.kernel, outcome) });
  } catch (err) {
    if (err instanceof KernelError) return reject(ctx, r, 'DECISION_NOT_PENDING', { message: err.message });
    throw err;
  }
}

/** "Would this call be allowed?" (operator role): the pipeline up to the effect; recorded as a check, never a decision. */
async function checkCall(ctx: HttpContext, r: OperatorRequest): Promise<void> {
  const b = await body(ctx, r, CheckBody);
  if (!b) return;
  const result = await ctx.rt.kernel.check({ agent: b.agent, capability: b.capability, params: b.params, observed_version: b.observed_version, at: b.at === undefined ? undefined : Date.parse(b.at), by: `operator:${r.principal.id}` });
  sendJson(r.res, 200, { check: result });
}

/** Live reload of this process's contracts, policies and capability modules (operator role); 422 when the new set is refused. */
async function reload(ctx: HttpContext, r: OperatorRequest): Promise<void> {
  const b = await body(ctx, r, z.object({}).strict());
  if (!b) return;
  const result = await ctx.rt.reload(`operator:${r.principal.id}`);
  sendJson(r.res, result.ok ? 200 : 422, { reload: result });
}

const PAGE_MAX = 500;

async function ledgerPage(ctx: HttpContext, r: OperatorRequest): Promise<void> {
  const { ledger } = ctx.rt.store;
  const head = await ledger.headSeq();
  const limit = intParam(r.url, 'limit', 100, 1, PAGE_MAX);
  const tail = r.url.searchParams.get('tail');
  const after = tail !== null ? Math.max(0, head - intParam(r.url, 'tail', 50, 1, PAGE_MAX)) : intParam(r.url, 'after', 0, 0, Number.MAX_SAFE_INTEGER);
  const events = await ledger.page(after, tail !== null ? PAGE_MAX : limit);
  const last = events[events.length - 1];
  sendJson(r.res, 200, { head, events, next_after: last ? last.seq : after });
}

async function ledgerVerify(ctx: HttpContext, r: OperatorRequest): Promise<void> {
  const started = performance.now();
  const result = await ctx.rt.store.ledger.verify();
  const ms = Math.round((performance.now() - started) * 10) / 10;
  sendJson(r.res, 200, result.ok ? { intact: true, events: result.events, head: result.head, verified_in_ms: ms } : { intact: false, events: result.events, first_bad_seq: result.firstBadSeq, problem: result.problem, verified_in_ms: ms });
}
