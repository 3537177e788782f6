/**
 * The HTTP baseline at the 2025-era wire: a bare MCP SDK v2 server with one
 * no-op tool, stateful Streamable HTTP (the Web-standard transport, one per
 * session), JSON responses, as Mandate serves 2025-era sessions (ADR-036);
 * node:http adapted to its fetch face.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { McpServer, WebStandardStreamableHTTPServerTransport, isInitializeRequest } from '@modelcontextprotocol/server';
import { z } from 'zod';

const transports = new Map<string, WebStandardStreamableHTTPServerTransport>();

function newServer(): McpServer {
  const server = new McpServer({ name: 'bare', version: '1.0.0' });
  server.registerTool(
    'noop',
    { description: 'Does nothing.', inputSchema: z.object({ n: z.number().int() }), outputSchema: z.object({ n: z.number().int() }) },
    ({ n }) => ({ content: [{ type: 'text', text: JSON.stringify({ n }) }], structuredContent: { n } }),
  );
  return server;
}

async function body(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined;
}

const http = createServer(async (req, res) => {
  const sessionId = req.headers['mcp-session-id'] as string | undefined;
  const parsed = req.method === 'POST' ? await body(req) : undefined;
  let transport = sessionId ? transports.get(sessionId) : undefined;
  if (!transport && req.method === 'POST' && isInitializeRequest(parsed)) {
    const made = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      enableJsonResponse: true,
      onsessioninitialized: (id) => void transports.set(id, made),
    });
    transport = made;
    await newServer().connect(made);
  }
  if (!transport) {
    res.writeHead(400).end();
    return;
  }
  const headers = new Headers();
  for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string' && k !== 'content-length') headers.set(k, v);
  const response = await transport.handleRequest(new Request(`http://127.0.0.1${req.url ?? '/mcp'}`, { method: req.method ?? 'POST', headers }), { parsedBody: parsed });
  res.writeHead(response.status, Object.fromEntries(response.headers.entries()));
  if (response.body) Readable.fromWeb(response.body as import('node:stream/web').ReadableStream<Uint8Array>).pipe(res);
  else res.end();
});
http.listen(0, '127.0.0.1', () => {
  const addr = http.address();
  if (addr && typeof addr === 'object') process.stdout.write(`listening on http://127.0.0.1:${addr.port}/mcp\n`);
});
