/**
 * The governed tools of one agent, independent of SDK and protocol revision:
 * which tools it has, and what one `tools/call` does. Both wires use it, the
 * 2025-era session's server (server.ts) and the 2026-07-28 request's server
 * (modern/server.ts), both on SDK v2 (ADR-036), so every call passes through the same kernel path
 * (ADR-020). Only the translation to and from the wire differs per adapter.
 */
import { z } from 'zod';
import type { Capability } from '../capabilities/manifest.js';
import { isJsonObject, jsonProblem } from '../core/json-guard.js';
import type { CallRelay, Channel, Intent, Outcome, Proposal, ReasonDetail } from '../core/types.js';
import { intervene } from '../kernel/interventions.js';
import { PLAN_CAPABILITY, PLAN_META_KEY } from '../kernel/plans/request.js';
import type { Kernel } from '../kernel/kernel.js';
import { readMemory } from '../kernel/memory-read.js';
import { outcomeAttributes } from '../telemetry/mcp-attributes.js';
import {
  CapabilityToolExtrasSchema,
  GetDecisionArgsSchema,
  InterveneArgsSchema,
  InvokeArgsSchema,
  ReadMemoryArgsSchema,
  capabilityTool,
  fixedTools,
  listCapabilities,
  toPassthroughResult,
  toToolResult,
  upstreamTool,
  type ToolDefinition,
} from './tools.js';

/** A tool this agent does not have: each adapter answers it in its own wire's words (-32602). */
export class UnknownToolError extends Error {
  constructor(name: string) {
    super(`unknown tool \`${name.slice(0, 64)}\``);
    this.name = 'UnknownToolError';
  }
}

export interface CapabilityToolEntry {
  tool: ToolDefinition;
  id: string;
  passthrough: boolean;
}

/** What one call needs from its wire. */
export interface CallContext {
  signal: AbortSignal;
  /** A cancel that counts only before the effect starts (2026-07-28 over HTTP: the response stream closed). */
  cancelBeforeEffect?: AbortSignal | undefined;
  relay: CallRelay;
  /** A task's own decision id (ADR-014). */
  decisionId?: string | undefined;
  traceparent?: string | undefined;
  idempotencyKey?: string | undefined;
  /** The plan this call is a step of (ADR-025). */
  planId?: string | undefined;
  /** A delegation token the caller presented in `_meta` (ADR-022). */
  delegationToken?: string | undefined;
  /** The delegation token the caller authenticated this request with, over HTTP (ADR-022). */
  bearerToken?: string | undefined;
  /** What an escalated outcome becomes on this wire (a question to the client's human, where the wire can ask). */
  onEscalated?: ((outcome: Outcome) => Promise<Outcome>) | undefined;
}

export interface GovernedTools {
  /** Mandate's own tools, when the workspace lists them. */
  readonly fixed: readonly ToolDefinition[];
  /** One tool per granted upstream tool, and per module capability when exposed. */
  capabilityTools(): CapabilityToolEntry[];
  /** The governed outcome a tool call would show, before its wire form: for capability tools, the upstream passthrough. */
  call(name: string, rawArgs: unknown, ctx: CallContext): Promise<Record<string, unknown>>;
}

/** Where a call carries a delegation token. */
export const DELEGATION_TOKEN_META = 'mandate/delegation_token';

/**
 * Where the HTTP edge hands the delegation token a request authenticated
 * with to the MCP server: the SDKs' `authInfo.extra` of that request, so it
 * reaches each call of the request, and never a later request of the session.
 */
export const BEARER_TOKEN_EXTRA = 'mandate/bearer_delegation_token';

export function bearerTokenOf(authInfo: { extra?: Record<string, unknown> | undefined } | undefined): string | undefined {
  const token = authInfo?.extra?.[BEARER_TOKEN_EXTRA];
  return typeof token === 'string' ? token : undefined;
}

/** Reads Mandate's own `_meta` keys of a call: W3C trace context and an idempotency key. */
export function readCallMeta(meta: Record<string, unknown> | undefined): { traceparent?: string; idempotencyKey?: string; delegationToken?: string; planId?: string } {
  const out: { traceparent?: string; idempotencyKey?: string; delegationToken?: string; planId?: string } = {};
  if (typeof meta?.[DELEGATION_TOKEN_META] === 'string') out.delegationToken = meta[DELEGATION_TOKEN_META];
  const plan = meta?.[PLAN_META_KEY] ?? meta?.['plan_id'];
  if (typeof plan === 'string') out.planId = plan.slice(0, 128);
  if (typeof meta?.['traceparent'] === 'string') out.traceparent = meta['traceparent'];
  if (typeof meta?.['idempotency_key'] === 'string') out.idempotencyKey = meta['idempotency_key'];
  return out;
}

