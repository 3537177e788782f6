import { z } from 'zod';
import { REASON_CODES, type ReasonCode } from '../core/reasons.js';
import type { CallRelay, ReasonDetail, SideEffect } from '../core/types.js';

/** What a handler and a facts resolver are given; no clock or id is read ad hoc. */
export interface CapabilityContext {
  signal: AbortSignal;
  dfid: string;
  agent: string;
  workspaceDir: string;
  now: number;
  /** The decision this call belongs to (a handler may record it with its effect, so `reconcile` can find it). */
  decisionId?: string | undefined;
  /** The caller's progress token and notification channel, when the call came over a transport that has one. */
  relay?: CallRelay | undefined;
}

/**
 * Reports a running handler's progress to its caller: `done` of `total`
 * units (done must grow), with an optional short message. It never throws;
 * reports come out at most every 100 ms (the latest is kept) and only when
 * the caller asked for progress or follows the call as an MCP task.
 */
export type ProgressReporter = (done: number, total?: number, message?: string) => void;

/** One problem a schema found, with where (zod's and the JSON Schema validator's issues both fit). */
export interface SchemaIssue {
  readonly path: readonly PropertyKey[];
  readonly message: string;
}

/** The result of parsing a value with a capability's schema. */
export type SchemaParse<T> = { success: true; data: T } | { success: false; error: { issues: readonly SchemaIssue[] } };

/**
 * A capability's params schema as the kernel uses it: a zod object (modules)
 * or a JSON Schema checked by ajv (upstream MCP tools, src/capabilities/json-schema.ts).
 * `strict()` is the same schema closed to unknown keys (for a model's proposal).
 */
export interface ParamsSchema {
  safeParse(value: unknown): SchemaParse<Record<string, unknown>>;
  strict(): ParamsSchema;
}

/** A capability's output schema: zod (modules) or a checker of a whole MCP tool result (upstream tools). */
export interface OutputSchema {
  safeParse(value: unknown): SchemaParse<unknown>;
}

/**
 * A handler may throw this to name the reason code of its failure (only the
 * codes below); any other throw is HANDLER_FAILED. The gateway uses it when an
 * upstream server goes away during a call.
 */
export class CapabilityError extends Error {
  constructor(
    readonly code: Extract<ReasonCode, 'UPSTREAM_UNAVAILABLE' | 'DELEGATION_CHILD_TAKEN' | 'DELEGATION_CHILDREN_EXCEEDED' | 'CLIENT_REQUEST_NOT_GRANTED' | 'CLIENT_CAPABILITY_MISSING'>,
    message: string,
  ) {
    super(message);
    this.name = 'CapabilityError';
  }
}

export type Facts = Record<string, unknown>;
export type Values = Record<string, unknown>;

export interface Invariant {
  id: string;
  message: string;
  /** STATE_DRIFT for a check that the state is still what the agent saw; INVARIANT_VIOLATED by default. */
  code?: 'INVARIANT_VIOLATED' | 'STATE_DRIFT';
  check(input: { params: Values; facts: Facts; values: Values }): boolean;
  /** When the check fails: the refusals in detail, each with its own code (built-in capabilities only; default: one with `code` and `message`). */
  explain?(input: { params: Values; facts: Facts; values: Values }): ReasonDetail[];
}

