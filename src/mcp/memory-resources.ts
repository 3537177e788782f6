/**
 * Memory records as MCP resources `memory://{scope}/{key}`, under the same
 * contract rules as read_memory. The resource handlers of src/mcp/proxy-primitives.ts
 * merge them with the upstreams' resources.
 */
import { ProtocolError, ProtocolErrorCode, type ReadResourceResult, type Resource, type ResourceTemplateType as ResourceTemplate } from '@modelcontextprotocol/server';
import type { Kernel } from '../kernel/kernel.js';
import { readMemory } from '../kernel/memory-read.js';

const MEMORY_URI = /^memory:\/\/([a-z][a-z0-9_-]{0,63})\/([A-Za-z0-9._-]{1,128})$/;

export function isMemoryUri(uri: string): boolean {
  return uri.startsWith('memory://');
}

export function memoryTemplates(): ResourceTemplate[] {
  return [{ uriTemplate: 'memory://{scope}/{key}', name: 'memory record', description: 'A scoped, versioned memory record your contract lets you read.', mimeType: 'application/json' }];
}

export async function memoryResources(kernel: Kernel, agent: string): Promise<Resource[]> {
  const resources: Resource[] = [];
  for (const grant of kernel.contractOf(agent)?.memory ?? []) {
    const listed = await readMemory(kernel, agent, { scope: grant.scope });
    const records = (listed.output as { records?: { key: string; sensitivity: string; version: number }[] } | undefined)?.records ?? [];
    for (const r of records) {
      resources.push({ uri: `memory://${grant.scope}/${r.key}`, name: `${grant.scope}/${r.key}`, mimeType: 'application/json', description: `${r.sensitivity} record, version ${r.version}` });
    }
  }
  return resources;
}

export async function readMemoryResource(kernel: Kernel, agent: string, uri: string): Promise<ReadResourceResult> {
  const match = MEMORY_URI.exec(uri);
  if (!match) throw new ProtocolError(ProtocolErrorCode.InvalidParams, 'SCHEMA_INVALID: expected memory://{scope}/{key}');
  const outcome = await readMemory(kernel, agent, { scope: match[1] as string, key: match[2] as string });
  if (outcome.verdict !== 'accepted') throw new ProtocolError(ProtocolErrorCode.InvalidParams, `${outcome.reasons.join(',')}: ${outcome.details[0]?.message ?? 'denied'}`, { reasons: outcome.reasons, dfid: outcome.dfid });
  const record = outcome.output as { value: unknown };
  return { contents: [{ uri, mimeType: 'application/json', text: JSON.stringify(record.value) }] };
}