export function governedTools(kernel: Kernel, agent: string, channel: Channel): GovernedTools {
  const { tools: toolsConfig } = kernel.workspace.config;
  const mandateTools = toolsConfig.mandate_tools;
  const expose = toolsConfig.expose_capabilities;
  const fixed = mandateTools ? fixedTools() : [];

  // A re-pin can change the upstream capabilities while a server runs, so the list is rebuilt when the granted set does.
  let cache: { caps: Capability[]; tools: CapabilityToolEntry[] } | null = null;
  const capabilityTools = (): CapabilityToolEntry[] => {
    const caps = kernel.grantedCapabilities(agent);
    if (cache && cache.caps.length === caps.length && cache.caps.every((c, i) => c === caps[i])) return cache.tools;
    const taken = new Set(fixed.map((t) => t.name));
    const tools: CapabilityToolEntry[] = [];
    for (const cap of caps) {
      const tool = cap.upstream ? upstreamTool(cap) : expose ? capabilityTool(cap) : null;
      if (!tool || taken.has(tool.name)) continue;
      taken.add(tool.name);
      tools.push({ tool, id: cap.def.id, passthrough: !!cap.upstream });
    }
    cache = { caps, tools };
    return tools;
  };

  const call = async (name: string, rawArgs: unknown, given: CallContext): Promise<Record<string, unknown>> => {
    // Without a caller's trace context, the request's own span names the flow: its trace id becomes the DFID (ADR-026).
    const tracer = kernel.deps.tracer;
    const ctx = given.traceparent || !tracer?.enabled ? given : { ...given, traceparent: tracer.current()?.traceparent };
    const problem = !isJsonObject(rawArgs)
      ? { path: '(arguments)', message: `arguments must be a JSON object, not ${Array.isArray(rawArgs) ? 'an array' : rawArgs === null ? 'null' : `a ${typeof rawArgs}`}` }
      : jsonProblem(rawArgs);
    const args = (problem ? {} : rawArgs) as Record<string, unknown>;
    const govern = async (intent: Proposal, argumentIssues?: z.ZodError) => {
      const outcome = await kernel.govern({
        agent,
        intent,
        channel,
        traceparent: ctx.traceparent,
        metaIdempotencyKey: ctx.idempotencyKey,
        delegationToken: ctx.delegationToken,
        bearerToken: ctx.bearerToken,
        signal: ctx.signal,
        cancelBeforeEffect: ctx.cancelBeforeEffect,
        relay: ctx.relay,
        decisionId: ctx.decisionId,
        planId: ctx.planId,
        argumentIssues: argumentIssues?.issues.map((i) => ({ path: i.path.map(String).join('.') || '(arguments)', message: i.message })),
      });
      // The request's span learns the decision: verdict, reason codes, ids (never a value).
      if (tracer?.enabled) tracer.annotate(outcomeAttributes(outcome));
      return outcome.verdict === 'escalated' && ctx.onEscalated ? ctx.onEscalated(outcome) : outcome;
    };
    if (problem) {
      // Nothing of the arguments is kept: a governed tool records the refusal under the capability it names, if any.
      const issues = new z.ZodError([{ code: 'custom', path: problem.path === '(arguments)' ? [] : problem.path.split('.'), message: problem.message, input: undefined }]);
      const target = capabilityTools().find((t) => t.tool.name === name);
      const named = isJsonObject(rawArgs) && typeof rawArgs['capability'] === 'string' ? rawArgs['capability'].slice(0, 200) : '(invalid arguments)';
      if (name === 'submit_intent' || name === 'invoke_capability' || target) return toToolResult(await govern({ capability: target?.id ?? named, params: {} }, issues));
      if (!fixed.some((t) => t.name === name)) throw new UnknownToolError(name);
      return toToolResult(argumentError(kernel, issues));
    }

    // Without Mandate's own tools listed, their names are not Mandate's (a transparent upstream may own one).
    switch (mandateTools ? name : '') {
      case 'submit_intent':
        // Structured or free text: the kernel checks the form, normalises text (step 4) and governs the result.
        return toToolResult(await govern(args as unknown as Proposal));
      case 'invoke_capability': {
        const parsed = InvokeArgsSchema.safeParse(args);
        // An invalid call is still governed, so the kernel records and explains it.
        return toToolResult(parsed.success ? await govern(parsed.data) : await govern(args as unknown as Intent, parsed.error));
      }
      case 'read_memory': {
        const parsed = ReadMemoryArgsSchema.safeParse(args);
        if (!parsed.success) return toToolResult(argumentError(kernel, parsed.error));
        const { scope, key, pack } = parsed.data;
        const query = key !== undefined ? { scope, key } : pack !== undefined ? { scope, pack } : { scope };
        return toToolResult(await readMemory(kernel, agent, query, ctx.traceparent));
      }
      case 'intervene': {
        const parsed = InterveneArgsSchema.safeParse(args);
        if (!parsed.success) return toToolResult(argumentError(kernel, parsed.error));
        const a = parsed.data;
        const target = a.dfid !== undefined ? { dfid: a.dfid, agent: a.agent } : a.agent !== undefined ? { agent: a.agent } : { decision_id: a.decision_id as string };
        return toToolResult(
          await intervene(
            kernel,
            { kind: 'agent', id: agent },
            {
              act: a.action,
              target,
              reason: a.reason,
              constrain: a.action === 'constrain' ? { capability: a.capability ?? '', field: a.field ?? '', max: a.max ?? Number.NaN, minutes: a.minutes } : undefined,
              redirect: a.action === 'redirect' ? { note: a.note ?? '', minutes: a.minutes } : undefined,
            },
            ctx.traceparent,
          ),
        );
      }
      case 'get_decision': {
        const parsed = GetDecisionArgsSchema.safeParse(args);
        if (!parsed.success) return toToolResult(argumentError(kernel, parsed.error));
        const outcome = await kernel.waitForDecision(agent, parsed.data.decision_id, (parsed.data.wait_seconds ?? 0) * 1000, ctx.signal);
        if (!outcome) return toToolResult(notFound(kernel, parsed.data.decision_id));
        return { ...toToolResult(await withPlanReport(kernel, agent, outcome)), isError: false };
      }
      case 'submit_plan':
        // A plan's steps run after this request, where its bearer token no longer is: a token holder calls step by step.
        if (ctx.bearerToken !== undefined) {
          return toToolResult(plainRejection(kernel, [{ code: 'DELEGATION_TOKEN_INVALID', message: 'a caller authenticated with a delegation token cannot submit a plan: its steps would run without the token\'s checks; call them one by one', path: 'Authorization' }]));
        }
        // The kernel checks the plan's shape itself, so a malformed plan is a recorded refusal too (ADR-025).
        return toToolResult(await kernel.submitPlan({ agent, request: args, channel, traceparent: ctx.traceparent, decisionId: ctx.decisionId }));
      case 'list_capabilities': {
        const result = listCapabilities(kernel, agent, expose);
        return { content: [{ type: 'text' as const, text: JSON.stringify(result) }], structuredContent: result };
      }
      default: {
        const target = capabilityTools().find((t) => t.tool.name === name);
        if (!target) throw new UnknownToolError(name);
        // An upstream tool's arguments are the upstream's own: governance inputs come in _meta only (ADR-013).
        let params = args;
        let mandate: unknown;
        if (!target.passthrough) ({ mandate, ...params } = args);
        const extras = CapabilityToolExtrasSchema.safeParse(mandate ?? {});
        const intent = { ...(extras.success ? extras.data : {}), capability: target.id, params } as Intent;
        const outcome = await govern(intent, extras.success ? undefined : prefixIssues(extras.error, 'mandate'));
        // An upstream tool answers with the upstream's own result (ADR-008); a module capability with the outcome.
        return target.passthrough ? toPassthroughResult(outcome) : toToolResult(outcome);
      }
    }
  };

  return { fixed, capabilityTools, call };
}

