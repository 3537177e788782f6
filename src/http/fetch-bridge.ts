/**
 * node:http to the fetch face of SDK v2's HTTP entries and back: both MCP
 * revisions are served by handlers written against Web `Request`/`Response`
 * (`createMcpHandler` for 2026-07-28, the Streamable HTTP transport for the
 * 2025-era sessions). The body was read and parsed at the edge already, and
 * goes in as `parsedBody`.
 */
import type { ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { RouteRequest } from './context.js';

/** The request's method and headers as a Web `Request`; `signal` aborts when the client goes away. */
export function toRequest(r: RouteRequest, signal: AbortSignal): Request {
  const headers = new Headers();
  for (const [name, value] of Object.entries(r.req.headers)) {
    // The body was read and parsed already (parsedBody): its length no longer describes anything sent on.
    if (value === undefined || name === 'content-length') continue;
    for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v);
  }
  return new Request(r.url, { method: r.req.method ?? 'GET', headers, signal });
}

/** An abort signal that fires when the client closes the connection before the answer was written in full. */
export function clientGone(r: RouteRequest): AbortSignal {
  const abort = new AbortController();
  r.res.once('close', () => {
    if (!r.res.writableFinished) abort.abort();
  });
  return abort.signal;
}

/** Writes a Web `Response` (a JSON body or an SSE stream) to the node response, until it ends or the client goes away. */
export async function send(res: ServerResponse, response: Response, signal: AbortSignal): Promise<void> {
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => {
    headers[name] = value;
  });
  if (!response.body) {
    res.writeHead(response.status, headers);
    return void res.end();
  }
  if (!response.headers.get('content-type')?.startsWith('text/event-stream')) {
    // A JSON answer is whole already: sent with its length, headers and body in one write, where
    // piping it chunk by chunk cost a stream per answer and a second write for the chunked ending.
    const body = Buffer.from(await response.arrayBuffer());
    headers['content-length'] = String(body.length);
    res.writeHead(response.status, headers);
    return void res.end(body);
  }
  res.writeHead(response.status, headers);
  try {
    await pipeline(Readable.fromWeb(response.body as import('node:stream/web').ReadableStream<Uint8Array>, { signal }), res);
  } catch {
    // The client went away mid-stream: the request was cancelled, nothing to answer.
  }
}
