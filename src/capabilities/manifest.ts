import { z } from 'zod';
import { REASON_CODES, type ReasonCode } from '../core/reasons.js';
import type { SideEffect } from '../core/types.js';

/** What a handler and a facts resolver are given; no clock or id is read ad hoc. */
export interface CapabilityContext {
  signal: AbortSignal;
  dfid: string;
  agent: string;
  workspaceDir: string;
  now: number;
}

export type Facts = Record<string, unknown>;
export type Values = Record<string, unknown>;

export interface Invariant {
  id: string;
  message: string;
  /** STATE_DRIFT for a check that the state is still what the agent saw; INVARIANT_VIOLATED by default. */
  code?: 'INVARIANT_VIOLATED' | 'STATE_DRIFT';
  check(input: { params: Values; facts: Facts; values: Values }): boolean;
}

/** A capability as its module defines it. See docs/capabilities.md. */
export interface CapabilityDefinition {
  id: string;
  version: string;
  title?: string;
  description: string;
  sideEffect: SideEffect;
  input: z.ZodObject;
  output: z.ZodType;
  limits?: { deadlineMs?: number; maxOutputBytes?: number };
  /** Read-only: the authoritative state the decision depends on. */
  facts?: (params: Values, ctx: CapabilityContext) => Promise<Facts> | Facts;
  /** Numeric facts may move by at most this much between decision and effect; others must be equal. */
  driftTolerance?: Record<string, number>;
  /** Values computed by the kernel from params and facts (never taken from the agent). */
  derive?: (params: Values, facts: Facts) => Values;
  invariants?: Invariant[];
  handler: (params: Values, ctx: CapabilityContext & { facts: Facts }) => Promise<unknown> | unknown;
  /** Content opt-in: record param/output values in the ledger instead of only their hashes. */
  audit?: { recordParams?: boolean; recordOutput?: boolean };
  /** Example requests and the verdicts they must get; checked by `mandate capability test`, never used at run time. */
  examples?: CapabilityExample[];
}

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
  derive: z.custom<(...a: unknown[]) => unknown>((v) => typeof v === 'function', 'a function').optional(),
  invariants: z
    .array(
      z.object({
        id: z.string().regex(/^[a-z][a-z0-9_]*$/),
        message: z.string().min(1),
        code: z.enum(['INVARIANT_VIOLATED', 'STATE_DRIFT']).optional(),
        check: z.custom<(...a: unknown[]) => unknown>((v) => typeof v === 'function', 'a function'),
      }),
    )
    .optional(),
  handler: z.custom<(...a: unknown[]) => unknown>((v) => typeof v === 'function', 'a function'),
  audit: z.object({ recordParams: z.boolean().optional(), recordOutput: z.boolean().optional() }).strict().optional(),
  examples: z.array(CapabilityExampleSchema).max(100).optional(),
});

/** A loaded capability with its published JSON Schemas computed once. */
export interface Capability {
  def: CapabilityDefinition;
  inputJsonSchema: Record<string, unknown>;
  outputJsonSchema: Record<string, unknown>;
  source: string;
}

export function toCapability(def: CapabilityDefinition, source: string): Capability {
  return {
    def,
    inputJsonSchema: z.toJSONSchema(def.input, { target: 'draft-07', io: 'input' }) as Record<string, unknown>,
    outputJsonSchema: z.toJSONSchema(def.output, { target: 'draft-07', io: 'output' }) as Record<string, unknown>,
    source,
  };
}
