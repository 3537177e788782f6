/**
 * What is pinned of an upstream's primitives, and how its hash is made
 * (ADR-008, ADR-013): SHA-256 of the RFC 8785 JSON of the definition exactly
 * as the upstream lists it (a tool's name, title, description, schemas,
 * annotations, execution, icons, _meta; a resource's, template's or prompt's
 * every field). Anything an agent would read or rely on is in it, so a
 * changed description (tool poisoning), schema or annotation (rug pull)
 * changes the hash, and the agent is shown the pinned definition itself.
 */
import type { Implementation, Prompt, Resource, ResourceTemplate, ServerCapabilities, Tool } from '@modelcontextprotocol/sdk/types.js';
import { hashOf } from '../core/canonical.js';
import type { SideEffect } from '../core/types.js';
import type { PinnedDefinition } from '../store/port/index.js';

/** A tool name Mandate can expose as `<server>.<tool>`: MCP's characters, dot-separated segments. */
const TOOL_NAME = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

/** A tool's definition as listed, every field kept (undefined ones dropped). */
export function definitionOf(tool: Tool): PinnedDefinition {
  return defined(tool) as unknown as PinnedDefinition;
}

/**
 * The primitives of an upstream besides tools; each is pinned like a tool
 * (ADR-013). `server` is the upstream's identity and instructions, which a
 * transparent upstream's agent is shown in place of Mandate's.
 */
export type PrimitiveKind = 'resource' | 'template' | 'prompt' | 'server';
export interface ServerIdentity {
  serverInfo: Implementation;
  instructions?: string;
  /** What the upstream declared it serves; a transparent Mandate declares the same (less what it cannot serve). */
  capabilities?: ServerCapabilities;
  /** The MCP revision Mandate's client negotiated with it (ADR-027): a change is drift of this pin, like a changed description. */
  protocolVersion?: string;
}
export type PrimitiveDefinition = Resource | ResourceTemplate | Prompt | ServerIdentity;

/** A primitive's identity within its upstream: a resource's URI, a template's URI template, a prompt's name. */
export function primitiveName(kind: PrimitiveKind, def: PrimitiveDefinition): string {
  if (kind === 'server') return 'info';
  return kind === 'resource' ? (def as Resource).uri : kind === 'template' ? (def as ResourceTemplate).uriTemplate : (def as Prompt).name;
}

/**
 * Pins of every kind share one table (upstream_pins), keyed by `tool`: a tool
 * by its name (which never holds `:`), another primitive by `<kind>:<name>`.
 */
export function pinKey(kind: PrimitiveKind, name: string): string {
  return `${kind}:${name}`;
}

export function parsePinKey(key: string): { kind: 'tool' | PrimitiveKind; name: string } {
  const at = key.indexOf(':');
  const kind = at > 0 ? key.slice(0, at) : '';
  if (kind === 'resource' || kind === 'template' || kind === 'prompt' || kind === 'server') return { kind, name: key.slice(at + 1) };
  return { kind: 'tool', name: key };
}

/** A listed object without undefined fields (JSON has none), so hashes and pins compare what was on the wire. */
export function defined<T extends object>(value: T): Record<string, unknown> {
  return JSON.parse(JSON.stringify(value)) as Record<string, unknown>;
}

export function pinHash(definition: PinnedDefinition): string {
  return hashOf(definition);
}

/** Why a listed tool cannot be exposed at all, or null. */
export function unsupported(tool: Tool): string | null {
  if (tool.name.length > 120 || !TOOL_NAME.test(tool.name)) return 'its name cannot be part of a capability id';
  return null;
}

/**
 * The side-effect class of an upstream tool: the operator's override for it,
 * else its annotations as MCP defines their defaults (not read-only and not
 * marked `destructiveHint: false` means destructive).
 */
export function sideEffectOf(tool: string, annotations: Record<string, unknown> | undefined, overrides: Record<string, SideEffect>): SideEffect {
  const override = overrides[tool];
  if (override) return override;
  if (annotations?.['readOnlyHint'] === true) return 'read';
  if (annotations?.['destructiveHint'] === false) return 'write';
  return 'destructive';
}
