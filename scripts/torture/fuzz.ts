/**
 * Fuzzing: tool arguments and raw protocol input, over stdio (one long-lived
 * server, pipelined lines) and over HTTP (POST /mcp in one session, plus
 * junk requests). Counts crashes (the server gone), INTERNAL_ERROR or -32603
 * answers, HTTP 5xx, requests never answered, and error-level log lines.
 */
import { randomInt } from 'node:crypto';
import { isInternalError, RawStdio, type RpcAnswer } from './raw-stdio.js';
import { AGENT, CLI, errorLogLines, startHttp } from './workspace.js';

export interface FuzzFigures {
  channel: 'stdio' | 'http';
  inputs: number;
  answered: number;
  internalErrors: number;
  http5xx: number;
  unanswered: number;
  crashes: number;
  errorLogLines: number;
  /** The first few unstructured answers, cut short, to say what failed. */
  samples: string[];
}

const TOOLS = ['invoke_capability', 'submit_intent', 'read_memory', 'get_decision', 'intervene', 'list_capabilities', 'payments_transfer', 'payments_get_balance', 'nope'];
const KEYS = ['capability', 'params', 'text', 'rationale', 'idempotency_key', 'ttl_seconds', 'created_at', 'observed_version', 'mandate', 'scope', 'key', 'pack', 'decision_id', 'wait_seconds', 'action', 'agent', 'dfid', 'reason', '__proto__', 'constructor', 'from_account', 'payee', 'amount_minor', 'currency', 'memo', 'account'];
const STRINGS = ['', 'operating', 'acme-supplies', 'payments.transfer', 'EUR', 'suppliers', '../../etc/passwd', '\u0000', '\ud800', '😀'.repeat(50), 'x'.repeat(5000), '1e400', '-0', 'null', '{"a":1}', '<script>', "'; DROP TABLE events; --", 'AKIAABCDEFGHIJKLMNOP'];
/** Number literals as they appear on the wire, including the ones JSON.parse turns into Infinity or -0. */
const NUMBERS = ['0', '-0', '1', '-1', '1550', '9007199254740993', '-9223372036854775808', '1e308', '1e400', '-1e400', '5e-324', '0.1', '1.5', '1E+2', '123456789012345678901234567890'];

const pick = <T>(xs: readonly T[]): T => xs[randomInt(xs.length)] as T;

/** A random JSON value as text, biased towards edge cases; depth-bounded except for a deliberate deep nest. */
function jsonText(depth = 0): string {
  const r = randomInt(100);
  if (r < 3 && depth === 0) {
    const n = randomInt(50, 5000);
    return `${'['.repeat(n)}1${']'.repeat(n)}`;
  }
  if (depth > 4 || r < 35) {
    const s = randomInt(4);
    if (s === 0) return pick(NUMBERS);
    if (s === 1) return JSON.stringify(pick(STRINGS));
    return pick(['null', 'true', 'false']);
  }
  if (r < 55) return `[${Array.from({ length: randomInt(5) }, () => jsonText(depth + 1)).join(',')}]`;
  return objectText(depth + 1);
}

function objectText(depth: number): string {
  const n = randomInt(6);
  return `{${Array.from({ length: n }, () => `${JSON.stringify(pick(KEYS))}:${jsonText(depth)}`).join(',')}}`;
}

/** Plausible arguments for a tool, each field replaced by a random value now and then. */
function argumentsText(): string {
  const r = randomInt(10);
  if (r === 0) return jsonText();
  const fields: Record<string, string> = {
    capability: JSON.stringify(pick(['payments.transfer', 'payments.get_balance', 'files.write', 'x'])),
    params: `{"from_account":${randomInt(4) ? '"operating"' : jsonText(2)},"payee":${randomInt(4) ? '"acme-supplies"' : jsonText(2)},"amount_minor":${randomInt(3) ? String(randomInt(1, 10)) : pick(NUMBERS)},"currency":${randomInt(4) ? '"EUR"' : jsonText(2)}}`,
  };
  for (const k of KEYS) if (randomInt(8) === 0) fields[k] = jsonText(1);
  return `{${Object.entries(fields)
    .filter(() => randomInt(10) > 0)
    .map(([k, v]) => `${JSON.stringify(k)}:${v}`)
    .join(',')}}`;
}