/** A capability as its module defines it. See docs/capabilities.md. */
export interface CapabilityDefinition {
  id: string;
  version: string;
  title?: string;
  description: string;
  sideEffect: SideEffect;
  /** A z.object(...) for modules; a JSON Schema validator for upstream tools. */
  input: z.ZodObject | ParamsSchema;
  output: z.ZodType | OutputSchema;
  limits?: { deadlineMs?: number; maxOutputBytes?: number };
  /** Read-only: the authoritative state the decision depends on. */
  facts?: (params: Values, ctx: CapabilityContext) => Promise<Facts> | Facts;
  /** The facts' shape (a z.object), so policies over `context.facts` are type-checked (ADR-012). */
  factsSchema?: z.ZodObject;
  /** Numeric facts may move by at most this much between decision and effect; others must be equal. */
  driftTolerance?: Record<string, number>;
  /**
   * Per fact, how a change between decision and effect is judged (ADR-019):
   * `exact` (the default), `{ tolerance }` (as `driftTolerance`), or
   * `revalidate`: the decision is evaluated again on the fresh facts inside
   * the effect section and proceeds only if its values and verdict are unchanged.
   */
  drift?: Record<string, 'exact' | 'revalidate' | { tolerance: number }>;
  /** Values computed by the kernel from params and facts (never taken from the agent). */
  derive?: (params: Values, facts: Facts) => Values;
  /** The derived values' shape (a z.object), so policies over them are type-checked (ADR-012). */
  derivedSchema?: z.ZodObject;
  invariants?: Invariant[];
  handler: (params: Values, ctx: CapabilityContext & { facts: Facts; progress: ProgressReporter }) => Promise<unknown> | unknown;
  /**
   * The resource the effect touches, as a key: calls with the same key run
   * from their facts re-read to the end of their effect one at a time
   * (ADR-017). Default for write and destructive capabilities: the capability.
   */
  serializeBy?: (params: Values) => string;
  /** `self`: the capability handles concurrent calls itself, and no effect section is held for it. */
  concurrency?: 'serialized' | 'self';
  /**
   * After a crash between the pre-effect and the post-effect commit: did the
   * effect of decision `ctx.decisionId` happen? `applied` (with its output, if
   * it can tell), `not_applied`, or `unknown` (an operator settles it).
   */
  reconcile?: (params: Values, ctx: CapabilityContext & { decisionId: string }) => Promise<ReconcileResult> | ReconcileResult;
  /**
   * How to undo a completed call (ADR-025): given its params, its output and
   * the context, the call that reverses it, which the kernel then governs and
   * records like any other (a plan that fails asks for it, in reverse order);
   * null when there is nothing to undo. Pure: it decides nothing and has no effect.
   */
  compensate?: (params: Values, output: unknown, ctx: { agent: string; dfid: string; decisionId: string }) => { capability: string; params: Values } | null;
  /** Content opt-in: record param/output values in the ledger instead of only their hashes. */
  audit?: { recordParams?: boolean; recordOutput?: boolean };
  /** Example requests and the verdicts they must get; checked by `mandate capability test`, never used at run time. */
  examples?: CapabilityExample[];
}

export type ReconcileResult = { status: 'applied'; output?: unknown } | { status: 'not_applied' } | { status: 'unknown' };

/** One example request of a capability and the verdict it must get under a contract. */
export interface CapabilityExample {
  title?: string;
  params: Record<string, unknown>;
  /** The agent whose contract the example runs under; default: a test agent granted only this capability. */
  contract?: string;
  expect: 'accepted' | 'rejected' | 'escalated';
  /** Reason codes the outcome must include (others may appear too). */
  reasons?: ReasonCode[];
}

const CapabilityExampleSchema = z
  .object({
    title: z.string().max(200).optional(),
    params: z.record(z.string(), z.unknown()),
    contract: z.string().regex(/^[a-z][a-z0-9_-]{0,63}$/, 'an agent id with a contract in the workspace').optional(),
    expect: z.enum(['accepted', 'rejected', 'escalated']),
    reasons: z.array(z.enum(REASON_CODES as [ReasonCode, ...ReasonCode[]])).optional(),
  })
  .strict();

