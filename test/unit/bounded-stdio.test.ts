import { PassThrough, Writable } from 'node:stream';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it } from 'vitest';
import { BoundedStdioTransport } from '../../src/mcp/stdio-transport.js';

function setup(max = 100) {
  const stdin = new PassThrough();
  const stdout = new PassThrough();
  const refused: number[] = [];
  const t = new BoundedStdioTransport(max, stdin, stdout, (bytes) => refused.push(bytes));
  const got: JSONRPCMessage[] = [];
  t.onmessage = (m) => got.push(m);
  let out = '';
  stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
  const answers = () => out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { id: unknown; error?: { code: number } });
  return { t, stdin, got, refused, answers };
}
const tick = () => new Promise((r) => setImmediate(r));

describe('BoundedStdioTransport', () => {
  it('delivers one message per line, across chunk boundaries', async () => {
    const { t, stdin, got } = setup();
    await t.start();
    stdin.write('{"jsonrpc":"2.0","id":1,"me');
    stdin.write('thod":"ping"}\n{"jsonrpc":"2.0","method":"x"}\r\n\n');
    await tick();
    expect(got).toEqual([{ jsonrpc: '2.0', id: 1, method: 'ping' }, { jsonrpc: '2.0', method: 'x' }]);
  });

  it('refuses an oversized line with an error to its id and keeps reading the next ones', async () => {
    const { t, stdin, got, refused, answers } = setup(100);
    await t.start();
    stdin.write(`{"jsonrpc":"2.0","id":"big","method":"ping","params":{"x":"${'y'.repeat(80)}`);
    stdin.write(`${'y'.repeat(500)}"}}\n{"jsonrpc":"2.0","id":2,"method":"ping"}\n`);
    await tick();
    expect(refused).toHaveLength(1);
    expect(answers()).toEqual([{ jsonrpc: '2.0', id: 'big', error: { code: -32600, message: 'message larger than 100 bytes; refused' } }]);
    expect(got).toEqual([{ jsonrpc: '2.0', id: 2, method: 'ping' }]);
  });

  it('answers a line that is not JSON, or not JSON-RPC, and closes at the end of input', async () => {
    const { t, stdin, got, answers } = setup();
    let closed = false;
    t.onclose = () => (closed = true);
    await t.start();
    stdin.write('nope\n{"id":5}\n');
    await tick();
    expect(answers().map((a) => [a.id, a.error?.code])).toEqual([
      [null, -32700],
      [5, -32600],
    ]);
    expect(got).toEqual([]);
    stdin.end();
    await tick();
    expect(closed).toBe(true);
  });
});

describe('BoundedStdioTransport when the client goes away', () => {
  it('a write that fails with EPIPE closes the session and reports the error, instead of an uncaught exception; later sends resolve', async () => {
    const stdin = new PassThrough();
    const stdout = new Writable({
      write(_chunk, _enc, cb) {
        cb(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
      },
    });
    const t = new BoundedStdioTransport(100, stdin, stdout);
    const errors: string[] = [];
    let closed = 0;
    t.onerror = (e) => errors.push(e.message);
    t.onclose = () => closed++;
    await t.start();
    await t.send({ jsonrpc: '2.0', id: 1, result: {} });
    await tick();
    expect(errors).toEqual(['write EPIPE']);
    expect(closed).toBe(1);
    await t.send({ jsonrpc: '2.0', id: 2, result: {} });
    expect(closed).toBe(1);
  });
});
