import { randomFillSync } from 'node:crypto';

/** The clock and id source, injected so that decision code stays deterministic. */
export interface World {
  now(): number; // epoch milliseconds
  newId(): string; // opaque unique id
  newTraceId(): string; // 32 lowercase hex chars, W3C trace-id
}

// Random bytes are drawn from the CSPRNG in blocks: one call per id costs more than the id's other work.
const POOL_SIZE = 4096;
const pool = Buffer.allocUnsafe(POOL_SIZE);
let poolOffset = POOL_SIZE;

/** `n` fresh random bytes (a view into the pool; copy them before the next call). */
function randomSlice(n: number): Buffer {
  if (poolOffset + n > POOL_SIZE) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const slice = pool.subarray(poolOffset, poolOffset + n);
  poolOffset += n;
  return slice;
}

/**
 * A UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then random bits.
 * Time-ordered ids land at the right edge of the indexes that hold them, so
 * an insert touches the same few pages instead of a random one each time.
 */
export function uuidv7(nowMs: number = Date.now()): string {
  const b = Buffer.from(randomSlice(16));
  b.writeUIntBE(nowMs, 0, 6);
  b[6] = ((b[6] as number) & 0x0f) | 0x70; // version 7
  b[8] = ((b[8] as number) & 0x3f) | 0x80; // variant 10
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/**
 * A W3C trace-id (32 lowercase hex) that sorts by time: 48 bits of Unix
 * milliseconds, then 80 random bits (ADR-047). The DFID indexes the ledger,
 * the decisions and the flow counts, so a time-ordered id lands at their right
 * edge, as a UUIDv7 does, instead of dirtying a random page of each per call.
 * The right half stays random, as W3C Trace Context level 2 asks of the
 * rightmost 7 bytes; it is never all zeros, since the clock is not.
 */
export function timeOrderedTraceId(nowMs: number = Date.now()): string {
  return nowMs.toString(16).padStart(12, '0').slice(-12) + randomSlice(10).toString('hex');
}

/** A W3C span-id (parent-id): 16 random lowercase hex, never all zeros. */
export function newSpanId(): string {
  for (;;) {
    const id = randomSlice(8).toString('hex');
    if (id !== '0000000000000000') return id;
  }
}

export const systemWorld: World = {
  now: () => Date.now(),
  newId: () => uuidv7(),
  newTraceId: () => timeOrderedTraceId(),
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
