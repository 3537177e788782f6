import { z } from 'zod';
import type { Capability } from '../capabilities/manifest.js';
import type { Budget } from '../config/contract-schema.js';
import type { CedarType } from './cedar-values.js';

/**
 * The Cedar schema Mandate generates from a workspace (ADR-012): the entity
 * types of the request model (ADR-003) and, per capability, the type of
 * `context`: its input (`values`, with derived values), its facts, and the
 * usage fields its grant's budgets give. Cedar attaches one context type to
 * an action, and every capability is invoked through the one action
 * `invoke`, so a policy is validated once per capability it can apply to.
 */
export type RecordType = Extract<CedarType, { type: 'Record' }>;

export interface CapabilityTyping {
  values: RecordType;
  facts: RecordType;
  /** Why this capability's context cannot be typed (a facts resolver or derive without its schema); empty when typed. */
  untyped: string[];
}

const LONG: CedarType = { type: 'Long' };
const DECIMAL: CedarType = { type: 'Extension', name: 'decimal' };

/**
 * A JSON Schema (draft-07, as zod and MCP tools publish them) as a Cedar
 * type: integer is Long, number is decimal, string (and a string enum) is
 * String, boolean is Boolean, array a Set, object a Record. Null is dropped
 * before Cedar sees a value, so `X | null` is X. Anything else has no Cedar
 * type and is left out: a policy that reads it fails validation.
 */
export function cedarTypeOf(schema: unknown): CedarType | null {
  if (schema === null || typeof schema !== 'object') return null;
  const js = schema as Record<string, unknown>;
  const union = (js['anyOf'] ?? js['oneOf']) as unknown[] | undefined;
  if (Array.isArray(union)) {
    const members = union.filter((m) => (m as Record<string, unknown> | null)?.['type'] !== 'null').map(cedarTypeOf);
    const first = members[0];
    return first && members.every((m) => m && JSON.stringify(m) === JSON.stringify(first)) ? first : null;
  }
  let t = js['type'];
  if (Array.isArray(t)) {
    const rest = t.filter((x) => x !== 'null');
    t = rest.length === 1 ? rest[0] : undefined;
  }
  if (t === undefined && 'const' in js) t = typeof js['const'];
  if (t === undefined && Array.isArray(js['enum']) && js['enum'].every((v) => typeof v === 'string')) t = 'string';
  switch (t) {
    case 'integer':
      return LONG;
    case 'number':
      return DECIMAL;
    case 'string':
      return { type: 'String' };
    case 'boolean':
      return { type: 'Boolean' };
    case 'array': {
      const element = cedarTypeOf(js['items']);
      return element ? { type: 'Set', element } : null;
    }
    case 'object':
      return recordOf(js);
    default:
      return null;
  }
}

function recordOf(js: Record<string, unknown>): RecordType {
  const properties = (js['properties'] ?? {}) as Record<string, unknown>;
  const required = new Set((js['required'] ?? []) as string[]);
  const attributes: Record<string, CedarType> = {};
  for (const [name, prop] of Object.entries(properties)) {
    const t = cedarTypeOf(prop);
    if (t) attributes[name] = { ...t, required: required.has(name) };
  }
  return { type: 'Record', attributes };
}

const typings = new WeakMap<Capability, CapabilityTyping>();

/** The types of a capability's `context.values` and `context.facts`, computed once per capability. */
export function capabilityTyping(cap: Capability): CapabilityTyping {
  const known = typings.get(cap);
  if (known) return known;
  const untyped: string[] = [];
  const zodRecord = (schema: z.ZodObject | undefined): RecordType | null =>
    schema ? recordOf(z.toJSONSchema(schema, { target: 'draft-07', io: 'output' }) as Record<string, unknown>) : null;
  // The values Cedar sees are the params as parsed (defaults applied): a zod schema's output side.
  const input = recordOf(cap.def.input instanceof z.ZodObject ? (z.toJSONSchema(cap.def.input, { target: 'draft-07', io: 'output' }) as Record<string, unknown>) : cap.inputJsonSchema);
  const derived = zodRecord(cap.def.derivedSchema);
  if (cap.def.derive && !derived) untyped.push('it derives values but declares no derivedSchema');
  const facts = zodRecord(cap.def.factsSchema);
  if (cap.def.facts && !facts) untyped.push('it has a facts resolver but declares no factsSchema');
  const typing: CapabilityTyping = {
    values: { type: 'Record', attributes: { ...input.attributes, ...(derived?.attributes ?? {}) } },
    facts: facts ?? { type: 'Record', attributes: {} },
    untyped,
  };
  typings.set(cap, typing);
  return typing;
}

/** The `context.usage` field names a grant's budgets give policies: `calls_<window>`, `<field>_<window>`. */
export function usageFieldNames(budgets: readonly Budget[]): string[] {
  const names = new Set<string>();
  for (const b of budgets) {
    names.add(`calls_${b.window}`);
    if (b.sum) names.add(`${b.sum}_${b.window}`);
  }
  return [...names].sort();
}

/** The type of `context` for one capability under one grant. */
export function contextType(typing: CapabilityTyping, usage: readonly string[]): RecordType {
  return {
    type: 'Record',
    attributes: {
      values: typing.values,
      facts: typing.facts,
      usage: { type: 'Record', attributes: Object.fromEntries(usage.map((u) => [u, LONG])) },
      now: LONG,
    },
  };
}

/** A Cedar schema (JSON form) of the request model with this context type. */
export function cedarSchema(context: RecordType): Record<string, unknown> {
  const str: CedarType = { type: 'String' };
  return {
    Mandate: {
      entityTypes: {
        // depth, root, caller, delegated_by: the caller's place in a delegation chain (ADR-022).
        Agent: { shape: { type: 'Record', attributes: { role: str, depth: LONG, root: str, caller: str, delegated_by: { ...str, required: false } } } },
        Capability: { shape: { type: 'Record', attributes: { id: str, version: str, side_effect: str, upstream: { ...str, required: false } } } },
      },
      actions: { invoke: { appliesTo: { principalTypes: ['Agent'], resourceTypes: ['Capability'], context } } },
    },
  };
}

/** How a numeric field of a capability reaches Cedar, for compiling contract limits. */
export function numericKind(cap: Capability, field: string): 'long' | 'decimal' | 'other' {
  const t = capabilityTyping(cap).values.attributes[field];
  return t?.type === 'Long' ? 'long' : t?.type === 'Extension' ? 'decimal' : 'other';
}