/** One tools/call (or another method) line; `intact` when its id can be relied on for an answer. */
function messageText(id: string): { text: string; intact: boolean } {
  const r = randomInt(100);
  if (r < 60) return { text: `{"jsonrpc":"2.0","id":"${id}","method":"tools/call","params":{"name":"${pick(TOOLS)}","arguments":${argumentsText()}${randomInt(5) === 0 ? `,"_meta":${jsonText(1)}` : ''}}}`, intact: true };
  if (r < 70) return { text: `{"jsonrpc":"2.0","id":"${id}","method":"${pick(['tools/list', 'resources/list', 'resources/read', 'prompts/list', 'ping', 'logging/setLevel', 'x/y'])}","params":${randomInt(2) ? objectText(1) : '{}'}}`, intact: true };
  // Text mutations of a valid call: cut, flipped bytes, inserted junk.
  const base = `{"jsonrpc":"2.0","id":"${id}","method":"tools/call","params":{"name":"invoke_capability","arguments":${argumentsText()}}}`;
  const m = randomInt(4);
  if (m === 0) return { text: base.slice(0, randomInt(base.length)), intact: false };
  if (m === 1) {
    const b = Buffer.from(base);
    for (let i = 0; i < 1 + randomInt(4); i++) b[randomInt(b.length)] = randomInt(256);
    return { text: b.toString('latin1').replace(/\n/g, ' '), intact: false };
  }
  if (m === 2) {
    const at = randomInt(base.length);
    return { text: base.slice(0, at) + jsonText() + base.slice(at), intact: false };
  }
  return { text: jsonText(), intact: false };
}

/** Fuzzes one stdio server with `inputs` lines, in pipelined batches. */
export async function fuzzStdio(dir: string, inputs: number): Promise<FuzzFigures> {
  const f: FuzzFigures = { channel: 'stdio', inputs: 0, answered: 0, internalErrors: 0, http5xx: 0, unanswered: 0, crashes: 0, errorLogLines: 0, samples: [] };
  let raw = await RawStdio.start(CLI, dir, AGENT, 'warn');
  const seen = new Set<string | number>();
  const count = (a: RpcAnswer) => {
    f.answered++;
    if (isInternalError(a)) {
      f.internalErrors++;
      if (f.samples.length < 5) f.samples.push(JSON.stringify(a).slice(0, 300));
    }
  };
  const BATCH = 200;
  let n = 0;
  while (f.inputs < inputs) {
    const intact: string[] = [];
    for (let i = 0; i < BATCH && f.inputs < inputs; i++, f.inputs++) {
      const id = `f${++n}`;
      const m = messageText(id);
      if (m.intact) intact.push(id);
      await raw.send(m.text);
    }
    await raw.send(`{"jsonrpc":"2.0","id":"sync-${n}","method":"ping"}`);
    for (const id of [`sync-${n}`, ...intact]) {
      try {
        await raw.answer(id, 30_000);
      } catch {
        f.unanswered++;
        if (raw.exited) break;
      }
    }
    for (const [id, a] of raw.answers) {
      if (seen.has(id)) continue;
      seen.add(id);
      count(a);
    }
    if (raw.exited) {
      // A crash: count it, keep the stderr figure, and go on with a fresh server.
      f.crashes++;
      f.errorLogLines += errorLogLines(raw.stderr());
      raw = await RawStdio.start(CLI, dir, AGENT, 'warn');
      seen.clear();
    }
  }
  f.answered += raw.nullAnswers;
  await raw.close();
  f.errorLogLines += errorLogLines(raw.stderr());
  return f;
}