/** The shape a module's default export must produce, checked once at load. */
export const CapabilityDefinitionSchema = z.object({
  id: z.string().regex(/^[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*)+$/, 'a dotted id such as payments.transfer'),
  version: z.string().regex(/^\d+\.\d+\.\d+$/, 'a semantic version such as 1.0.0'),
  title: z.string().optional(),
  description: z.string().min(10, 'a description a model can act on (10+ characters)'),
  sideEffect: z.enum(['read', 'write', 'destructive']),
  input: z.custom<z.ZodObject>((v) => v instanceof z.ZodObject, 'a z.object(...) schema'),
  output: z.custom<z.ZodType>((v) => v instanceof z.ZodType, 'a zod schema'),
  limits: z
    .object({
      deadlineMs: z.number().int().positive().max(600_000).optional(),
      maxOutputBytes: z.number().int().positive().max(10_485_760).optional(),
    })
    .strict()
    .optional(),
  facts: z.custom<(...a: unknown[]) => unknown>((v) => typeof v === 'function', 'a function').optional(),
  driftTolerance: z.record(z.string(), z.number().nonnegative()).optional(),
  drift: z.record(z.string(), z.union([z.enum(['exact', 'revalidate']), z.object({ tolerance: z.number().nonnegative() }).strict()])).optional(),
  derive: z.custom<(...a: unknown[]) => unknown>((v) => typeof v === 'function', 'a function').optional(),
  factsSchema: z.custom<z.ZodObject>((v) => v instanceof z.ZodObject, 'a z.object(...) schema').optional(),
  derivedSchema: z.custom<z.ZodObject>((v) => v instanceof z.ZodObject, 'a z.object(...) schema').optional(),
  invariants: z
    .array(
      z.object({
        id: z.string().regex(/^[a-z][a-z0-9_]*$/),
        message: z.string().min(1),
        code: z.enum(['INVARIANT_VIOLATED', 'STATE_DRIFT']).optional(),
        check: z.custom<(...a: unknown[]) => unknown>((v) => typeof v === 'function', 'a function'),
        explain: z.custom<(...a: unknown[]) => unknown>((v) => typeof v === 'function', 'a function').optional(),
      }),
    )
    .optional(),
  handler: z.custom<(...a: unknown[]) => unknown>((v) => typeof v === 'function', 'a function'),
  serializeBy: z.custom<(...a: unknown[]) => unknown>((v) => typeof v === 'function', 'a function').optional(),
  concurrency: z.enum(['serialized', 'self']).optional(),
  reconcile: z.custom<(...a: unknown[]) => unknown>((v) => typeof v === 'function', 'a function').optional(),
  compensate: z.custom<(...a: unknown[]) => unknown>((v) => typeof v === 'function', 'a function').optional(),
  audit: z.object({ recordParams: z.boolean().optional(), recordOutput: z.boolean().optional() }).strict().optional(),
  examples: z.array(CapabilityExampleSchema).max(100).optional(),
});

/**
 * Why a capability cannot run right now, found before its effect (the key is
 * released). `load`: the refusal is about load (a full queue), not about the
 * capability's health, so it does not count for the circuit breaker.
 */
export type ReadyResult = { ok: true } | { ok: false; code: Extract<ReasonCode, 'UPSTREAM_UNAVAILABLE' | 'UPSTREAM_TOOL_CHANGED'>; message: string; load?: boolean };

/** Where an upstream MCP tool comes from, and the definition an operator pinned (ADR-008). */
export interface UpstreamTool {
  server: string;
  tool: string;
  /** sha256 of the pinned definition (name, title, description, input and output schema, annotations). */
  pinHash: string;
  title?: string | undefined;
  description?: string | undefined;
  inputSchema: Record<string, unknown>;
  outputSchema?: Record<string, unknown> | undefined;
  annotations?: Record<string, unknown> | undefined;
  /** The whole pinned definition, exactly as the upstream listed it (ADR-013). */
  definition: Record<string, unknown>;
  /** How the agent sees it: `<server>_<tool>`, or the upstream's own name and definition (ADR-013). */
  expose: 'prefixed' | 'transparent';
}

/** A loaded capability with its published JSON Schemas computed once. */
export interface Capability {
  def: CapabilityDefinition;
  inputJsonSchema: Record<string, unknown>;
  outputJsonSchema: Record<string, unknown>;
  source: string;
  /** The circuit breaker this capability shares (default: its own id). Tools of one upstream share one. */
  circuit?: string | undefined;
  /**
   * Checked after the key is reserved and the breaker admitted the call,
   * before the effect: can it run now? The gateway starts the upstream here
   * and refuses a quarantined tool. A refusal releases the key.
   */
  ready?: ((signal: AbortSignal) => Promise<ReadyResult>) | undefined;
  /** Set for a tool of an upstream MCP server: its handler returns the upstream's CallToolResult, passed through. */
  upstream?: UpstreamTool | undefined;
}

export function toCapability(def: CapabilityDefinition, source: string): Capability {
  if (!(def.input instanceof z.ZodObject) || !(def.output instanceof z.ZodType)) throw new TypeError('a module capability needs zod input and output schemas');
  return {
    def,
    inputJsonSchema: z.toJSONSchema(def.input, { target: 'draft-07', io: 'input' }) as Record<string, unknown>,
    outputJsonSchema: z.toJSONSchema(def.output, { target: 'draft-07', io: 'output' }) as Record<string, unknown>,
    source,
  };
}
