import { z } from 'zod';
import type { Capability } from '../capabilities/manifest.js';
import { capabilityMatches, grantFor } from '../config/contract-schema.js';
import type { Outcome } from '../core/types.js';
import { IdempotencyKeySchema, IntentSchema, OutcomeSchema, SubmitIntentArgsSchema } from '../core/wire.js';
import type { Kernel } from '../kernel/kernel.js';
import { DELEGATE_ID, DELEGATE_TOOL } from '../kernel/delegation/request.js';
import { wireName } from '../gateway/exposure.js';
import { PLAN_META_KEY, PlanRequestSchema } from '../kernel/plans/request.js';

/** Tool arguments of the fixed governed tools (the intent schema is shared with the kernel). */
export const InvokeArgsSchema = z
  .object({
    capability: IntentSchema.shape.capability,
    params: IntentSchema.shape.params,
    idempotency_key: IdempotencyKeySchema.optional(),
    observed_version: IntentSchema.shape.observed_version,
  })
  .strict();

export const ReadMemoryArgsSchema = z
  .object({
    scope: z.string().min(1).max(64).describe('Memory scope granted by your contract, e.g. suppliers.'),
    key: z.string().min(1).max(128).optional().describe('Read one record by key.'),
    pack: z.string().min(1).max(64).optional().describe('Read a named pack of records.'),
  })
  .strict()
  .refine((a) => !(a.key && a.pack), { message: 'pass key or pack, not both' })
  .describe('Give key for one record, pack for a named bundle, or neither to list the scope.');

export const InterveneArgsSchema = z
  .object({
    action: z
      .enum(['pause', 'resume', 'terminate', 'constrain', 'redirect', 'approve', 'deny'])
      .describe('pause/resume/terminate an agent or a flow; constrain (tighten a limit) or redirect (leave a note for) an agent; approve/deny an escalation.'),
    agent: z.string().min(1).max(64).optional().describe('The agent to act on. You may pause yourself; you can never resume yourself.'),
    dfid: z
      .string()
      .regex(/^[0-9a-f]{32}$/)
      .optional()
      .describe("A flow to pause, resume or terminate: that agent's calls in it (default: your own), instead of the whole agent."),
    decision_id: z.string().min(1).max(64).optional().describe('For approve/deny: the escalated decision.'),
    capability: z.string().max(200).optional().describe('For constrain: the capability whose limit to tighten.'),
    field: z.string().max(64).optional().describe('For constrain: the limited field, e.g. amount_minor.'),
    max: z.number().optional().describe('For constrain: the new, lower cap.'),
    note: z.string().max(2000).optional().describe('For redirect: the note the agent gets on its next call.'),
    minutes: z.number().int().positive().max(10_080).optional().describe('For constrain/redirect: how long it lasts (default 60).'),
    reason: z.string().min(1).max(2000).describe('Why; recorded as a hash.'),
  })
  .strict()
  .refine((a) => (a.decision_id !== undefined) !== (a.agent !== undefined || a.dfid !== undefined), {
    message: 'name one target: agent, dfid (with an optional agent), or decision_id',
  });

export const GetDecisionArgsSchema = z
  .object({
    decision_id: z.string().min(1).max(64).describe('decision_id from an earlier result.'),
    wait_seconds: z.number().int().min(0).max(60).optional().describe('Wait up to this long (max 60) for a pending decision to be resolved.'),
  })
  .strict();

export const ListCapabilitiesOutputSchema = z.object({
  agent: z.string(),
  capabilities: z.array(
    z.object({
      id: z.string(),
      version: z.string(),
      title: z.string().optional(),
      description: z.string(),
      side_effect: z.enum(['read', 'write', 'destructive']),
      tool: z.string().optional(),
      input_schema: z.record(z.string(), z.unknown()),
      output_schema: z.record(z.string(), z.unknown()),
      limits: z.record(z.string(), z.unknown()),
      escalation_rules: z.array(z.string()),
      condition: z.string().optional().describe("The grant's Cedar condition (`when`), if it has one: e.g. a path prefix for an upstream filesystem tool."),
    }),
  ),
});

