/** The baseline: a bare MCP SDK server with one no-op tool, over stdio. */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { z } from 'zod';

const server = new McpServer({ name: 'bare', version: '1.0.0' });
server.registerTool(
  'noop',
  { description: 'Does nothing.', inputSchema: { n: z.number().int() }, outputSchema: { n: z.number().int() } },
  ({ n }) => ({ content: [{ type: 'text', text: JSON.stringify({ n }) }], structuredContent: { n } }),
);
await server.connect(new StdioServerTransport());
