/** The baseline: a bare MCP SDK v2 server with one no-op tool, over stdio, as Mandate serves the 2025-era wire (ADR-036). */
import { McpServer } from '@modelcontextprotocol/server';
import { StdioServerTransport } from '@modelcontextprotocol/server/stdio';
import { z } from 'zod';

const server = new McpServer({ name: 'bare', version: '1.0.0' });
server.registerTool(
  'noop',
  { description: 'Does nothing.', inputSchema: z.object({ n: z.number().int() }), outputSchema: z.object({ n: z.number().int() }) },
  ({ n }) => ({ content: [{ type: 'text', text: JSON.stringify({ n }) }], structuredContent: { n } }),
);
await server.connect(new StdioServerTransport());
