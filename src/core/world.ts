import { randomBytes } from 'node:crypto';

/** The clock and id source, injected so that decision code stays deterministic. */
export interface World {
  now(): number; // epoch milliseconds
  newId(): string; // opaque unique id
  newTraceId(): string; // 32 lowercase hex chars, W3C trace-id
}

/**
 * A UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then random bits.
 * Time-ordered ids land at the right edge of the indexes that hold them, so
 * an insert touches the same few pages instead of a random one each time.
 */
export function uuidv7(nowMs: number = Date.now()): string {
  const b = randomBytes(16);
  b.writeUIntBE(nowMs, 0, 6);
  b[6] = ((b[6] as number) & 0x0f) | 0x70; // version 7
  b[8] = ((b[8] as number) & 0x3f) | 0x80; // variant 10
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

export const systemWorld: World = {
  now: () => Date.now(),
  newId: () => uuidv7(),
  newTraceId: () => randomBytes(16).toString('hex'),
};

/**
 * A World whose clock stands still at `nowMs`, with counter ids: what
 * `mandate test` runs each case in, so that a case means the same thing on
 * every run (a TTL or an effective period ends exactly where the case says).
 */
export function fixedWorld(nowMs: number, prefix = 'test'): World {
  let ids = 0;
  let traces = 0;
  return {
    now: () => nowMs,
    newId: () => `${prefix}-${String(++ids).padStart(6, '0')}`,
    newTraceId: () => (++traces).toString(16).padStart(32, '0'),
  };
}
