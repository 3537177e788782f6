import { describe, expect, it } from 'vitest';
import { jsonProblem, MAX_JSON_DEPTH } from '../../src/core/json-guard.js';

const nest = (n: number): unknown => {
  let v: unknown = 1;
  for (let i = 0; i < n; i++) v = { a: v };
  return v;
};

describe('jsonProblem', () => {
  it('accepts ordinary JSON, up to the depth limit', () => {
    expect(jsonProblem({ a: [1, 'x', null, true, { b: -0.5 }] })).toBeNull();
    expect(jsonProblem(nest(MAX_JSON_DEPTH))).toBeNull();
  });

  it('names a non-finite number by its path', () => {
    expect(jsonProblem(JSON.parse('{"params":{"amount":1e400}}'))).toEqual({ path: 'params.amount', message: expect.stringMatching(/number out of range/) });
    expect(jsonProblem({ list: [1, -Infinity] })?.path).toBe('list.1');
    expect(jsonProblem(Number.NaN)?.path).toBe('(arguments)');
  });

  it('refuses deep nesting, even 100,000 levels, without overflowing the stack; the path is cut short', () => {
    const deep = JSON.parse(`${'['.repeat(100_000)}${']'.repeat(100_000)}`) as unknown;
    const p = jsonProblem(deep);
    expect(p?.message).toBe(`nested deeper than ${MAX_JSON_DEPTH} levels`);
    expect(p?.path.length).toBeLessThanOrEqual(201);
    expect(jsonProblem(nest(MAX_JSON_DEPTH + 1))?.message).toMatch(/nested deeper/);
  });
});
