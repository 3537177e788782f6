import { describe, expect, it } from 'vitest';
import { resolveDfid } from '../../src/kernel/dfid.js';
import { newSpanId, systemWorld, timeOrderedTraceId, uuidv7 } from '../../src/core/world.js';

describe('system world ids', () => {
  it('uuidv7 is an RFC 9562 version-7 id whose first 48 bits are the time, so ids sort by creation time', () => {
    const a = uuidv7(1_795_000_000_000);
    const b = uuidv7(1_795_000_000_001);
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(parseInt(a.replace(/-/g, '').slice(0, 12), 16)).toBe(1_795_000_000_000);
    expect(a < b).toBe(true);
    expect(new Set(Array.from({ length: 1000 }, () => uuidv7(1)))).toHaveProperty('size', 1000);
  });

  it('a minted dfid is a W3C trace-id whose first 48 bits are the time and whose 80 others are random, so dfids sort by creation time', () => {
    const a = timeOrderedTraceId(1_795_000_000_000);
    const b = timeOrderedTraceId(1_795_000_000_001);
    expect(a).toMatch(/^[0-9a-f]{32}$/);
    expect(parseInt(a.slice(0, 12), 16)).toBe(1_795_000_000_000);
    expect(a < b).toBe(true);
    // Within one millisecond only the random half tells them apart.
    const same = Array.from({ length: 1000 }, () => timeOrderedTraceId(1));
    expect(new Set(same).size).toBe(1000);
    expect(new Set(same.map((id) => id.slice(12))).size).toBe(1000);
    // What the kernel mints when a call brings no traceparent is one of these, and a traceparent can carry it.
    const { dfid, inherited } = resolveDfid(undefined, systemWorld);
    expect(inherited).toBe(false);
    expect(Math.abs(parseInt(dfid.slice(0, 12), 16) - Date.now())).toBeLessThan(60_000);
    expect(resolveDfid(`00-${dfid}-${newSpanId()}-01`, systemWorld)).toEqual({ dfid, inherited: true });
  });

  it('a span id is 16 random lowercase hex, never all zeros', () => {
    const ids = Array.from({ length: 1000 }, () => newSpanId());
    for (const id of ids) expect(id).toMatch(/^(?!0{16})[0-9a-f]{16}$/);
    expect(new Set(ids).size).toBe(1000);
  });
});