/** Governance fields accepted next to a capability's own params when it is exposed as its own tool. */
export const CapabilityToolExtrasSchema = z
  .object({
    idempotency_key: IdempotencyKeySchema.optional(),
    observed_version: IntentSchema.shape.observed_version,
    rationale: IntentSchema.shape.rationale,
    ttl_seconds: IntentSchema.shape.ttl_seconds,
  })
  .strict()
  .describe('Optional governance fields: idempotency key, observed state version, rationale, TTL.');

export interface ToolDefinition {
  name: string;
  title: string;
  description: string;
  inputSchema: Record<string, unknown>;
  /** Absent only for an upstream tool that declares none. */
  outputSchema?: Record<string, unknown>;
  annotations: { readOnlyHint?: boolean; destructiveHint?: boolean; idempotentHint?: boolean; openWorldHint?: boolean; [key: string]: unknown };
}

/** Where a passthrough (upstream tool) result carries Mandate's outcome: a `_meta` key of its own. */
export const OUTCOME_META_KEY = 'mandate/outcome';

const json = (schema: z.ZodType, io: 'input' | 'output' = 'input') => z.toJSONSchema(schema, { target: 'draft-07', io }) as Record<string, unknown>;
const OUTCOME_JSON = json(OutcomeSchema, 'output');
const EXTRAS_JSON = json(CapabilityToolExtrasSchema);

const OUTCOME_NOTE =
  'The result is structured: verdict (accepted | rejected | escalated), reasons (stable codes), dfid, decision_id, output when accepted, and a ledger receipt. A rejection comes back as an error result with the same fields. An escalation waits for a human: poll get_decision with its decision_id.';

/** Freezes a tool definition to its leaves: one copy is shared by every server, and a change to it would reach them all. */
function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

let fixed: readonly ToolDefinition[] | undefined;

/**
 * The governance tools, built once: converting their schemas from zod costs
 * milliseconds, and at 2026-07-28 every request has a server of its own.
 */
export function fixedTools(): readonly ToolDefinition[] {
  return (fixed ??= deepFreeze(buildFixedTools()));
}

