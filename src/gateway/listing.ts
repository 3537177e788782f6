/**
 * Lists everything an upstream offers (ADR-013): tools, and the resources,
 * resource templates and prompts of an upstream that declares them, each
 * page by page up to a bound, each with its definition hash. The gateway
 * compares these with the pins (quarantine) and pins them.
 */
import type { Client } from '@modelcontextprotocol/client';
import { ListPromptsResultSchema, ListResourceTemplatesResultSchema, ListResourcesResultSchema, ListToolsResultSchema } from '@modelcontextprotocol/core';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import { definitionOf, defined, pinHash, pinKey, primitiveName, type PrimitiveDefinition, type PrimitiveKind } from './definition.js';
import type { PinnedDefinition } from '../store/port/index.js';

/** Most entries of one kind kept from an upstream's lists. */
export const MAX_LISTED = 1_000;

export interface LiveTool {
  tool: Tool;
  hash: string;
}

export interface LivePrimitive {
  kind: PrimitiveKind;
  name: string;
  definition: PrimitiveDefinition;
  hash: string;
}

export interface Listing {
  tools: Map<string, LiveTool>;
  /** By pin key (`<kind>:<name>`). */
  primitives: Map<string, LivePrimitive>;
}

async function pages<T>(fetch: (cursor: string | undefined) => Promise<{ items: T[]; nextCursor?: string | undefined }>): Promise<T[]> {
  const out: T[] = [];
  let cursor: string | undefined;
  do {
    const page = await fetch(cursor);
    out.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor && out.length < MAX_LISTED);
  return out.slice(0, MAX_LISTED);
}

export async function listUpstream(client: Client, timeout: number): Promise<Listing> {
  // Plain requests with the 2025 result schemas, which keep every field (the transparent mode's lists are
  // byte for byte), page by page, never from the SDK's response cache (a relist follows a list_changed).
  const opts = { timeout };
  const params = (cursor: string | undefined) => (cursor ? { cursor } : {});
  const caps = client.getServerCapabilities() ?? {};
  const tools = caps.tools
    ? await pages(async (c) => {
        const r = await client.request({ method: 'tools/list', params: params(c) }, ListToolsResultSchema, opts);
        // The same JSON either way; pinned definitions keep the vocabulary they were pinned in (definition.ts).
        return { items: r.tools as Tool[], nextCursor: r.nextCursor };
      })
    : [];
  const primitives = new Map<string, LivePrimitive>();
  const add = (kind: PrimitiveKind, defs: PrimitiveDefinition[]) => {
    for (const d of defs) {
      const definition = defined(d) as unknown as PrimitiveDefinition;
      const name = primitiveName(kind, definition);
      primitives.set(pinKey(kind, name), { kind, name, definition, hash: pinHash(definition as unknown as PinnedDefinition) });
    }
  };
  if (caps.resources) {
    add('resource', await pages(async (c) => {
      const r = await client.request({ method: 'resources/list', params: params(c) }, ListResourcesResultSchema, opts);
      return { items: r.resources, nextCursor: r.nextCursor };
    }));
    add('template', await pages(async (c) => {
      const r = await client.request({ method: 'resources/templates/list', params: params(c) }, ListResourceTemplatesResultSchema, opts);
      return { items: r.resourceTemplates, nextCursor: r.nextCursor };
    }));
  }
  if (caps.prompts) {
    add('prompt', await pages(async (c) => {
      const r = await client.request({ method: 'prompts/list', params: params(c) }, ListPromptsResultSchema, opts);
      return { items: r.prompts, nextCursor: r.nextCursor };
    }));
  }
  const serverInfo = client.getServerVersion();
  if (serverInfo) {
    const instructions = client.getInstructions();
    const protocolVersion = client.getNegotiatedProtocolVersion();
    add('server', [{ serverInfo, ...(instructions !== undefined ? { instructions } : {}), capabilities: caps, ...(protocolVersion !== undefined ? { protocolVersion } : {}) }]);
  }
  return { tools: new Map(tools.map((tool) => [tool.name, { tool, hash: pinHash(definitionOf(tool)) }])), primitives };
}

/** The lists an MCP client is told about with `notifications/<kind>/list_changed`. */
export type ListKind = 'tools' | 'resources' | 'prompts';
export const LIST_KINDS: readonly ListKind[] = ['tools', 'resources', 'prompts'];

/** The list a primitive kind (or a tool) belongs to; the server's identity is in none. */
export function listOf(kind: PrimitiveKind | 'tool'): ListKind | null {
  if (kind === 'tool') return 'tools';
  if (kind === 'resource' || kind === 'template') return 'resources';
  return kind === 'prompt' ? 'prompts' : null;
}

/** One string per list, from the names and hashes in it: equal strings, an unchanged list. */
export function listSignatures(entries: Iterable<{ list: ListKind | null; key: string; hash: string }>): Record<ListKind, string> {
  const parts: Record<ListKind, string[]> = { tools: [], resources: [], prompts: [] };
  for (const e of entries) if (e.list) parts[e.list].push(`${e.key}\u0000${e.hash}`);
  return { tools: parts.tools.sort().join('\n'), resources: parts.resources.sort().join('\n'), prompts: parts.prompts.sort().join('\n') };
}

/** The signatures of a live listing. */
export function liveSignatures(listing: Listing): Record<ListKind, string> {
  return listSignatures([
    ...[...listing.tools].map(([name, t]) => ({ list: 'tools' as const, key: name, hash: t.hash })),
    ...[...listing.primitives].map(([key, p]) => ({ list: listOf(p.kind), key, hash: p.hash })),
  ]);
}
