import { describe, expect, it } from 'vitest';
import { uuidv7 } from '../../src/core/world.js';

describe('system world ids', () => {
  it('uuidv7 is an RFC 9562 version-7 id whose first 48 bits are the time, so ids sort by creation time', () => {
    const a = uuidv7(1_795_000_000_000);
    const b = uuidv7(1_795_000_000_001);
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(parseInt(a.replace(/-/g, '').slice(0, 12), 16)).toBe(1_795_000_000_000);
    expect(a < b).toBe(true);
    expect(new Set(Array.from({ length: 1000 }, () => uuidv7(1)))).toHaveProperty('size', 1000);
  });
});