function buildFixedTools(): ToolDefinition[] {
  return [
    {
      name: 'submit_intent',
      title: 'Submit an intent',
      description: `Propose an action: a capability id with its params, or instead \`text\` saying in words what you want done (where the server enables free-text intents, a local model proposes the capability and params; the result's \`normalized\` shows what it proposed). Optional: rationale, idempotency_key, ttl_seconds, created_at, observed_version. Either way the kernel validates the proposal against your responsibility contract, the capability's schema and limits, the current state and the policies before anything happens; text cannot change a verdict. ${OUTCOME_NOTE}`,
      inputSchema: json(SubmitIntentArgsSchema),
      outputSchema: OUTCOME_JSON,
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    },
    {
      name: 'invoke_capability',
      title: 'Invoke a capability',
      description: `Call a capability granted to you (see list_capabilities) with its params; the same governance as submit_intent applies. Pass idempotency_key to make retries safe: a repeat returns the first outcome and never runs twice. ${OUTCOME_NOTE}`,
      inputSchema: json(InvokeArgsSchema),
      outputSchema: OUTCOME_JSON,
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    },
    {
      name: 'read_memory',
      title: 'Read a memory record',
      description: 'Read scoped, versioned memory: one record by key, a named pack, or a listing of the scope. Only scopes your contract grants, up to its maximum sensitivity, are readable (more sensitive records are withheld and counted); every read is recorded. Records are also MCP resources memory://{scope}/{key}.',
      inputSchema: json(ReadMemoryArgsSchema),
      outputSchema: OUTCOME_JSON,
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    {
      name: 'intervene',
      title: 'Intervene on an agent',
      description: 'Intervene as a supervisor: pause, resume or terminate an agent or one flow (dfid) — a termination aborts its running calls; constrain an agent (tighten one limit for some minutes, never beyond its contract); redirect it (a note it receives on its next call); or approve/deny an escalation of an agent your contract lets you approve. Any agent may pause itself; none can resume itself or decide its own escalation.',
      inputSchema: json(InterveneArgsSchema),
      outputSchema: OUTCOME_JSON,
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    },
    {
      name: 'get_decision',
      title: 'Get a decision',
      description: 'Fetch the current outcome of one of your decisions by decision_id, e.g. to see whether an escalated request was approved (then it has run, and its output is here), denied or expired. Pass wait_seconds (up to 60) to wait for a pending one to be decided.',
      inputSchema: json(GetDecisionArgsSchema),
      outputSchema: OUTCOME_JSON,
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    {
      name: 'submit_plan',
      title: 'Submit a plan',
      description: `Propose a bounded plan of 1 to N steps (N is your contract's plans.max_steps, 20 by default), each a capability with its exact params or with declared bounds on some fields (e.g. { "amount_minor": { "max": 20000 } }, { "payee": { "allowed": ["a", "b"] } }), in order unless ordered is false, with optional plan-wide budgets and a time limit. The plan is decided as a whole, every step as if run in sequence with usage adding up: any step refused rejects the plan, naming the step; any step needing a human makes the plan wait for one approval of the whole. Once accepted (output.plan_id), call each step as usual with _meta["${PLAN_META_KEY}"] set to the plan id; each is checked against its step and still passes its own checks when it runs. While a plan runs, calls outside it are refused unless your contract allows them. A failed step stops the plan. get_decision on this decision_id shows the plan's report. ${OUTCOME_NOTE}`,
      inputSchema: json(PlanRequestSchema),
      outputSchema: OUTCOME_JSON,
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
    },
    {
      name: 'list_capabilities',
      title: 'List my capabilities',
      description: 'List the capabilities your contract grants, each with its JSON Schemas, side-effect class, contract limits and escalation rules. Call this first to learn what you may propose.',
      inputSchema: { type: 'object', properties: {}, additionalProperties: false },
      outputSchema: json(ListCapabilitiesOutputSchema, 'output'),
      annotations: { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
  ];
}

export function capabilityToolName(id: string): string {
  // The built-in delegation.create is the `delegate` tool (ADR-022).
  if (id === DELEGATE_ID) return DELEGATE_TOOL;
  return id.replace(/\./g, '_');
}

/** A granted capability as its own tool: its own params, plus an optional `mandate` object. */
export function capabilityTool(cap: Capability): ToolDefinition | null {
  const props = (cap.inputJsonSchema['properties'] ?? {}) as Record<string, unknown>;
  if ('mandate' in props) return null; // the name is taken by the governance fields
  return {
    name: capabilityToolName(cap.def.id),
    title: cap.def.title ?? cap.def.id,
    description: `${cap.def.description} (Governed by Mandate: ${cap.def.sideEffect} capability \`${cap.def.id}\` v${cap.def.version}. ${OUTCOME_NOTE})`,
    inputSchema: {
      ...cap.inputJsonSchema,
      properties: { ...props, mandate: EXTRAS_JSON },
    },
    outputSchema: OUTCOME_JSON,
    annotations: {
      readOnlyHint: cap.def.sideEffect === 'read',
      destructiveHint: cap.def.sideEffect === 'destructive',
      idempotentHint: true,
      openWorldHint: false,
    },
  };
}

/**
 * A pinned upstream tool as the agent sees it (ADR-008, ADR-013). Its input
 * schema is the upstream's, unchanged (`$schema` kept): governance inputs
 * (idempotency key, traceparent) travel in `_meta`. Transparent: the pinned
 * definition exactly as the upstream listed it, under its own name.
 * Prefixed: `<server>_<tool>`, its description saying that Mandate governs it.
 */
export function upstreamTool(cap: Capability): (ToolDefinition & Record<string, unknown>) | null {
  const up = cap.upstream;
  if (!up) return null;
  if (up.expose === 'transparent') return up.definition as ToolDefinition & Record<string, unknown>;
  return {
    ...up.definition,
    name: wireName('prefixed', up.server, up.tool),
    title: up.title ?? cap.def.id,
    description: `${up.description ?? cap.def.description} (Through Mandate: \`${cap.def.id}\` of the upstream server \`${up.server}\`, governed by your contract. A refused or escalated call is an error result whose _meta["${OUTCOME_META_KEY}"] and text carry the verdict, reasons and decision_id.)`,
    inputSchema: up.inputSchema,
    annotations: { ...(up.annotations ?? {}) },
  };
}

/**
 * How an upstream tool's call looks on the MCP wire (ADR-008), locked by
 * test/unit/gateway-wire.test.ts:
 * - accepted: the upstream's CallToolResult unchanged (content of every type,
 *   structuredContent, isError, its own _meta), plus the outcome without its
 *   output at `_meta["mandate/outcome"]`, which replaces any value the
 *   upstream put there. An operator's redirect note, if one is due, is added
 *   as a last text block, so that the model sees it.
 * - anything else (rejected, escalated, pending): an error result whose one
 *   text block is the outcome's JSON, with the outcome at the same `_meta`
 *   key, and no structuredContent (it would not match the tool's output schema).
 */
export function toPassthroughResult(outcome: Outcome): Record<string, unknown> {
  const { output, ...rest } = outcome;
  if (outcome.verdict === 'accepted' && isToolResult(output)) {
    const { _meta: upstreamMeta, content, ...result } = output;
    const note = outcome.operator_note ? [{ type: 'text', text: `[mandate] operator note: ${outcome.operator_note}` }] : [];
    return { ...result, content: [...content, ...note], _meta: { ...(isRecord(upstreamMeta) ? upstreamMeta : {}), [OUTCOME_META_KEY]: rest } };
  }
  return { content: [{ type: 'text', text: JSON.stringify(outcome) }], isError: true, _meta: { [OUTCOME_META_KEY]: outcome } };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function isToolResult(v: unknown): v is { content: unknown[]; _meta?: unknown } & Record<string, unknown> {
  return isRecord(v) && Array.isArray(v['content']);
}

export function listCapabilities(kernel: Kernel, agent: string, exposeAsTools: boolean): z.infer<typeof ListCapabilitiesOutputSchema> {
  const contract = kernel.contractOf(agent);
  return {
    agent,
    capabilities: kernel.grantedCapabilities(agent).map((cap) => {
      const grant = contract ? grantFor(contract, cap.def.id) : undefined;
      return {
        id: cap.def.id,
        version: cap.def.version,
        ...(cap.def.title ? { title: cap.def.title } : {}),
        description: cap.def.description,
        side_effect: cap.def.sideEffect,
        ...(cap.upstream ? { tool: upstreamTool(cap)?.name ?? capabilityToolName(cap.def.id) } : exposeAsTools ? { tool: capabilityToolName(cap.def.id) } : {}),
        input_schema: cap.inputJsonSchema,
        output_schema: cap.outputJsonSchema,
        limits: grant?.limits ?? {},
        ...(grant?.when ? { condition: grant.when } : {}),
        escalation_rules: (contract?.escalation.rules ?? []).filter((r) => capabilityMatches(r.capability, cap.def.id)).map((r) => r.reason),
      };
    }),
  };
}

/** How every governed outcome looks on the MCP wire: locked by test/wire-shape.test.ts. */
export function toToolResult(outcome: Outcome) {
  return {
    content: [{ type: 'text' as const, text: JSON.stringify(outcome) }],
    structuredContent: outcome as unknown as Record<string, unknown>,
    isError: outcome.verdict === 'rejected',
  };
}
