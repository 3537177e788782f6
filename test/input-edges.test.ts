/**
 * Hostile input at the edges gets a structured refusal with a proper reason
 * code, never INTERNAL_ERROR, -32603 or a stack in the log; a too-long stdio
 * line is refused and the server keeps serving; names an agent chose reach
 * the log only hashed; and a revoked viewer key's open /events stream ends
 * at its revocation.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isInternalError, outcomeOf, RawStdio, type RpcAnswer } from '../scripts/torture/raw-stdio.js';
import { CLI, E2E, runCli, transfer } from './helpers/e2e.js';
import { configureHttp, createKey, openSse, startHttp, type HttpServer } from './helpers/http.js';

const e2e = new E2E();
let ws: string;
let raw: RawStdio;
let n = 0;

beforeAll(async () => {
  ws = await e2e.workspace();
  raw = await RawStdio.start(CLI, ws, 'alice', 'info');
});
afterAll(async () => {
  await raw?.close();
  await e2e.cleanup();
});

/** Sends a tools/call with the arguments written as raw JSON text (so `1e400` stays what the wire says). */
async function callRaw(tool: string, argumentsJson: string): Promise<RpcAnswer> {
  const id = `edge-${++n}`;
  await raw.send(`{"jsonrpc":"2.0","id":"${id}","method":"tools/call","params":{"name":"${tool}","arguments":${argumentsJson}}}`);
  return raw.answer(id);
}

function expectSchemaInvalid(a: RpcAnswer, path: RegExp): void {
  expect(isInternalError(a), JSON.stringify(a).slice(0, 500)).toBe(false);
  const o = outcomeOf(a);
  expect(o?.['verdict']).toBe('rejected');
  expect(o?.['reasons']).toEqual(['SCHEMA_INVALID']);
  expect((o?.['details'] as { path: string }[])[0]?.path).toMatch(path);
}

describe('structured refusals for hostile tool arguments', () => {
  it('params nested 3,000 deep: SCHEMA_INVALID naming the depth, no INTERNAL_ERROR', async () => {
    let deep = '1';
    for (let i = 0; i < 3000; i++) deep = `{"a":${deep}}`;
    const a = await callRaw('invoke_capability', `{"capability":"payments.transfer","params":{"x":${deep}}}`);
    expectSchemaInvalid(a, /^params\.x\.a/);
    expect(JSON.stringify(outcomeOf(a))).toContain('nested deeper than 64 levels');
  });

  it('a number like 1e400 in params, and ttl_seconds: 1e400: SCHEMA_INVALID (not PAYLOAD_TOO_LARGE)', async () => {
    const p = JSON.stringify(transfer()).replace('1550', '1e400');
    expectSchemaInvalid(await callRaw('invoke_capability', `{"capability":"payments.transfer","params":${p}}`), /^params\.amount_minor$/);
    expectSchemaInvalid(await callRaw('submit_intent', `{"capability":"payments.transfer","params":${JSON.stringify(transfer())},"ttl_seconds":1e400}`), /^ttl_seconds$/);
  });

  it('arguments that are not an object: SCHEMA_INVALID on every tool, not -32603 with a zod dump', async () => {
    for (const tool of ['invoke_capability', 'submit_intent', 'read_memory', 'get_decision', 'payments_transfer']) {
      for (const args of ['[1,2]', '"text"', '42', 'true']) {
        const a = await callRaw(tool, args);
        expect(a.error, `${tool} ${args}: ${JSON.stringify(a)}`).toBeUndefined();
        expectSchemaInvalid(a, /^\(arguments\)$/);
        expect((outcomeOf(a)?.['details'] as { message: string }[])[0]?.message).toMatch(/^arguments must be a JSON object/);
      }
    }
  });

  it('a logging/setLevel without a valid level: -32602 naming the field, not -32603 with a zod dump', async () => {
    for (const [id, params] of [['level-missing', '{}'], ['level-bad', '{"level":"loud"}']] as const) {
      await raw.send(`{"jsonrpc":"2.0","id":"${id}","method":"logging/setLevel","params":${params}}`);
      const a = await raw.answer(id);
      expect(isInternalError(a), JSON.stringify(a)).toBe(false);
      expect(a.error?.code).toBe(-32602);
      expect(a.error?.message).toMatch(/^Invalid params for logging\/setLevel: level: Invalid option/);
    }
    expect((await raw.request('logging/setLevel', { level: 'info' }, 'level-ok')).result).toEqual({});
  });

  it('a list with a cursor that is not a string: -32602 naming the field, on every list', async () => {
    for (const method of ['tools/list', 'resources/list', 'resources/templates/list']) {
      const id = `cursor-${method}`;
      await raw.send(JSON.stringify({ jsonrpc: '2.0', id, method, params: { cursor: 5 } }));
      const a = await raw.answer(id);
      expect(isInternalError(a), JSON.stringify(a)).toBe(false);
      expect(a.error?.code).toBe(-32602);
      expect(a.error?.message).toMatch(new RegExp(`^Invalid params for ${method}: cursor: `));
    }
  });

  it('nothing above left a stack or an error line in the log', () => {
    const lines = raw.stderr().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { level: number; err?: unknown });
    expect(lines.filter((l) => l.level >= 50)).toEqual([]);
    expect(raw.stderr()).not.toMatch(/stack|RangeError|Infinity is not allowed/);
  });
});

