import { randomBytes, randomUUID } from 'node:crypto';

/** The clock and id source, injected so that decision code stays deterministic. */
export interface World {
  now(): number; // epoch milliseconds
  newId(): string; // opaque unique id
  newTraceId(): string; // 32 lowercase hex chars, W3C trace-id
}

export const systemWorld: World = {
  now: () => Date.now(),
  newId: () => randomUUID(),
  newTraceId: () => randomBytes(16).toString('hex'),
};
