/**
 * The Ollama adapter of the Normalizer port (src/core/normalizer.ts), over the
 * official `ollama` npm client. Every call is deterministic as far as the
 * server allows (temperature 0, a fixed seed), bounded in tokens, time and
 * response size, and never throws: failures come back as `ok: false` with a
 * message that holds no request text.
 *
 * The client is given our own `fetch`, which adds the deadline (the client's
 * non-streaming calls take no AbortSignal), caps the response body, and turns
 * HTTP errors into exceptions before the client sees them. The last point
 * matters on stdio: the client's error path `console.log`s for non-JSON error
 * bodies, and stdout belongs to the MCP protocol.
 */
import { Ollama } from 'ollama';
import type { NormalizerConfig } from '../config/workspace-schema.js';
import { hashOf } from '../core/canonical.js';
import type { ChallengeInput, ModelReply, NormalizeInput, Normalizer } from '../core/normalizer.js';
import { challengeMessages, normalizeMessages, proposalFormat, REVIEW_FORMAT, type ChatMessage } from './prompt.js';

/** Largest response body read from the model server (the model's output is bounded by max_tokens anyway). */
export const MAX_RESPONSE_BYTES = 1_048_576;

type Fetch = typeof fetch;

/** A non-2xx answer from the model server. Its body is never read: it could echo the request. */
export class ModelServerError extends Error {
  constructor(readonly status: number) {
    super(`HTTP ${status}`);
    this.name = 'ModelServerError';
  }
}

class ResponseTooLarge extends Error {
  constructor() {
    super(`the model server's answer is larger than ${MAX_RESPONSE_BYTES} bytes`);
    this.name = 'ResponseTooLarge';
  }
}

/** A fetch for the ollama client: deadline, error statuses thrown early, bounded body. */
export function guardedFetch(base: Fetch, signal: AbortSignal): Fetch {
  return async (input, init) => {
    const res = await base(input, { ...init, signal });
    if (!res.ok) {
      await res.body?.cancel().catch(() => undefined);
      throw new ModelServerError(res.status);
    }
    const body = await readBounded(res, MAX_RESPONSE_BYTES);
    return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
  };
}

async function readBounded(res: Response, max: number): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > max) {
      await reader.cancel().catch(() => undefined);
      throw new ResponseTooLarge();
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** A short, content-free description of why a call failed. */
export function describeFailure(err: unknown, ctx: { host: string; model: string; timeoutMs: number; timedOut: boolean; cancelled: boolean }): string {
  if (ctx.timedOut) return `no answer from ${ctx.host} within ${ctx.timeoutMs} ms (normalizer.timeout_ms)`;
  if (ctx.cancelled) return 'the call was cancelled';
  if (err instanceof ModelServerError) {
    return err.status === 404 ? `HTTP 404 from ${ctx.host}: is model \`${ctx.model}\` pulled? (ollama pull ${ctx.model}; mandate doctor)` : `HTTP ${err.status} from ${ctx.host}`;
  }
  if (err instanceof ResponseTooLarge) return err.message;
  if (err instanceof SyntaxError) return `${ctx.host} answered with something that is not an Ollama response`;
  const code = (err as { cause?: { code?: unknown } })?.cause?.code;
  if (typeof code === 'string') return `cannot reach ${ctx.host} (${code})`;
  return `call to ${ctx.host} failed (${(err as Error)?.name ?? 'error'})`;
}

export class OllamaNormalizer implements Normalizer {
  constructor(
    private readonly cfg: NormalizerConfig,
    private readonly fetchImpl: Fetch = fetch,
  ) {}

  normalize(input: NormalizeInput): Promise<ModelReply> {
    return this.chat(this.cfg.route, normalizeMessages(input.text, input.capabilities), proposalFormat(input.capabilities), this.cfg.max_tokens, input.signal);
  }

  challenge(input: ChallengeInput): Promise<ModelReply> {
    return this.chat(this.cfg.challenger.route, challengeMessages(input), REVIEW_FORMAT, this.cfg.challenger.max_tokens);
  }

  private async chat(route: string, messages: ChatMessage[], format: Record<string, unknown>, maxTokens: number, signal?: AbortSignal): Promise<ModelReply> {
    const model = this.cfg.routes[route] ?? '';
    const options = { temperature: 0, seed: this.cfg.seed, num_predict: maxTokens };
    const prompt_hash = hashOf({ model, messages, format, options });
    const started = performance.now();
    const call = () => ({ model, route, prompt_hash, latency_ms: Math.round(performance.now() - started) });
    const timeout = AbortSignal.timeout(this.cfg.timeout_ms);
    const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
    try {
      const client = new Ollama({ host: this.cfg.host, fetch: guardedFetch(this.fetchImpl, combined) });
      const res = await client.chat({ model, messages, format, options, stream: false });
      const content = (res as { message?: { content?: unknown } } | null)?.message?.content;
      if (typeof content !== 'string') return { ...call(), ok: false, message: `${this.cfg.host} answered without message.content` };
      return { ...call(), ok: true, content, truncated: res.done_reason === 'length' };
    } catch (err) {
      const message = describeFailure(err, { host: this.cfg.host, model, timeoutMs: this.cfg.timeout_ms, timedOut: timeout.aborted, cancelled: !!signal?.aborted });
      return { ...call(), ok: false, message };
    }
  }
}

// ---- mandate doctor ------------------------------------------------------------------

export interface RouteStatus {
  route: string;
  model: string;
  pulled: boolean;
  /** What uses this route: `submit_intent` (normalizer.route) and/or `challenger`. */
  used_by: string[];
}

export interface ProbeResult {
  host: string;
  reachable: boolean;
  /** Why the server could not be listed, when it could not. */
  error?: string | undefined;
  /** Models the server has pulled (`/api/tags`). */
  models: string[];
  routes: RouteStatus[];
  ok: boolean;
}

/** `llama3` and `llama3:latest` name the same model. */
export function canonicalModelName(name: string): string {
  return name.includes(':') ? name : `${name}:latest`;
}

/** Asks the Ollama server which models it has (`GET /api/tags`) and checks every configured route against them. */
export async function probeOllama(cfg: NormalizerConfig, fetchImpl: Fetch = fetch): Promise<ProbeResult> {
  const usedBy = (route: string) => [...(route === cfg.route ? ['submit_intent'] : []), ...(cfg.challenger.enabled && route === cfg.challenger.route ? ['challenger'] : [])];
  const timeout = AbortSignal.timeout(cfg.timeout_ms);
  let models: string[] = [];
  let error: string | undefined;
  try {
    const client = new Ollama({ host: cfg.host, fetch: guardedFetch(fetchImpl, timeout) });
    const list = await client.list();
    if (!Array.isArray(list?.models)) throw new SyntaxError('no models array');
    models = list.models.flatMap((m) => [m.name, m.model]).filter((n): n is string => typeof n === 'string');
  } catch (err) {
    error = describeFailure(err, { host: cfg.host, model: '', timeoutMs: cfg.timeout_ms, timedOut: timeout.aborted, cancelled: false });
  }
  const have = new Set(models.map(canonicalModelName));
  const routes = Object.entries(cfg.routes).map(([route, model]) => ({ route, model, pulled: error === undefined && have.has(canonicalModelName(model)), used_by: usedBy(route) }));
  const needed = routes.filter((r) => r.used_by.length);
  return {
    host: cfg.host,
    reachable: error === undefined,
    ...(error !== undefined ? { error } : {}),
    models: [...new Set(models)].sort(),
    routes,
    ok: error === undefined && routes.every((r) => r.pulled) && needed.length > 0,
  };
}
