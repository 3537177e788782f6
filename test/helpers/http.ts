/**
 * Helpers for the HTTP end-to-end suite: start the BUILT CLI as
 * `mandate serve --http --port 0` on loopback, create keys through the CLI,
 * connect real SDK clients over Streamable HTTP, and read SSE streams with
 * bounded waits. Run `npm run build` first.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport, type StreamableHTTPClientTransportOptions } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { assertBuilt, CALL_TIMEOUT_MS, cleanEnv, CLI, REPO_ROOT, runCli, type Outcome } from './e2e.js';

export interface HttpServer {
  url: string;
  port: number;
  proc: ChildProcess;
  stderr(): string;
  stop(): Promise<void>;
}

const START_TIMEOUT_MS = 20_000;

/** Merges `http` settings into the workspace's mandate.yaml. */
export function configureHttp(workspace: string, http: Record<string, unknown>): void {
  const path = join(workspace, 'mandate.yaml');
  const doc = parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
  const merge = (a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> => {
    const out = { ...a };
    for (const [k, v] of Object.entries(b)) {
      out[k] = v && typeof v === 'object' && !Array.isArray(v) && out[k] && typeof out[k] === 'object' ? merge(out[k] as Record<string, unknown>, v as Record<string, unknown>) : v;
    }
    return out;
  };
  doc['http'] = merge((doc['http'] as Record<string, unknown>) ?? {}, http);
  writeFileSync(path, stringify(doc));
}

/** Starts `mandate serve --http --port 0 -w <ws>` and waits for its "listening on" line. */
export async function startHttp(workspace: string, opts: { args?: string[]; env?: Record<string, string> } = {}): Promise<HttpServer> {
  assertBuilt();
  const proc = spawn(process.execPath, [CLI, 'serve', '--http', '--port', '0', '-w', workspace, '--log-level', 'warn', ...(opts.args ?? [])], {
    cwd: REPO_ROOT,
    env: cleanEnv(opts.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  proc.stderr?.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start in time\nstderr: ${stderr}`)), START_TIMEOUT_MS);
    proc.stdout?.on('data', (c: Buffer) => {
      stdout += c.toString('utf8');
      const m = /listening on (http:\/\/[^\s]+)/.exec(stdout);
      if (m) {
        clearTimeout(timer);
        resolve(m[1] as string);
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}\nstderr: ${stderr}`));
    });
  });
  return {
    url,
    port: Number(new URL(url).port),
    proc,
    stderr: () => stderr,
    stop: () =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
        const kill = setTimeout(() => proc.kill('SIGKILL'), 5_000);
        proc.once('exit', () => {
          clearTimeout(kill);
          resolve();
        });
        proc.kill('SIGTERM');
      }),
  };
}

export interface CreatedKey {
  id: string;
  key: string;
  kind: 'agent' | 'operator';
  principal: string;
  role: string;
}

