/**
 * A local stand-in for an Ollama server (node:http on 127.0.0.1, a random
 * port) that speaks the real wire protocol of the two endpoints Mandate uses:
 *
 *   POST /api/chat   non-streaming: { model, created_at, message: { role, content }, done: true, done_reason, ...durations }
 *   GET  /api/tags   { models: [{ name, model, modified_at, size, digest, details }] }
 *
 * so that the real `ollama` npm client runs end to end. It records every
 * request, checks what a deterministic normalizer must send (stream false,
 * options.temperature 0, an integer seed, num_predict, a JSON Schema format)
 * and lists violations, and it can be scripted: replies computed from the
 * request, one-shot replies, HTTP errors, slow or hanging replies, malformed
 * bodies.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ChatRequestSeen {
  model: string;
  messages: { role: string; content: string }[];
  format: unknown;
  options: Record<string, unknown>;
  stream: unknown;
  /** The whole parsed body, as sent. */
  body: Record<string, unknown>;
}

export type StubReply =
  /** A normal answer whose message.content is `content` (what the "model" wrote). */
  | { content: string; doneReason?: 'stop' | 'length'; delayMs?: number }
  /** An HTTP error status with a body (default: Ollama's JSON error shape). */
  | { status: number; body?: string; contentType?: string; delayMs?: number }
  /** A 200 answer with this exact body (malformed protocol). */
  | { raw: string; contentType?: string; delayMs?: number }
  /** Never answers; the connection is dropped when the stub closes. */
  | { hang: true };

export interface StubModel {
  name: string;
  model?: string;
}

const json = (res: ServerResponse, status: number, value: unknown) => {
  const body = JSON.stringify(value);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) });
  res.end(body);
};

export class OllamaStub {
  /** Every /api/chat request, in order. */
  readonly chats: ChatRequestSeen[] = [];
  /** How many /api/tags requests arrived. */
  tagsRequests = 0;
  /** Every request of any kind (method and path), in order. */
  readonly seen: string[] = [];
  /** Protocol expectations a request broke (stream, temperature, seed, format...). */
  readonly violations: string[] = [];
  /** What /api/tags lists. */
  models: StubModel[] = [{ name: 'qwen2.5:1.5b-instruct' }];

  private server: Server | null = null;
  private port = 0;
  private readonly queue: StubReply[] = [];
  private replyFn: (req: ChatRequestSeen) => StubReply = () => ({ content: '{}' });

  /** The base URL to put in normalizer.host. */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Sets how every /api/chat request is answered (after any queued one-shot replies). */
  reply(fn: (req: ChatRequestSeen) => StubReply): this {
    this.replyFn = fn;
    return this;
  }

  /** Queues one-shot replies, used in order before `reply`'s. */
  enqueue(...replies: StubReply[]): this {
    this.queue.push(...replies);
    return this;
  }

  /** Starts on a random port (or `port`, to come back up where it was). */
  async start(port = 0): Promise<this> {
    const server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
    return this;
  }

  /** Stops listening and drops every open connection (so the port refuses). */
  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const path = (req.url ?? '').split('?')[0] ?? '';
    this.seen.push(`${req.method} ${path}`);
    if (req.method === 'GET' && path === '/api/tags') {
      this.tagsRequests++;
      json(res, 200, {
        models: this.models.map((m) => ({
          name: m.name,
          model: m.model ?? m.name,
          modified_at: '2026-01-01T00:00:00Z',
          size: 986_061_892,
          digest: 'a'.repeat(64),
          details: { parent_model: '', format: 'gguf', family: 'qwen2', families: ['qwen2'], parameter_size: '1.5B', quantization_level: 'Q4_K_M' },
        })),
      });
      return;
    }
    if (req.method !== 'POST' || path !== '/api/chat') {
      json(res, 404, { error: `stub: no route ${req.method} ${path}` });
      return;
    }
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
    } catch {
      this.violations.push('request body is not JSON');
      json(res, 400, { error: 'stub: body is not JSON' });
      return;
    }
    const seen: ChatRequestSeen = {
      model: String(body['model']),
      messages: (body['messages'] ?? []) as ChatRequestSeen['messages'],
      format: body['format'],
      options: (body['options'] ?? {}) as Record<string, unknown>,
      stream: body['stream'],
      body,
    };
    this.chats.push(seen);
    this.check(seen);
    const reply = this.queue.shift() ?? this.replyFn(seen);
    if ('hang' in reply) return; // left open until close()
    if (reply.delayMs) await new Promise((r) => setTimeout(r, reply.delayMs));
    if (res.destroyed) return;
    if ('status' in reply) {
      const text = reply.body ?? JSON.stringify({ error: `stub error ${reply.status}` });
      res.writeHead(reply.status, { 'content-type': reply.contentType ?? 'application/json; charset=utf-8' });
      res.end(text);
      return;
    }
    if ('raw' in reply) {
      res.writeHead(200, { 'content-type': reply.contentType ?? 'application/json; charset=utf-8' });
      res.end(reply.raw);
      return;
    }
    json(res, 200, {
      model: seen.model,
      created_at: new Date().toISOString(),
      message: { role: 'assistant', content: reply.content },
      done: true,
      done_reason: reply.doneReason ?? 'stop',
      total_duration: 1_234_567,
      load_duration: 12_345,
      prompt_eval_count: 321,
      prompt_eval_duration: 234_567,
      eval_count: 42,
      eval_duration: 987_654,
    });
  }

  /** What a deterministic, bounded normalizer must send. */
  private check(r: ChatRequestSeen): void {
    const v = (m: string) => this.violations.push(`chat #${this.chats.length}: ${m}`);
    if (r.stream !== false) v(`stream is ${JSON.stringify(r.stream)}, expected false`);
    if (r.options['temperature'] !== 0) v(`options.temperature is ${JSON.stringify(r.options['temperature'])}, expected 0`);
    if (!Number.isInteger(r.options['seed'])) v(`options.seed is ${JSON.stringify(r.options['seed'])}, expected an integer`);
    if (!Number.isInteger(r.options['num_predict']) || (r.options['num_predict'] as number) <= 0) v('options.num_predict is not a positive integer');
    if (typeof r.format !== 'object' || r.format === null) v('format is not a JSON Schema object');
    if (!Array.isArray(r.messages) || !r.messages.length) v('no messages');
    if (!r.model) v('no model');
  }

  /** The user message of chat request `i` (the text travels there). */
  userMessage(i: number): string {
    return this.chats[i]?.messages.find((m) => m.role === 'user')?.content ?? '';
  }
}

/** A stub already listening on 127.0.0.1. */
export function startOllamaStub(): Promise<OllamaStub> {
  return new OllamaStub().start();
}

/** The JSON a well-behaved model would write for a transfer. */
export function transferProposal(amount_minor: number, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ capability: 'payments.transfer', params: { from_account: 'operating', payee: 'acme-supplies', amount_minor, currency: 'EUR', memo: 'invoice 1042', ...extra } });
}