/** The JSON-RPC answers in an HTTP body (one, or a batch); none if it is not JSON. */
function answersOf(text: string): RpcAnswer[] {
  try {
    const v = JSON.parse(text) as RpcAnswer | RpcAnswer[];
    return Array.isArray(v) ? v : [v];
  } catch {
    return [];
  }
}

/** Fuzzes one HTTP server: mutated messages in an initialised session, and junk requests. */
export async function fuzzHttp(dir: string, key: string, inputs: number, concurrency = 8): Promise<FuzzFigures> {
  const f: FuzzFigures = { channel: 'http', inputs: 0, answered: 0, internalErrors: 0, http5xx: 0, unanswered: 0, crashes: 0, errorLogLines: 0, samples: [] };
  const h = await startHttp(dir, ['--json-response']);
  const mcp = `${h.url}/mcp`;
  const headers = { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' };
  const init = await fetch(mcp, { method: 'POST', headers, body: JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'fuzz', version: '0' } } }) });
  const session = init.headers.get('mcp-session-id') ?? '';
  await init.text();
  await fetch(mcp, { method: 'POST', headers: { ...headers, 'mcp-session-id': session, 'mcp-protocol-version': '2025-06-18' }, body: '{"jsonrpc":"2.0","method":"notifications/initialized"}' }).then((r) => r.text());
  let n = 0;
  const one = async () => {
    const id = `h${++n}`;
    const r = randomInt(100);
    const m = messageText(id);
    let req: { method: string; headers: Record<string, string>; body?: string; path: string };
    if (r < 80) req = { method: 'POST', path: '/mcp', headers: { ...headers, 'mcp-session-id': session, 'mcp-protocol-version': '2025-06-18' }, body: m.text };
    else if (r < 85) req = { method: 'POST', path: '/mcp', headers: { ...headers, 'mcp-session-id': pick([session, 'nope', '']) }, body: `[${m.text},${m.text}]` };
    else if (r < 90) req = { method: pick(['GET', 'DELETE', 'PUT', 'POST']), path: pick(['/mcp', '/events', '/api/v1/decisions', '/api/v1/approvals/x/approve', '/console', '/%2e%2e/', '/metrics']), headers: { Authorization: pick([`Bearer ${key}`, 'Bearer x', 'Basic y', '']) }, body: undefined };
    else if (r < 95) req = { method: 'POST', path: '/mcp', headers: { ...headers, 'Content-Type': pick(['text/plain', 'application/json; charset=latin1', '']), 'mcp-session-id': session }, body: m.text };
    else req = { method: 'POST', path: '/mcp', headers: { ...headers, 'mcp-session-id': session }, body: jsonText() };
    try {
      const abort = new AbortController();
      const timer = setTimeout(() => abort.abort(), 30_000);
      const res = await fetch(`${h.url}${req.path}`, { method: req.method, headers: req.headers, body: req.method === 'GET' ? undefined : req.body, signal: abort.signal });
      // A stream (GET /events, GET /mcp) stays open: its status is the answer.
      const streaming = res.headers.get('content-type')?.includes('text/event-stream');
      const text = streaming ? '' : await res.text();
      if (streaming) abort.abort();
      clearTimeout(timer);
      f.answered++;
      if (res.status >= 500) f.http5xx++;
      if (answersOf(text).some(isInternalError)) {
        f.internalErrors++;
        if (f.samples.length < 5) f.samples.push(`${req.method} ${req.path} ${(req.body ?? '').slice(0, 150)} -> ${text.slice(0, 150)}`);
      }
    } catch {
      f.unanswered++;
    }
  };
  while (f.inputs < inputs) {
    const batch = Math.min(concurrency, inputs - f.inputs);
    f.inputs += batch;
    await Promise.all(Array.from({ length: batch }, one));
    if (h.proc.exitCode !== null || h.proc.signalCode !== null) {
      f.crashes++;
      break;
    }
  }
  h.proc.kill('SIGTERM');
  await new Promise((r) => (h.proc.exitCode !== null ? r(undefined) : h.proc.once('exit', r)));
  f.errorLogLines += errorLogLines(h.stderr());
  return f;
}
