/**
 * The 2026-07-28 HTTP baseline: a bare SDK v2 server with one no-op tool,
 * stateless, one server per request (`createMcpHandler`), as Mandate's 2026
 * wire serves (ADR-020); node:http adapted to its fetch face the same way.
 */
import { createServer, type IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { McpServer, createMcpHandler } from '@modelcontextprotocol/server';
import { z } from 'zod';

const handler = createMcpHandler(
  () => {
    const server = new McpServer({ name: 'bare-2026', version: '1.0.0' });
    server.registerTool(
      'noop',
      { description: 'Does nothing.', inputSchema: z.object({ n: z.number().int() }), outputSchema: z.object({ n: z.number().int() }) },
      ({ n }) => ({ content: [{ type: 'text', text: JSON.stringify({ n }) }], structuredContent: { n } }),
    );
    return server;
  },
  { legacy: 'reject' },
);

async function body(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const http = createServer(async (req, res) => {
  const text = req.method === 'POST' ? await body(req) : '';
  const headers = new Headers();
  for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string' && k !== 'content-length') headers.set(k, v);
  const response = await handler.fetch(new Request(`http://127.0.0.1${req.url ?? '/mcp'}`, { method: req.method ?? 'POST', headers }), { parsedBody: text ? (JSON.parse(text) as unknown) : undefined });
  res.writeHead(response.status, Object.fromEntries(response.headers.entries()));
  if (response.body) Readable.fromWeb(response.body as import('node:stream/web').ReadableStream<Uint8Array>).pipe(res);
  else res.end();
});
http.listen(0, '127.0.0.1', () => {
  const addr = http.address();
  if (addr && typeof addr === 'object') process.stdout.write(`listening on http://127.0.0.1:${addr.port}/mcp\n`);
});