describe('stdio message size', () => {
  it('a line over 10 MB is refused with an error to its id, and the server keeps serving', async () => {
    const big = `{"jsonrpc":"2.0","id":"too-big","method":"tools/call","params":{"name":"invoke_capability","arguments":{"capability":"payments.transfer","params":{"memo":"${'m'.repeat(11 * 1024 * 1024)}"}}}}`;
    await raw.send(big);
    const refused = await raw.answer('too-big', 30_000);
    expect(refused.error?.code).toBe(-32600);
    expect(refused.error?.message).toMatch(/larger than \d+ bytes; refused/);
    const after = await raw.request('tools/call', { name: 'invoke_capability', arguments: { capability: 'payments.get_balance', params: { account: 'operating' } } }, 'after-big');
    expect(outcomeOf(after)?.['verdict']).toBe('accepted');
    expect(raw.exited).toBeNull();
    expect(raw.stderr()).toContain('stdio message too large; refused');
  });

  it('junk lines get parse errors and change nothing', async () => {
    await raw.send('this is not json');
    await raw.send('{"jsonrpc":"2.0","id":"no-method"}');
    const invalid = await raw.answer('no-method');
    expect(invalid.error?.code).toBe(-32600);
    expect((await raw.request('ping', {}, 'still-alive')).result).toEqual({});
    expect(raw.nullAnswers).toBeGreaterThan(0);
  });
});

describe('agent-chosen names in logs', () => {
  it('an unknown memory scope and an unknown capability reach the log only as hashes', async () => {
    const scope = 'secret-scope-chosen-by-agent';
    const capability = 'agent.chosen-capability-name';
    await callRaw('read_memory', JSON.stringify({ scope }));
    const a = await callRaw('invoke_capability', JSON.stringify({ capability, params: {} }));
    expect(outcomeOf(a)?.['reasons']).toEqual(['CAPABILITY_UNKNOWN']);
    expect(raw.stderr()).toMatch(/"scope":"#[0-9a-f]{16}"/);
    expect(raw.stderr()).not.toContain(scope);
    expect(raw.stderr()).not.toContain(capability);
  });
});

describe('revoked viewer key', () => {
  let http: HttpServer;
  afterAll(() => http?.stop());

  it("its open /events stream is closed at the revocation, and the key opens no new one", async () => {
    const hws = await e2e.workspace();
    configureHttp(hws, { events: { keepalive_ms: 300, poll_ms: 50 } });
    const viewer = await createKey(hws, { operator: 'vera', role: 'viewer' });
    http = await startHttp(hws);
    const stream = await openSse(`${http.url}/events?category=decision,escalation,intervention,system`, { Authorization: `Bearer ${viewer.key}` });
    const revoke = await runCli(['keys', 'revoke', viewer.id, '--as', 'admin', '-w', hws]);
    expect(revoke.code, revoke.stderr).toBe(0);
    await stream.until(() => (stream.comments.includes('credential revoked') ? true : undefined), 10_000, 'the revocation comment');
    // The server ends the response: reading finishes without our abort.
    await expect(stream.until(() => undefined, 5_000, 'the end of the stream')).rejects.toThrow(/stream ended/);
    // And the key opens no new stream.
    const again = await fetch(`${http.url}/events`, { headers: { Authorization: `Bearer ${viewer.key}` } });
    expect(again.status).toBe(401);
  });
});
