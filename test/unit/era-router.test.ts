import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import { describe, expect, it } from 'vitest';
import { EraMux, eraOf, type Era, type LaneTransport } from '../../src/mcp/era-router.js';

const ENVELOPE = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28', 'io.modelcontextprotocol/clientCapabilities': {} };
const modern = (id: number, method = 'tools/list') => ({ jsonrpc: '2.0', id, method, params: { _meta: ENVELOPE } }) as JSONRPCMessage;
const legacy = (id: number, method = 'initialize') => ({ jsonrpc: '2.0', id, method, params: {} }) as JSONRPCMessage;

/** A connection whose messages the test pushes in, as one read of stdin would deliver them. */
class FakeConnection implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;
  sent: JSONRPCMessage[] = [];
  async start(): Promise<void> {}
  async send(message: JSONRPCMessage): Promise<void> {
    this.sent.push(message);
  }
  async close(): Promise<void> {
    this.onclose?.();
  }
  push(...messages: JSONRPCMessage[]): void {
    for (const m of messages) this.onmessage?.(m);
  }
}

function mux() {
  const conn = new FakeConnection();
  const got: Record<Era, unknown[]> = { legacy: [], modern: [] };
  const opened: Era[] = [];
  const lanes = new Map<Era, LaneTransport>();
  const m = new EraMux(conn, (era, lane) => {
    opened.push(era);
    lanes.set(era, lane);
    // The server listens a little later, as server.connect does.
    setTimeout(() => {
      lane.onmessage = (msg) => got[era].push((msg as { id?: unknown }).id ?? 'answer');
      void lane.start();
    }, 5);
  });
  return { conn, got, opened, lanes, m };
}

const settle = () => new Promise((r) => setTimeout(r, 20));

describe('eraOf', () => {
  it('only the 2026 _meta envelope claims the modern era; a bare server/discover stays legacy', () => {
    expect(eraOf(modern(1))).toBe('modern');
    expect(eraOf(modern(1, 'server/discover'))).toBe('modern');
    expect(eraOf({ jsonrpc: '2.0', id: 1, method: 'server/discover', params: {} })).toBe('legacy');
    expect(eraOf(legacy(1))).toBe('legacy');
    expect(eraOf(null)).toBe('legacy');
  });
});

describe('EraMux (one stdio connection, both eras)', () => {
  it('messages read in one chunk, before the server listens, all reach it in order', async () => {
    const { conn, got, m } = mux();
    await m.start();
    conn.push(modern(0, 'server/discover'), modern(1), modern(2, 'tools/call'));
    await settle();
    expect(got.modern).toEqual([0, 1, 2]);
  });

  it('a discover and an initialize sent back to back each reach the server of their era, each started once', async () => {
    const { conn, got, opened, m } = mux();
    await m.start();
    conn.push(modern(0, 'server/discover'), legacy(1), modern(2), legacy(3, 'tools/list'));
    await settle();
    expect(opened).toEqual(['modern', 'legacy']);
    expect(got).toEqual({ modern: [0, 2], legacy: [1, 3] });
  });

  it('an answer goes to the 2025 server, the only one that asks; with none, it is dropped', async () => {
    const { conn, got, opened, m } = mux();
    await m.start();
    conn.push({ jsonrpc: '2.0', id: 9, result: {} } as JSONRPCMessage);
    await settle();
    expect(opened).toEqual([]);
    conn.push(legacy(1), { jsonrpc: '2.0', id: 'srv-1', result: {} } as JSONRPCMessage);
    await settle();
    expect(got.legacy).toEqual([1, 'srv-1']);
  });

  it('the end of the connection closes every lane and resolves closed', async () => {
    const { conn, lanes, m } = mux();
    await m.start();
    conn.push(legacy(1), modern(2));
    await settle();
    const closedLanes: Era[] = [];
    for (const [era, lane] of lanes) lane.onclose = () => closedLanes.push(era);
    await conn.close();
    await m.closed;
    expect(closedLanes.sort()).toEqual(['legacy', 'modern']);
  });
});
