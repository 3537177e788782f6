/**
 * A real SDK client as an agent's client for the gateway tests (ADR-013): it
 * answers sampling, elicitation and roots the same way whoever asks, and
 * keeps the log messages and resource updates it receives. Also
 * server-everything over Streamable HTTP on a free local port.
 */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ListRootsRequestSchema,
  LoggingMessageNotificationSchema,
  ResourceUpdatedNotificationSchema,
  ToolListChangedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { EVERYTHING_SERVER, NODE } from './gateway.js';

export const ROOTS = [{ uri: 'file:///srv/project', name: 'project' }];

/** A client that answers sampling, elicitation and roots the same way, whoever asks. */
export interface Peer {
  client: Client;
  sampled: number;
  elicited: number;
  logs: Record<string, unknown>[];
  updates: string[];
  /** tools/list_changed notifications received. */
  toolListChanged: number;
}

export function answering(client: Client): Peer {
  const peer: Peer = { client, sampled: 0, elicited: 0, logs: [], updates: [], toolListChanged: 0 };
  client.setRequestHandler(CreateMessageRequestSchema, () => {
    peer.sampled++;
    return { model: 'stub-model', role: 'assistant', content: { type: 'text', text: 'a sampled answer' }, stopReason: 'endTurn' };
  });
  client.setRequestHandler(ElicitRequestSchema, () => {
    peer.elicited++;
    return { action: 'accept', content: { name: 'Ada', check: true, firstLine: 'Lovelace', email: 'ada@example.com', integer: 7, number: 3.5, untitledSingleSelectEnum: 'option1', titledSingleSelectEnum: 'value1', legacyTitledEnum: 'opt1', untitledMultipleSelectEnum: ['option1'], titledMultipleSelectEnum: ['value1'] } };
  });
  client.setRequestHandler(ListRootsRequestSchema, () => ({ roots: ROOTS }));
  client.setNotificationHandler(LoggingMessageNotificationSchema, (n) => void peer.logs.push(n.params as Record<string, unknown>));
  client.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => void peer.updates.push(n.params.uri));
  client.setNotificationHandler(ToolListChangedNotificationSchema, () => void peer.toolListChanged++);
  return peer;
}

/** A result without its top-level `_meta` (Mandate adds its outcome or access record there). */
export function bare<T extends object>(r: T): Omit<T, '_meta'> {
  const { _meta: _ignored, ...rest } = r as T & { _meta?: unknown };
  return rest;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

/** server-everything over Streamable HTTP on a free port of 127.0.0.1. */
export async function everythingOverHttp(): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(NODE, [EVERYTHING_SERVER, 'streamableHttp'], { env: { ...process.env, PORT: String(port) }, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server-everything did not start: ${err}`)), 15_000);
    child.stderr?.on('data', (c: Buffer) => {
      err += c.toString();
      if (err.includes('listening')) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  return { url: `http://127.0.0.1:${port}/mcp`, child };
}