/** `mandate keys create ... --json`; `env` reaches the store the workspace names (e.g. MANDATE_DATABASE_URL). */
export async function createKey(workspace: string, holder: { agent: string } | { operator: string; role?: 'operator' | 'viewer' }, env?: Record<string, string>): Promise<CreatedKey> {
  const args = 'agent' in holder ? ['--agent', holder.agent] : ['--operator', holder.operator, '--role', holder.role ?? 'operator'];
  const r = await runCli(['keys', 'create', ...args, '--json', '--as', 'test-admin', '-w', workspace], env ? { env } : {});
  if (r.code !== 0) throw new Error(`keys create failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout) as CreatedKey;
}

export interface HttpAgent {
  client: Client;
  transport: StreamableHTTPClientTransport;
  call(name: string, args: Record<string, unknown>): Promise<{ result: CallToolResult; outcome: Outcome; isError: boolean }>;
  close(): Promise<void>;
}

/** A real SDK client over Streamable HTTP, authenticated with `token` (an API key or a JWT). */
export async function httpAgent(url: string, token: string, opts: Partial<StreamableHTTPClientTransportOptions> = {}): Promise<HttpAgent> {
  const transport = new StreamableHTTPClientTransport(new URL(`${url}/mcp`), { requestInit: { headers: { Authorization: `Bearer ${token}` } }, ...opts });
  const client = new Client({ name: 'mandate-http-e2e', version: '0.0.0' });
  await client.connect(transport, { timeout: CALL_TIMEOUT_MS });
  await client.listTools(undefined, { timeout: CALL_TIMEOUT_MS });
  return {
    client,
    transport,
    async call(name, args) {
      const result = (await client.callTool({ name, arguments: args }, undefined, { timeout: CALL_TIMEOUT_MS })) as CallToolResult;
      const outcome = result.structuredContent as unknown as Outcome;
      if (!outcome) throw new Error(`tool ${name} returned no structuredContent: ${JSON.stringify(result)}`);
      return { result, outcome, isError: result.isError === true };
    },
    close: async () => {
      await transport.terminateSession().catch(() => undefined);
      await client.close();
    },
  };
}

/** fetch with a bearer token and a JSON body, bounded in time. */
export async function api(url: string, token: string | null, path: string, init: { method?: string; json?: unknown; headers?: Record<string, string> } = {}): Promise<{ status: number; headers: Headers; body: Record<string, unknown> }> {
  const res = await fetch(`${url}${path}`, {
    method: init.method ?? (init.json !== undefined ? 'POST' : 'GET'),
    headers: { ...(token ? { Authorization: `Bearer ${token}` } : {}), ...(init.json !== undefined ? { 'Content-Type': 'application/json' } : {}), ...init.headers },
    body: init.json !== undefined ? JSON.stringify(init.json) : undefined,
    signal: AbortSignal.timeout(CALL_TIMEOUT_MS),
  });
  const text = await res.text();
  let body: Record<string, unknown> = {};
  try {
    body = text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    body = { text };
  }
  return { status: res.status, headers: res.headers, body };
}

export interface SseMessage {
  id: string | null;
  event: string;
  data: string;
}

/**
 * Reads an SSE response incrementally. `next(pred)` resolves with the first
 * message (or comment) matching `pred`, within a bound.
 */
export class SseReader {
  readonly messages: SseMessage[] = [];
  readonly comments: string[] = [];
  private buffer = '';
  private waiters: (() => void)[] = [];
  private done = false;

  constructor(
    readonly response: Response,
    private readonly controller: AbortController,
  ) {
    void this.pump();
  }

  private async pump(): Promise<void> {
    const reader = (this.response.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        this.buffer += decoder.decode(value, { stream: true });
        let cut;
        while ((cut = this.buffer.indexOf('\n\n')) >= 0) {
          this.parse(this.buffer.slice(0, cut));
          this.buffer = this.buffer.slice(cut + 2);
        }
        this.wake();
      }
    } catch {
      // aborted
    } finally {
      this.done = true;
      this.wake();
    }
  }

  private parse(block: string): void {
    let event = 'message';
    let id: string | null = null;
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) {
        this.comments.push(line.slice(1).trim());
        continue;
      }
      const i = line.indexOf(':');
      const field = i < 0 ? line : line.slice(0, i);
      const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
      if (field === 'event') event = value;
      else if (field === 'id') id = value;
      else if (field === 'data') data.push(value);
    }
    if (data.length || id !== null) this.messages.push({ id, event, data: data.join('\n') });
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Waits until `check` returns a value (checked after every chunk), or fails after `timeoutMs`. */
  async until<T>(check: () => T | undefined, timeoutMs = 10_000, what = 'SSE condition'): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const v = check();
      if (v !== undefined) return v;
      if (this.done) throw new Error(`stream ended before ${what}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  close(): void {
    this.controller.abort();
  }
}

/** Opens an SSE stream with fetch (as the console does: EventSource cannot send headers). */
export async function openSse(url: string, headers: Record<string, string>): Promise<SseReader> {
  const controller = new AbortController();
  const response = await fetch(url, { headers: { Accept: 'text/event-stream', ...headers }, signal: controller.signal });
  if (response.status !== 200) {
    const text = await response.text();
    throw new Error(`SSE ${url} answered ${response.status}: ${text}`);
  }
  return new SseReader(response, controller);
}

/** The ledger event carried by a /events message. */
export interface StreamEvent {
  seq: number;
  type: string;
  category: string;
  agent: string;
  concerns: string;
  decision_id: string | null;
  dfid: string;
  reasons: string[];
  data: Record<string, unknown>;
}

export function streamEvent(m: SseMessage): StreamEvent {
  return JSON.parse(m.data) as StreamEvent;
}

/** A raw HTTP/1.1 request with node:http, so that Host and Content-Length can be anything. */
export function rawRequest(
  url: string,
  opts: { method?: string; path: string; headers?: Record<string, string>; body?: string | Buffer; chunks?: Buffer[] },
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: u.hostname, port: u.port, method: opts.method ?? 'GET', path: opts.path, headers: opts.headers, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('raw request timed out')));
    // The server may answer and close before the whole body is sent (413): that is expected.
    req.on('error', (err) => (/EPIPE|ECONNRESET/.test(String(err)) ? undefined : reject(err)));
    if (opts.chunks) {
      for (const c of opts.chunks) req.write(c);
      req.end();
    } else req.end(opts.body);
  });
}