/** A plan's decision carries the plan's report as it stands now (ADR-025). */
async function withPlanReport(kernel: Kernel, agent: string, outcome: Outcome): Promise<Outcome> {
  const planId = (outcome.output as { plan_id?: unknown } | undefined)?.plan_id;
  if (outcome.capability !== PLAN_CAPABILITY || typeof planId !== 'string') return outcome;
  return { ...outcome, output: { ...(outcome.output as object), report: await kernel.planReport(planId, agent) } };
}

function prefixIssues(error: z.ZodError, prefix: string): z.ZodError {
  return new z.ZodError(error.issues.map((i) => ({ ...i, path: [prefix, ...i.path] })));
}

/** A refusal made at the adapter (bad tool arguments, unknown decision): nothing ran, nothing changed. */
export function plainRejection(kernel: Kernel, details: ReasonDetail[]): Outcome {
  return {
    verdict: 'rejected',
    reasons: [...new Set(details.map((d) => d.code))],
    details,
    dfid: kernel.deps.world.newTraceId(),
    decision_id: kernel.deps.world.newId(),
    capability: null,
    idempotency_key: null,
    status: 'rejected',
    policies: [],
    receipt: null,
  };
}

function argumentError(kernel: Kernel, error: z.ZodError): Outcome {
  return plainRejection(
    kernel,
    error.issues.map((i) => ({ code: 'SCHEMA_INVALID' as const, message: i.message, path: i.path.map(String).join('.') || '(arguments)' })),
  );
}

function notFound(kernel: Kernel, id: string): Outcome {
  return plainRejection(kernel, [{ code: 'DECISION_NOT_FOUND', message: `no decision \`${id}\` of yours` }]);
}
