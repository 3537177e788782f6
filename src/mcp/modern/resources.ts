/**
 * Memory records as resources on the 2026-07-28 wire, the same records and
 * contract rules as on the 2025 wire (memory-resources.ts). A refused or
 * missing record is -32602 with the URI, as the revision asks for a resource
 * that is not found. Upstream resources are not served on this wire yet (ADR-020).
 */
import { McpError } from '@modelcontextprotocol/sdk/types.js';
import { ProtocolError, ProtocolErrorCode, type ReadResourceResult, type Resource, type ResourceTemplateType, type Server } from '@modelcontextprotocol/server';
import type { Kernel } from '../../kernel/kernel.js';
import { memoryResources, memoryTemplates, readMemoryResource } from '../memory-resources.js';

export function registerMemoryResources(server: Server, kernel: Kernel, agent: string): void {
  server.setRequestHandler('resources/list', async () => ({ resources: (await memoryResources(kernel, agent)) as Resource[] }));
  server.setRequestHandler('resources/templates/list', () => ({ resourceTemplates: memoryTemplates() as ResourceTemplateType[] }));
  server.setRequestHandler('resources/read', async (request) => {
    const { uri } = request.params;
    try {
      return (await readMemoryResource(kernel, agent, uri)) as ReadResourceResult;
    } catch (err) {
      // The shared reader speaks SDK v1's error; this wire answers in v2's, with the same code and reasons.
      if (err instanceof McpError) throw new ProtocolError(ProtocolErrorCode.InvalidParams, err.message, { ...(err.data && typeof err.data === 'object' ? err.data : {}), uri });
      throw err;
    }
  });
}
