import { describe, expect, it } from 'vitest';
import { resolveDfid } from '../../src/kernel/dfid.js';
import { driftBetween } from '../../src/kernel/drift.js';
import { FakeWorld } from './helpers.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT = '00f067aa0ba902b7';

describe('resolveDfid', () => {
  it('takes the trace-id of a valid traceparent without minting', () => {
    const w = new FakeWorld();
    expect(resolveDfid(`00-${TRACE}-${PARENT}-01`, w)).toEqual({ dfid: TRACE, inherited: true });
    expect(resolveDfid(`  00-${TRACE}-${PARENT}-00  `, w)).toEqual({ dfid: TRACE, inherited: true });
    expect(w.mintedTraceIds).toBe(0);
  });

  it.each([
    ['missing', undefined],
    ['empty', ''],
    ['garbage', 'not-a-traceparent'],
    ['uppercase hex', `00-${TRACE.toUpperCase()}-${PARENT}-01`],
    ['short trace-id', `00-${TRACE.slice(1)}-${PARENT}-01`],
    ['all-zero trace-id', `00-${'0'.repeat(32)}-${PARENT}-01`],
    ['all-zero parent-id', `00-${TRACE}-${'0'.repeat(16)}-01`],
    ['wrong version', `01-${TRACE}-${PARENT}-01`],
    ['version ff', `ff-${TRACE}-${PARENT}-01`],
    ['extra fields', `00-${TRACE}-${PARENT}-01-extra`],
  ])('mints a fresh dfid from the World for a %s traceparent', (_name, tp) => {
    const w = new FakeWorld();
    const r = resolveDfid(tp, w);
    expect(r.inherited).toBe(false);
    expect(r.dfid).toMatch(/^[0-9a-f]{32}$/);
    expect(r.dfid).not.toBe(TRACE);
    expect(w.mintedTraceIds).toBe(1);
    expect(r.dfid).toBe(new FakeWorld().newTraceId()); // exactly the World's id, deterministic
  });
});

describe('driftBetween', () => {
  it('lets a numeric field move within its tolerance and reports a move beyond it', () => {
    expect(driftBetween({ price: 100 }, { price: 102 }, { price: 2 })).toEqual([]);
    expect(driftBetween({ price: 100 }, { price: 98 }, { price: 2 })).toEqual([]);
    expect(driftBetween({ price: 100 }, { price: 102.5 }, { price: 2 })).toEqual(['price']);
    expect(driftBetween({ price: 100 }, { price: 97 }, { price: 2 })).toEqual(['price']);
  });

  it('without a tolerance any numeric change is drift', () => {
    expect(driftBetween({ balance: 100 }, { balance: 100 }, {})).toEqual([]);
    expect(driftBetween({ balance: 100 }, { balance: 101 }, {})).toEqual(['balance']);
  });

  it('reports any change in a non-numeric field, even one given a tolerance', () => {
    expect(driftBetween({ version: '7', blocked: false }, { version: '8', blocked: false }, { version: 5 })).toEqual(['version']);
    expect(driftBetween({ blocked: false }, { blocked: true }, {})).toEqual(['blocked']);
    expect(driftBetween({ tags: ['a', 'b'] }, { tags: ['b', 'a'] }, {})).toEqual(['tags']);
    expect(driftBetween({ o: { a: 1, b: 2 } }, { o: { b: 2, a: 1 } }, {})).toEqual([]); // canonical: key order does not matter
    expect(driftBetween({ n: 1 }, { n: '1' }, { n: 10 })).toEqual(['n']); // a type change is drift
  });

  it('reports added and removed fields, sorted', () => {
    expect(driftBetween({ a: 1, z: 'x' }, { a: 1, m: true }, {})).toEqual(['m', 'z']);
    expect(driftBetween({}, { price: 1 }, { price: 100 })).toEqual(['price']);
    expect(driftBetween({ price: 1 }, {}, { price: 100 })).toEqual(['price']);
  });
});
