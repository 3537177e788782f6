/**
 * What is pinned of an upstream tool, and how its hash is made (ADR-008):
 * SHA-256 of the RFC 8785 JSON of { name, title, description, inputSchema,
 * outputSchema, annotations }, absent fields left out. Anything an agent
 * would read or rely on is in it, so a changed description (tool poisoning),
 * schema or annotation (rug pull) changes the hash.
 */
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { hashOf } from '../core/canonical.js';
import type { SideEffect } from '../core/types.js';
import type { PinnedDefinition } from '../store/pins.js';

/** A tool name Mandate can expose as `<server>.<tool>`: MCP's characters, dot-separated segments. */
const TOOL_NAME = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

export function definitionOf(tool: Tool): PinnedDefinition {
  return {
    name: tool.name,
    ...(tool.title !== undefined ? { title: tool.title } : {}),
    ...(tool.description !== undefined ? { description: tool.description } : {}),
    inputSchema: tool.inputSchema as Record<string, unknown>,
    ...(tool.outputSchema !== undefined ? { outputSchema: tool.outputSchema as Record<string, unknown> } : {}),
    ...(tool.annotations !== undefined ? { annotations: tool.annotations as Record<string, unknown> } : {}),
  };
}

export function pinHash(definition: PinnedDefinition): string {
  return hashOf(definition);
}

/** Why a listed tool cannot be exposed at all, or null. */
export function unsupported(tool: Tool): string | null {
  if (tool.name.length > 120 || !TOOL_NAME.test(tool.name)) return 'its name cannot be part of a capability id';
  if (tool.execution?.taskSupport === 'required') return 'it can only run as an MCP task, which Mandate does not support';
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
